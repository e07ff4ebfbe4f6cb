// Analyst workspace on the officer page (SPEC §14): search, incident view with timeline, charts, downloads.
// Works with app.js through window.HUB. All report data goes in with textContent (never innerHTML);
// charts are SVG drawn here (no library, nothing from the internet).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const H = () => window.HUB;
  const t = (k, args) => H().t(k, args);
  const C = window.HUB_COMMON;
  const lang = () => H().S.lang;
  const el = (...a) => H().el(...a);
  const A = { tab: "feed", next: null, q: "", results: [], incident: null, stats: null };

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  async function api(path, params) {
    const S = H().S;
    if (!S.me) throw new Error(t("signed_out"));
    const qs = new URLSearchParams(Object.entries(params || {}).filter(([, v]) => v !== "" && v !== null && v !== undefined && v !== false));
    const r = await HUB_COMMON.api(S.token, "GET", `/v1/feeds/${encodeURIComponent(S.me.state)}/${path}${qs.size ? "?" + qs : ""}`);
    if (r.status === 401) { H().signOut(); throw new Error("signed out"); }
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).detail || `HTTP ${r.status}`);
    return r;
  }
  const json = async (path, params) => (await api(path, params)).json();

  function filters() {
    return { kind: $("f-kind").value, tlp: $("f-tlp").value, unacknowledged: $("f-unacked").checked ? "true" : "",
      substance: $("f-substance").value, country: $("f-country").value.trim().toUpperCase() };
  }

  // what the screen shows, as export parameters: the feed tab its received reports under the filters,
  // the search tab the search (every page of it) under the filters, the incident tab the incident's
  // reports under the filters, the charts tab the reports counted (filters and date range)
  function selection() {
    if (A.tab === "search") return { q: A.q, ...filters() };
    if (A.tab === "incident" && A.incident) return { incident: A.incident.label || A.incident.incident_id, ...filters() };
    if (A.tab === "charts") return { from: A.from || "", to: A.to || "", ...filters() };
    // the table shows the feed's received reports under the filters, like the feed tab
    return { direction: "received", ...filters() };
  }

  // ---- tabs ------------------------------------------------------------------------------------
  // ARIA tabs: the selected tab is the one tab stop of the tab list; ←/→, Home/End move between tabs
  function showTab(tab, focus) {
    A.tab = tab;
    for (const b of document.querySelectorAll("#tabs .tab")) {
      const on = b.dataset.tab === tab;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    $("feed-pane").hidden = tab !== "feed";
    $("search-pane").hidden = tab !== "search";
    $("incident-pane").hidden = tab !== "incident";
    $("charts-pane").hidden = tab !== "charts";
    $("table-pane").hidden = tab !== "table";
    if (tab === "charts" && !A.stats) loadStats();
    if (tab === "table") renderTable();
    checkLag();
  }

  // ---- search and statistics behind the feed -------------------------------------------------
  // They come from the analyst projection, which follows the feed on its own (GET /v1/projections):
  // on the search and charts tabs a polite note says when it is more than LAG_S behind the feed, or
  // not running, so the officer knows the newest reports may be missing there. Checked every 5 s
  // while one of those tabs is open.
  const LAG_S = 5;
  let lagTimer = null;
  function lagText(p) {
    if (!p) return "";
    const feeds = p.find((x) => x.projection === "feeds"), an = p.find((x) => x.projection === "analyst");
    if (!feeds) return ""; // nothing known about the feed: nothing to compare with
    if (!an || !an.running || an.lag_seconds === null) return t("lag_stopped");
    const s = an.behind_feed_seconds || 0;
    if (s <= LAG_S) return "";
    const [n, unit] = s < 90 ? [Math.round(s), "second"] : s < 5400 ? [Math.round(s / 60), "minute"] : [Math.round(s / 3600), "hour"];
    return t("lag_behind", { t: new Intl.NumberFormat(C.locale(lang()), { style: "unit", unit, unitDisplay: "long" }).format(n) });
  }
  function showLag() {
    const note = $("lag-note");
    const text = A.tab === "search" || A.tab === "charts" ? lagText(A.projections) : "";
    if (note.textContent !== text) note.textContent = text;
    note.hidden = !text;
  }
  async function checkLag() {
    clearTimeout(lagTimer);
    showLag();
    const S = H() && H().S;
    if (!S || !S.me || (A.tab !== "search" && A.tab !== "charts")) return;
    try {
      const r = await C.api(S.token, "GET", "/v1/projections");
      A.projections = r.ok ? (await r.json()).projections : null;
    } catch (e) { A.projections = null; } // unknown: say nothing
    showLag();
    lagTimer = setTimeout(checkLag, 5000);
  }

  // ---- labels of the incidents (readable ids) --------------------------------------------------
  let labelTimer = null;
  async function refreshLabels() {
    try {
      const page = await json("incidents", { limit: 500 });
      const changed = page.incidents.filter((i) => H().labels.get(i.incident_id) !== i.label);
      for (const i of changed) H().labels.set(i.incident_id, i.label);
      H().refreshHeads(changed.map((i) => i.incident_id)); // only those: 10,000 heads rewritten cost a relayout
    } catch (e) { /* the list still works with the ids */ }
  }
  function soon() { clearTimeout(labelTimer); labelTimer = setTimeout(refreshLabels, 1500); }

  function tabKeys(e) {
    const tabs = [...document.querySelectorAll("#tabs .tab:not([hidden])")];
    const at = tabs.indexOf(e.target);
    if (at < 0) return;
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    showTab(tabs[(to + tabs.length) % tabs.length].dataset.tab, true);
  }

  // ---- search ----------------------------------------------------------------------------------
  function asView(r) {
    // a sent report (our own receipt) shown in the same detail view as feed items
    if (r.direction === "sent") {
      const rec = r.item;
      return { ...r, item_id: r.receipt_id, delivery: "sent", item: { ...rec, enrichment: { risk_score: "—", risk_reasons: [],
        containers: [], substance_totals: [], party_names: [], entity_links: [], watchlist_hits: [], prior_reports: [],
        also_reported_by: [] }, routing: { reason: t("our_report"), recipients: (rec.recipients || []).map((x) => x.recipient),
        redacted: false } } };
    }
    return r;
  }

  function resultRow(r) {
    const v = asView(r);
    const sent = r.direction === "sent";
    // why it was found: the fields and the words around the match (as written in the report)
    const why = (r.why || []).map((w) => el("span", { class: "why-part" },
      el("span", { class: "why-field" }, `${t(`why_${w.field}`)}: `), el("mark", {}, w.text)));
    const row = el("li", { class: "item result" + (v.acknowledged ? " acked" : ""), "data-item": v.item_id, tabIndex: 0 },
      ...H().rowParts(v, sent ? "sent" : null, sent ? "sent" : null).filter(Boolean),
      el("button", { class: "link incident-link", type: "button", title: t("open_incident") }, r.incident_label),
      ...(why.length ? [el("span", { class: "why" }, `${t("found_in")} `, ...why)] : []));
    row.addEventListener("click", (e) => {
      if (e.target.classList.contains("incident-link")) { openIncident(r.incident_id); return; }
      H().show(v, row);
    });
    row.addEventListener("keydown", (e) => {
      if (e.target !== row) return;
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); H().show(v, row); }
    });
    return row;
  }

  function renderSearch() {
    const pane = $("search-pane");
    if (A.results === null) { pane.replaceChildren(el("p", { class: "muted" }, t("searching"))); return; }
    // the page's filters (substance and country included) are search parameters: the server applies them
    const list = el("ul", { class: "items" }, ...A.results.map(resultRow));
    const more = A.next ? el("button", { type: "button", id: "search-more" }, t("more")) : null;
    if (more) more.addEventListener("click", () => search(A.q, A.next));
    pane.replaceChildren(
      el("p", { class: "search-summary", id: "search-summary" },
        A.results.length ? `${H().plural(A.results.length, "result")}${A.next ? "+" : ""} · «${A.q}»` : t("no_results")),
      el("section", { class: "incident results" }, list), ...(more ? [more] : []));
  }

  async function search(q, cursor) {
    A.q = q; showTab("search");
    if (!cursor) { A.results = null; renderSearch(); }
    const asked = A.searchSeq = (A.searchSeq || 0) + 1; // only the newest question's answer is shown
    let page;
    try { page = await json("search", { q, ...filters(), limit: 25, cursor }); } catch (e) { page = null; }
    if (asked !== A.searchSeq) return; // a later search (other words, filters) was asked meanwhile
    if (page) { A.results = (cursor ? A.results : []).concat(page.results); A.next = page.next; } else { A.results = []; A.next = null; }
    renderSearch();
  }

  // ---- incident view ---------------------------------------------------------------------------
  function section(title, ...content) { return el("div", { class: "block" }, el("h3", {}, t(title)), ...content); }
  function listOf(items, fmt) {
    if (!items || !items.length) return el("p", { class: "muted" }, t("none"));
    return el("ul", {}, ...items.map((x) => el("li", {}, ...[].concat(fmt(x)))));
  }
  const when = (iso) => C.exact(iso, lang());
  const num = (n) => C.num(n, lang());

  function renderIncident() {
    const d = A.incident, pane = $("incident-pane");
    if (!d) { pane.replaceChildren(); return; }
    const shortId = (rid) => rid.slice(0, 12) + "…";
    const timeline = el("ol", { class: "timeline", id: "timeline" }, ...d.timeline.map((e) => el("li", { class: `ev ${e.event}` },
      C.time(e.at, lang(), true), el("strong", {}, t(`ev_${e.event}`)),
      el("span", {}, [e.kind && t(`KIND_${e.kind}`), e.agency, e.place, e.delivery && t(e.delivery), e.by, e.recipients && e.recipients.join(", ")]
        .filter(Boolean).join(" · ")),
      el("span", { class: "muted rid" }, H().reportLink(e.report_id, shortId(e.report_id)), ` v${e.version}`))));
    // the page's filters apply here too (as the server applies them to the incident's export)
    const views = d.report_list.map((r) => ({ ...r, incident_id: d.incident_id, incident_label: d.label,
      item_id: r.item.item_id, receipt_id: r.item.receipt_id }));
    const kept = views.filter((r) => H().matches(asView(r)) && !(r.direction === "sent" && $("f-unacked").checked));
    const reports = el("ul", { class: "items" }, ...kept.map(resultRow));
    const filtered = kept.length < views.length ? el("p", { class: "muted", id: "incident-filtered" },
      t("filtered_out", { shown: kept.length, all: views.length })) : null;
    pane.replaceChildren(
      el("div", { class: "incident-card card", "data-incident": d.incident_id },
        el("h2", { id: "incident-label" }, `${t("incident")} ${d.label}`),
        el("p", { class: "muted" }, `${d.incident_id}`),
        el("div", { class: "facts" },
          el("span", {}, H().plural(d.reports, "report")),
          el("span", {}, `${H().plural(d.seizures, "seizure")} · ${H().plural(d.alerts, "alert")}`),
          el("span", {}, C.quantity(d.kg, "KG", lang())),
          el("span", {}, `${t("first_event")}: ${when(d.first_event)}`),
          el("span", {}, `${t("last_event")}: ${when(d.last_event)}`),
          el("span", {}, `${t("agencies")}: ${d.agencies.join(", ")}`)),
        section("timeline", timeline),
        section("shared_identifiers", listOf(d.shared_identifiers, (i) => [el("strong", {}, `${t(`id_${i.type}`)}: ${i.value}`),
          ` — ${H().plural(i.reports.length, "report")} · ${t("written_as")} ${i.written.join(" / ")}`])),
        section("parties", listOf(d.parties, (p) => [el("strong", {}, p.latin), ` (${p.names.join(" / ")}) · ${p.roles.join(", ")}`
          + (p.countries.length ? ` · ${p.countries.join(", ")}` : "") + ` · ${H().plural(p.reports.length, "report")}`])),
        section("substance_totals", listOf(d.substance_totals, (s) => `${t(`SUB_${s.type}`)}: ` +
          [...(s.kg || !Object.keys(s.other_units || {}).length ? [C.quantity(s.kg, "KG", lang())] : []),
            ...Object.entries(s.other_units || {}).map(([u, q]) => C.quantity(q, u, lang()))].join(" + ") + ` · ${H().plural(s.reports, "report")}`)),
        section("locations", listOf(d.locations, (l) => `${when(l.event_time)} · ${t(`KIND_${l.kind}`)} · ${[l.place, l.country].filter(Boolean).join(", ")}`)),
        section("routes", listOf(d.routes, (r) => `${r.points.join(" → ")} · ${H().plural(r.reports.length, "report")}`)),
        section("reports", ...[filtered, el("section", { class: "incident results" }, reports)].filter(Boolean))));
  }

  async function openIncident(id) {
    try { A.incident = await json(`incidents/${encodeURIComponent(id)}`); } catch (e) { console.log(`incident ${id}: ${e.message}`); return; }
    H().labels.set(A.incident.incident_id, A.incident.label);
    $("tabs").querySelector('[data-tab="incident"]').hidden = false;
    renderIncident(); showTab("incident", true);
  }

  // ---- table view: the feed's reports one per row, sortable, paged ------------------------------
  const PAGE = 50;
  const T = { key: "received", desc: true, page: 0 };
  const COLS = [
    ["received", (v) => v.item.routed_at || ""], ["event", (v) => v.item.report.event_time || ""],
    ["kind", (v) => t(`KIND_${v.item.report.kind}`)], ["tlp", (v) => ["CLEAR", "GREEN", "AMBER", "AMBER_STRICT", "RED"].indexOf(v.item.report.tlp)],
    ["handling", (v) => v.item.report.handling_code || ""], ["agency", (v) => v.item.report.agency || ""],
    ["place", (v) => { const l = v.item.report.location; return l ? [l.country, l.place].filter(Boolean).join(" ") : ""; }],
    ["substances", (v) => (v.item.report.substances || []).map((x) => t(`SUB_${x.type}`)).join(", ")],
    ["risk", (v) => Number((v.item.enrichment || {}).risk_score) || 0],
  ];
  const shortFmt = {};
  function short(iso) { // "07.12.2026, 09:21" — the exact time (UTC) in the title
    if (!iso) return "—";
    const f = shortFmt[lang()] || (shortFmt[lang()] = new Intl.DateTimeFormat(lang(), { dateStyle: "short", timeStyle: "short", timeZone: "UTC" }));
    return el("time", { dateTime: iso, title: C.exact(iso, lang()) }, f.format(new Date(iso)));
  }
  function cell(key, v) {
    const r = v.item.report, e = v.item.enrichment || {};
    if (key === "received") return short(v.item.routed_at);
    if (key === "event") return short(r.event_time);
    if (key === "tlp") return el("span", { class: `badge tlp ${r.tlp}` }, t(`TLP_${r.tlp}`));
    if (key === "substances") return (r.substances || []).map((x) => `${t(`SUB_${x.type}`)} ${C.quantity(x.quantity, x.unit, lang())}`).join(", ") || "—";
    if (key === "risk") return C.text(e.risk_score);
    return String(COLS.find((c) => c[0] === key)[1](v) || "—");
  }
  function tableRows() {
    const get = COLS.find((c) => c[0] === T.key)[1];
    const views = [...H().S.items.values()].filter((v) => v.direction !== "sent" && v.delivery !== "sent" && H().matches(v));
    const cmp = (a, b) => { const x = get(a), y = get(b); return x < y ? -1 : x > y ? 1 : a.item_id < b.item_id ? -1 : 1; };
    views.sort((a, b) => (T.desc ? -cmp(a, b) : cmp(a, b)));
    return views;
  }
  function renderTable() {
    const pane = $("table-pane");
    if (pane.hidden) return;
    const views = tableRows();
    const pages = Math.max(1, Math.ceil(views.length / PAGE));
    T.page = Math.min(T.page, pages - 1);
    const head = el("tr", {}, ...COLS.map(([key]) => {
      const arrow = el("span", {}, T.key === key ? (T.desc ? " ▼" : " ▲") : "");
      arrow.setAttribute("aria-hidden", "true");
      const b = el("button", { type: "button", class: "sort", "data-sort": key }, t(`col_${key}`), arrow);
      b.addEventListener("click", () => { T.desc = T.key === key ? !T.desc : key === "received" || key === "event" || key === "risk"; T.key = key; T.page = 0; renderTable(); $("table-pane").querySelector(`[data-sort="${key}"]`).focus(); });
      const th = el("th", { scope: "col" }, b);
      th.setAttribute("aria-sort", T.key === key ? (T.desc ? "descending" : "ascending") : "none");
      return th;
    }));
    const body = el("tbody", {}, ...views.slice(T.page * PAGE, (T.page + 1) * PAGE).map((v) => {
      const tr = el("tr", { "data-item": v.item_id, tabIndex: 0 }, ...COLS.map(([key]) => el("td", { class: `c-${key}` }, cell(key, v))));
      const open = () => H().show(v, tr);
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
      return tr;
    }));
    const nav = (label, to, on) => { const b = el("button", { type: "button", id: `table-${label}` }, t(label)); b.disabled = !on; b.addEventListener("click", () => { T.page = to; renderTable(); }); return b; };
    pane.replaceChildren(
      el("div", { class: "table-wrap" }, el("table", { class: "items-table", id: "items-table" },
        el("caption", { class: "sr-only" }, t("tab_table")), el("thead", {}, head), body)),
      el("div", { class: "pager" }, nav("previous", T.page - 1, T.page > 0),
        el("span", { id: "table-page" }, t("page_of", { page: T.page + 1, pages, n: views.length })),
        nav("next", T.page + 1, T.page + 1 < pages)));
  }

  // ---- a report named by a link -----------------------------------------------------------------
  // opened when this state holds it; otherwise the link says so — and nothing more (the hub answers
  // 404 alike for another state's report and a made-up id)
  async function openReport(rid, link) {
    let r;
    try { r = await api(`reports/${encodeURIComponent(rid)}`); } catch (e) {
      const note = el("span", { class: "not-held", "data-report": rid }, `${rid} — ${t("not_in_feed")}`);
      note.setAttribute("role", "status");
      if (link && link.isConnected) { link.replaceWith(note); }
      return;
    }
    H().show(asView(await r.json()), link);
  }

  // ---- charts ----------------------------------------------------------------------------------
  const DIMS = ["substance", "month", "crossing_point", "route_country", "agency"];
  function chartControls() {
    const by = el("select", { id: "chart-by" }, ...DIMS.map((d) => el("option", { value: d }, t(`by_${d}`))));
    const measure = el("select", { id: "chart-measure" }, el("option", { value: "reports" }, t("measure_reports")),
      el("option", { value: "kg" }, t("measure_kg")));
    // dates as the interface language writes them (not the browser's locale), sent as ISO
    const from = C.dateInput("chart-from", A.from, lang()), to = C.dateInput("chart-to", A.to, lang());
    const hint = C.dateFormat(lang()).hint;
    for (const input of [from, to]) {
      input.setAttribute("aria-describedby", "chart-date-error");
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); loadStats(); } });
    }
    const go = el("button", { type: "button", id: "chart-show", class: "primary" }, t("show"));
    if (A.stats) { by.value = A.stats.by; measure.value = A.measure || "reports"; }
    go.addEventListener("click", loadStats);
    measure.addEventListener("change", () => { A.measure = measure.value; renderCharts(); });
    by.addEventListener("change", loadStats);
    return el("div", { class: "chart-controls" },
      el("label", {}, el("span", {}, t("stats_by")), by), el("label", {}, el("span", {}, t("measure")), measure),
      el("label", {}, el("span", {}, `${t("from")} (${hint})`), from), el("label", {}, el("span", {}, `${t("to")} (${hint})`), to), go,
      el("p", { id: "chart-date-error", class: "error", role: "status" }, ""));
  }

  const fmt = (n) => num(n);
  // a bucket's key as shown: months as "Dec 2026" (never "26-12"), substance types translated
  const keyText = (by, key) => (by === "month" ? C.month(key, lang()) : by === "substance" ? t(`SUB_${key}`) : key);

  // drawn at the width it is shown at (so its 12 px texts stay 12 px on a phone): 320 to 900 units
  const chartWidth = () => Math.max(320, Math.min(900, ($("charts-pane").clientWidth || 640) - 24));

  function barChart(buckets, measure, vertical, by) {
    const values = buckets.map((b) => b[measure]);
    const max = Math.max(1e-9, ...values);
    if (vertical) { // months: a time series
      const W = chartWidth(), H0 = 240, pad = 34, bw = Math.max(8, Math.min(48, (W - pad * 2) / Math.max(1, buckets.length) - 6));
      const root = svg("svg", { viewBox: `0 0 ${W} ${H0 + 40}`, class: "chart", role: "img", "data-bars": buckets.length,
        "aria-label": `${t("stats_by")} ${t(`by_${by}`)}: ${buckets.map((b) => `${keyText(by, b.key)} ${fmt(b[measure])}`).join(", ")}` });
      root.append(svg("line", { x1: pad, y1: H0, x2: W - 8, y2: H0, class: "axis" }));
      buckets.forEach((b, i) => {
        const h = (b[measure] / max) * (H0 - 30), x = pad + i * (bw + 6);
        const g = svg("g", { class: "bar" });
        g.append(svg("rect", { x, y: H0 - h, width: bw, height: h }), svg("title", {}, `${keyText(by, b.key)}: ${fmt(b[measure])}`),
          svg("text", { x: x + bw / 2, y: H0 - h - 4, "text-anchor": "middle", class: "value" }, fmt(b[measure])),
          svg("text", { x: x + bw / 2, y: H0 + 16, "text-anchor": "middle", class: "key" }, keyText(by, b.key)));
        root.append(g);
      });
      return root;
    }
    const W = chartWidth(), row = 26, labelW = Math.min(230, Math.round(W * 0.36)), barW = W - labelW - 70;
    const root = svg("svg", { viewBox: `0 0 ${W} ${buckets.length * row + 8}`, class: "chart", role: "img", "data-bars": buckets.length,
        "aria-label": `${t("stats_by")} ${t(`by_${by}`)}: ${buckets.map((b) => `${keyText(by, b.key)} ${fmt(b[measure])}`).join(", ")}` });
    buckets.forEach((b, i) => {
      const w = Math.max(1, (b[measure] / max) * barW), y = i * row + 4;
      const g = svg("g", { class: "bar" });
      const k = keyText(by, b.key);
      g.append(svg("text", { x: labelW - 8, y: y + 16, "text-anchor": "end", class: "key" }, k.length > labelW / 7 ? k.slice(0, Math.floor(labelW / 7) - 1) + "…" : k),
        svg("rect", { x: labelW, y, width: w, height: row - 8 }), svg("title", {}, `${k}: ${fmt(b[measure])}`),
        svg("text", { x: labelW + w + 6, y: y + 15, class: "value" }, fmt(b[measure])));
      root.append(g);
    });
    return root;
  }

  function renderCharts() {
    const pane = $("charts-pane");
    const s = A.stats;
    const measure = A.measure || "reports";
    const body = !s ? el("p", { class: "muted" }, "…") : !s.buckets.length ? el("p", { class: "muted" }, t("no_data")) :
      barChart(s.by === "month" ? s.buckets : [...s.buckets].sort((x, y) => y[measure] - x[measure] || (x.key < y.key ? -1 : 1))
        .slice(0, 20), measure, s.by === "month", s.by);
    pane.replaceChildren(...[chartControls(),
      s ? el("p", { class: "chart-total", id: "chart-total" }, `${t("total")}: ${H().plural(s.total.reports, "report")} · ${C.quantity(s.total.kg, "KG", lang())}`) : null,
      el("div", { class: "chart-box", id: "chart" }, body)].filter(Boolean));
  }

  async function loadStats() {
    const by = $("chart-by") ? $("chart-by").value : "substance";
    const from = $("chart-from") ? C.parseDate($("chart-from").value, lang()) : A.from || "";
    const to = $("chart-to") ? C.parseDate($("chart-to").value, lang()) : A.to || "";
    if (from === null || to === null) { // no such date: say how to write one, keep what was typed
      const bad = from === null ? $("chart-from") : $("chart-to");
      bad.setAttribute("aria-invalid", "true");
      $("chart-date-error").textContent = t("bad_date", { format: C.dateFormat(lang()).hint });
      bad.focus();
      return;
    }
    A.from = from; A.to = to;
    const asked = A.statsSeq = (A.statsSeq || 0) + 1; // an earlier, slower answer never replaces a newer one
    let stats;
    try { stats = await json("stats", { by, from: A.from, to: A.to, ...filters() }); } catch (e) { stats = { by, buckets: [], total: { reports: 0, kg: 0 } }; }
    if (asked !== A.statsSeq) return;
    A.stats = stats;
    renderCharts();
  }

  // ---- downloads -------------------------------------------------------------------------------
  async function download(fmt) {
    if (!H().S.me) return; // nothing to export before sign-in
    try {
      const r = await api(`export.${fmt}`, selection());
      const blob = await r.blob();
      A.lastExport = blob; // what was saved (the browser tests read it back)
      const name = (r.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
      const a = el("a", { href: URL.createObjectURL(blob), download: name ? name[1] : `export.${fmt}` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      document.body.dataset.lastExport = fmt; // for the browser test
      document.body.dataset.lastExportName = name ? name[1] : "";
    } catch (e) { alert(`${t("export_failed")}: ${e.message}`); }
  }

  // ---- wiring ----------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    for (const b of document.querySelectorAll("#tabs .tab")) b.addEventListener("click", () => showTab(b.dataset.tab));
    $("tabs").addEventListener("keydown", tabKeys);
    for (const b of document.querySelectorAll("[data-export]")) b.addEventListener("click", () => download(b.dataset.export));
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); const q = $("q").value.trim(); search(q); });
    // the filters apply to every tab: the search and the charts ask again, the incident is shown again
    const refilter = () => {
      if (A.tab === "search") search(A.q);
      else if (A.tab === "charts") loadStats();
      else if (A.tab === "incident") renderIncident();
      else if (A.tab === "table") renderTable();
    };
    for (const id of ["f-kind", "f-tlp", "f-unacked", "f-substance"]) $(id).addEventListener("input", refilter);
    // a country code counts once it is whole (or cleared)
    $("f-country").addEventListener("input", (e) => { if (e.target.value.trim().length !== 1) refilter(); });
  });
  document.addEventListener("hub:signed-in", () => { refreshLabels(); showTab("feed"); });
  document.addEventListener("hub:item", soon);
  document.addEventListener("hub:item", () => { if (A.tab === "table") { clearTimeout(A.tableTimer); A.tableTimer = setTimeout(renderTable, 300); } });
  document.addEventListener("hub:open-incident", (e) => openIncident(e.detail));
  document.addEventListener("hub:open-report", (e) => openReport(e.detail.rid, e.detail.link));
  document.addEventListener("hub:language", () => {
    if (!H() || !H().S.me) return;
    showLag();
    if (A.results && A.tab === "search") renderSearch();
    renderIncident();
    if (A.stats || A.tab === "charts") renderCharts();
    if (A.tab === "table") renderTable();
  });
  window.HUB_ANALYST = { search, openIncident, showTab, loadStats, download, selection, openReport, lagText,
    lastExport: () => A.lastExport };
})();
