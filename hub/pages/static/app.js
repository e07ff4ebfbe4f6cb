// Liaison officer page. Every piece of report data is inserted with textContent (never innerHTML):
// narratives and names are untrusted input.
//
// The list is built incrementally: each item is one <li> made once (and refilled in place when its
// item changes or the language does); each incident one <section>. The backlog is read in JSON pages
// and shown at once; after that, items arriving live gather behind the "N new" bar (announced to
// screen readers) and enter only when the officer asks, so what is being read never moves, and focus,
// selection and scroll position are kept. Keyboard: one tab stop for the whole list (roving
// tabindex), j/k or ↓/↑ move, Enter/Space open the detail (focus goes to it), Esc closes it and
// returns focus to where it was opened from.
"use strict";
(() => {
  const C = window.HUB_COMMON;
  const $ = C.$;
  const el = C.el;
  const S = {
    token: sessionStorage.getItem("hub.token") || "",
    lang: localStorage.getItem("hub.lang") || "en",
    me: null, cursor: 0, items: new Map(), order: [], selected: null, abort: null, pending: [], opener: null,
  };
  const t = C.translator(HUB_TEXT, () => S.lang);
  // "1 report", "2 reports"; "1 сообщение", "3 сообщения", "5 сообщений" (keys word_one/_few/_many/_other)
  const pluralRules = new Map();
  const rules = () => { if (!pluralRules.has(S.lang)) pluralRules.set(S.lang, new Intl.PluralRules(S.lang)); return pluralRules.get(S.lang); };
  const plural = (n, word) => `${C.num(n, S.lang)} ${t(`${word}_${rules().select(n)}`) || t(`${word}_other`)}`;
  const labels = new Map(); // incident id -> readable label (filled by analyst.js from /incidents)
  const groups = new Map(); // incident id -> {section, head, ul, views}
  const rows = new Map(); // item id -> <li>
  const PAGE = 1000;
  const FIRST_PAGE = 200; // the first page of the backlog is smaller: the officer sees items sooner
  // incidents per block of the list: the browser lays out and paints only the blocks near the window
  // (content-visibility), and with 10,000 items it has ~200 blocks to check each frame, not 10,000
  const BLOCK = 50;

  function applyLanguage() {
    C.applyTexts(S.lang, t);
    if (S.me) $("who").textContent = `${t("signed_in_as")} ${S.me.name} (${S.me.state})`;
    if ($("status").dataset.state) $("status").textContent = t($("status").dataset.state);
    for (const o of $("f-substance").options) if (o.value) o.textContent = t(`SUB_${o.value}`);
    render();
    if (S.me) renderDetail();
    newBar();
    document.dispatchEvent(new CustomEvent("hub:language"));
  }

  // ---- sign-in ------------------------------------------------------------------------------
  async function signIn(token) {
    $("signin-error").textContent = "";
    let r;
    try { r = await C.api(token, "GET", "/v1/whoami"); } catch (e) { $("signin-error").textContent = t("unreachable"); return; }
    if (r.status !== 200) { $("signin-error").textContent = t("bad_token"); return; }
    const me = await r.json();
    if (me.kind !== "officer") { $("signin-error").textContent = t("not_officer"); return; }
    S.token = token; S.me = me;
    sessionStorage.setItem("hub.token", token);
    C.showApp();
    applyLanguage();
    document.dispatchEvent(new CustomEvent("hub:signed-in"));
    await backlog();
    follow();
  }

  function signOut() { C.signOut(S, "hub.token"); }

  // ---- the backlog (JSON pages, shown at once), then live (SSE over fetch) -------------------
  async function backlog() {
    for (let limit = FIRST_PAGE; ; limit = PAGE) {
      let r;
      try { r = await C.api(S.token, "GET", `/v1/feeds/${encodeURIComponent(S.me.state)}/items?after=${S.cursor}&limit=${limit}`); }
      catch (e) { return; } // the stream will retry from the cursor
      if (r.status === 401 || r.status === 403) { signOut(); return; }
      if (r.status !== 200) return;
      const page = await r.json();
      for (const v of page.items) { S.cursor = Math.max(S.cursor, v.cursor); receive(v, false); }
      if (page.items.length < limit) return;
    }
  }

  function follow() {
    return C.follow({
      url: `/v1/feeds/${encodeURIComponent(S.me.state)}`, token: () => S.token, cursor: () => S.cursor, retryMs: 2000,
      connected: (abort) => { S.abort = abort; }, onDenied: signOut, onOpen: () => { setStatus("live"); },
      onBlock: handleEvent, onDown: () => { setStatus("reconnecting"); },
    });
  }

  function handleEvent(block) {
    const ev = C.parseEvent(block);
    if (ev.data === null || ev.event === "revoked") return;
    const view = JSON.parse(ev.data);
    if (ev.id) S.cursor = Number(ev.id);
    receive(view, true);
  }

  // an item from the backlog (shown at once) or live (behind the "N new" bar); one already shown is
  // refreshed in place
  function receive(view, live) {
    if (S.items.has(view.item_id)) {
      S.items.set(view.item_id, view);
      const row = rows.get(view.item_id);
      if (row) fillRow(row, view);
      if (S.selected === view.item_id) renderDetail();
    } else if (live) {
      if (!S.pending.some((p) => p.item_id === view.item_id)) S.pending.push(view);
      newBar(true);
    } else {
      place(view);
    }
    document.dispatchEvent(new CustomEvent("hub:item", { detail: view }));
  }

  function setStatus(key) { $("status").textContent = t(key); $("status").dataset.state = key; }

  let announceTimer = null;
  function newBar(announce) {
    const bar = $("new-bar");
    const n = S.pending.length;
    bar.hidden = n === 0;
    bar.textContent = n ? `${t("new_items", { n: plural(n, "report") })} — ${t("show_new")}` : "";
    if (announce && n) {
      clearTimeout(announceTimer);
      announceTimer = setTimeout(() => C.announce(t("new_announce", { n: plural(S.pending.length, "report") })), 600);
    }
  }

  // put the waiting items in the list; focus the newest so the keyboard continues from there
  function showPending() {
    const views = S.pending.splice(0);
    for (const v of views) place(v);
    newBar(false);
    const first = views.length && rows.get(views[views.length - 1].item_id);
    if (first && !first.hidden) { setCurrent(first); first.focus(); }
    $("feed-pane").scrollIntoView({ block: "start" });
    C.announce(t("shown_announce", { n: plural(views.length, "report") }));
  }

  // ---- list ---------------------------------------------------------------------------------
  function addSubstanceOption(type) {
    const sel = $("f-substance");
    if ([...sel.options].some((o) => o.value === type)) return;
    sel.append(el("option", { value: type }, t(`SUB_${type}`)));
  }

  function matches(view) {
    const r = view.item.report;
    const kind = $("f-kind").value, tlp = $("f-tlp").value, sub = $("f-substance").value;
    const country = $("f-country").value.trim().toUpperCase();
    if (kind && r.kind !== kind) return false;
    if (tlp && r.tlp !== tlp) return false;
    if (sub && !(r.substances || []).some((s) => s.type === sub)) return false;
    if (country) {
      const countries = [r.location && r.location.country, r.reporter_state, ...(r.route || []).map((p) => p.country)];
      if (!countries.includes(country)) return false;
    }
    if ($("f-unacked").checked && view.acknowledged) return false;
    return true;
  }

  const substance = (s) => `${t(`SUB_${s.type}`)} ${C.quantity(s.quantity, s.unit, S.lang)}`;
  function summary(r) {
    const subs = (r.substances || []).map(substance).join(", ");
    return subs || (r.risk_indicators || []).join("; ");
  }
  const place_ = (r) => (r.location ? [r.location.country, r.location.place].filter(Boolean).join(" ") : "");

  // the parts of one row of the feed or of search results (analyst.js uses them too)
  function rowParts(v, badgeKey, badgeClass) {
    const r = v.item.report;
    const routed = v.item.routed_at;
    return [
      el("span", { class: `badge delivery ${badgeClass || v.delivery}` }, t(badgeKey || v.delivery)),
      el("span", { class: `badge tlp ${r.tlp}`, title: t(`TLPHINT_${r.tlp}`) }, t(`TLP_${r.tlp}`)),
      el("span", { class: "badge hc", title: t(r.handling_code) }, C.text(r.handling_code)),
      el("strong", { class: "kind" }, t(`KIND_${r.kind}`)),
      el("span", { class: "agency" }, `${C.text(r.agency)} (${C.text(r.reporter_state)})`),
      place_(r) ? el("span", { class: "where" }, place_(r)) : null,
      summary(r) ? el("span", { class: "what" }, summary(r)) : null,
      el("span", { class: "times" }, el("span", { class: "sr-only" }, `${t("event_time")}: `), C.time(r.event_time, S.lang),
        routed ? " · " : null, routed ? `${t("received_short")} ` : null, routed ? C.time(routed, S.lang) : null),
    ];
  }

  function fillRow(row, v) {
    const e = v.item.enrichment || {};
    row.className = "item" + (v.acknowledged ? " acked" : "") + (S.selected === v.item_id ? " selected" : "");
    if (S.selected === v.item_id) row.setAttribute("aria-current", "true"); else row.removeAttribute("aria-current");
    row.replaceChildren(...[...rowParts(v),
      el("span", { class: "risk" }, `${t("risk")}: ${C.text(e.risk_score)}`),
      v.acknowledged ? el("span", { class: "ack-mark" }, "✓ " + t("acknowledged")) : null].filter(Boolean));
    row.hidden = !matches(v);
  }

  function makeRow(v) {
    const row = el("li", { "data-item": v.item_id, tabIndex: -1 });
    row.addEventListener("click", () => open(v.item_id, row, false));
    fillRow(row, v);
    return row;
  }

  function groupOf(incident) {
    let g = groups.get(incident);
    if (g) return g;
    const button = el("button", { type: "button", class: "incident-head", tabIndex: -1, title: incident });
    button.addEventListener("click", () => document.dispatchEvent(new CustomEvent("hub:open-incident", { detail: incident })));
    const head = el("h3", {}, button);
    g = { incident, button, ul: el("ul", { class: "items" }), views: [] };
    g.section = el("section", { class: "incident", "data-incident": incident }, head, g.ul);
    groups.set(incident, g);
    return g;
  }

  // (the text and visibility are set only when they change: a head rewritten with the same text
  // would still make the browser lay the list out again)
  function fillHead(g) {
    const shown = g.views.filter(matches).length;
    const text = `${t("incident")} ${labels.get(g.incident) || g.incident} · ${plural(shown, "report")}`;
    if (g.button.textContent !== text) g.button.textContent = text;
    if (g.section.hidden !== (shown === 0)) g.section.hidden = shown === 0;
  }

  // an incident to the top of the list (newest first): into the first block, a new block when it is full
  function toTop(section) {
    const box = $("incidents");
    let first = box.firstElementChild;
    if (first && first.firstElementChild === section) return;
    const from = section.parentElement;
    if (!first || (first.childElementCount >= BLOCK && from !== first)) {
      first = el("div", { class: "incident-block" });
      box.prepend(first);
    }
    first.prepend(section);
    if (from && from !== first && !from.childElementCount) from.remove();
  }

  // one new item into the list: its row at the end of its incident, the incident first (newest first)
  function place(v) {
    S.items.set(v.item_id, v);
    S.order.push(v.item_id);
    for (const s of v.item.report.substances || []) addSubstanceOption(s.type);
    const g = groupOf(v.incident_id);
    g.views.push(v);
    const row = makeRow(v);
    rows.set(v.item_id, row);
    g.ul.append(row);
    toTop(g.section);
    fillHead(g);
    $("empty").hidden = true;
    // until the officer moves in the list, its tab stop is the top of the list
    if (!S.touched && !g.section.hidden) setCurrent(g.button);
  }

  // every row and head again, in place (filters, language, labels): no node is replaced, so focus stays
  function render() {
    if (!S.me) return;
    for (const g of groups.values()) {
      for (const v of g.views) fillRow(rows.get(v.item_id), v);
      fillHead(g);
    }
    $("empty").hidden = S.items.size > 0;
    const cur = current();
    if (!cur || cur.hidden || (cur.closest("section.incident") || {}).hidden) setCurrent(visible()[0] || null);
  }

  // the heads of these incidents again (all when not given)
  function refreshHeads(ids) {
    if (!ids) { for (const g of groups.values()) fillHead(g); return; }
    for (const id of ids) { const g = groups.get(id); if (g) fillHead(g); }
  }

  // ---- keyboard in the list: one tab stop (roving tabindex) -----------------------------------
  let currentNode = null; // the list's one element with tabindex 0 (kept here: a lookup would scan the list)
  const current = () => (currentNode && currentNode.isConnected ? currentNode : null);
  function setCurrent(node) {
    if (currentNode && currentNode !== node) currentNode.tabIndex = -1;
    currentNode = node;
    if (node) node.tabIndex = 0;
  }
  // the heads and rows a keyboard can reach, in the order shown
  const visible = () => [...$("incidents").querySelectorAll("section.incident:not([hidden]) .incident-head, section.incident:not([hidden]) li.item:not([hidden])")];

  function move(by) {
    const nodes = visible();
    if (!nodes.length) return;
    const at = nodes.indexOf(document.activeElement.closest ? document.activeElement.closest("li.item, .incident-head") : null);
    const from = at >= 0 ? at : nodes.indexOf(current());
    const next = nodes[Math.max(0, Math.min(nodes.length - 1, from + by))];
    setCurrent(next);
    next.focus();
    next.scrollIntoView({ block: "nearest" });
    if (S.selected && next.matches("li.item")) open(next.dataset.item, next, false);
  }

  function listKeys(e) {
    const node = e.target.closest("li.item, .incident-head");
    if (!node) return;
    if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
    else if (e.key === "Home") { e.preventDefault(); move(-1e9); }
    else if (e.key === "End") { e.preventDefault(); move(1e9); }
    else if ((e.key === "Enter" || e.key === " ") && node.matches("li.item")) { e.preventDefault(); open(node.dataset.item, node, true); }
  }

  function typing(target) { return target && (/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable); }

  function pageKeys(e) {
    if (!S.me || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape" && S.selected) { e.preventDefault(); close(); return; }
    if (typing(e.target) || $("feed-pane").hidden) return;
    if (e.key === "j" || e.key === "k") { e.preventDefault(); move(e.key === "j" ? 1 : -1); }
  }

  // ---- detail -------------------------------------------------------------------------------
  function open(itemId, from, focusDetail) {
    const before = S.selected && rows.get(S.selected);
    S.selected = itemId;
    S.opener = from || null;
    if (before) before.classList.remove("selected"), before.removeAttribute("aria-current");
    const row = rows.get(itemId);
    if (row) { row.classList.add("selected"); row.setAttribute("aria-current", "true"); setCurrent(row); }
    renderDetail();
    // on a phone the detail covers the list: it takes the focus, as it does when opened from the keyboard
    if (focusDetail || phone()) $("detail-title").focus();
  }

  function close() {
    const row = S.selected && rows.get(S.selected);
    if (row) row.classList.remove("selected"), row.removeAttribute("aria-current");
    S.selected = null;
    renderDetail();
    const back = (S.opener && S.opener.isConnected && !S.opener.hidden) ? S.opener : row;
    if (back) back.focus();
    S.opener = null;
  }

  const phone = () => window.matchMedia("(max-width: 900px)").matches;

  function field(label, ...value) {
    const shown = value.filter((x) => x !== null && x !== undefined && x !== false && x !== "");
    return el("div", { class: "field" }, el("span", { class: "label" }, t(label)),
      el("span", { class: "value" }, ...(shown.length ? shown : [el("span", { class: "muted" }, "—")])));
  }
  function listOf(items, fmt) {
    if (!items || !items.length) return el("span", { class: "muted" }, t("none"));
    return el("ul", {}, ...items.map((x) => el("li", {}, ...[].concat(fmt(x)))));
  }
  const joined = (...parts) => parts.filter((x) => x !== null && x !== undefined && x !== "").join(" · ");
  // a report id as a link: it opens the report when this state holds it, and says plainly when it
  // does not (the hub answers the same for another state's report as for a made-up id)
  function reportLink(rid, text) {
    const b = el("button", { type: "button", class: "link report-link", "data-report": rid, title: t("open_report") }, text || rid);
    b.addEventListener("click", (e) => { e.stopPropagation(); document.dispatchEvent(new CustomEvent("hub:open-report", { detail: { rid, link: b } })); });
    return b;
  }
  function incidentLink(incident) {
    const b = el("button", { type: "button", class: "link incident-link", title: t("open_incident") },
      labels.get(incident) || incident);
    b.addEventListener("click", (e) => { e.stopPropagation(); document.dispatchEvent(new CustomEvent("hub:open-incident", { detail: incident })); });
    return b;
  }
  // "6 Dec 2026, 02:31:04 UTC (3 hours ago)"
  const whenFull = (iso) => (iso ? [C.time(iso, S.lang, true), " (", C.time(iso, S.lang), ")"] : [el("span", { class: "muted" }, "—")]);

  function renderDetail() {
    const pane = $("detail");
    const v = S.selected && S.items.get(S.selected);
    const focused = pane.contains(document.activeElement) ? document.activeElement.id : null;
    document.body.classList.toggle("detail-open", !!v);
    pane.classList.toggle("open", !!v);
    if (!v) {
      pane.replaceChildren(el("p", { id: "detail-empty", class: "muted" }, t("detail_empty")));
      document.dispatchEvent(new CustomEvent("hub:detail", { detail: null }));
      return;
    }
    const r = v.item.report, e = v.item.enrichment || {}, routing = v.item.routing || {};
    const ev = r.evaluation;
    const acked = !!v.acknowledged;
    const ackButton = el("button", { id: "ack", type: "button", class: "primary" }, acked ? t("acknowledged") : t("acknowledge"));
    ackButton.setAttribute("aria-disabled", acked ? "true" : "false");
    ackButton.addEventListener("click", () => { if (!v.acknowledged) acknowledge(v); });
    const closeButton = el("button", { type: "button", class: "close", id: "close" },
      el("span", { class: "on-phone" }, `← ${t("back")}`), el("span", { class: "on-desktop" }, t("close")));
    closeButton.addEventListener("click", close);
    const title = el("h2", { id: "detail-title", tabIndex: -1 }, `${t(`KIND_${r.kind}`)} · ${t("version")} ${C.num(r.version, S.lang)}`);
    const c = r.conveyance;
    const parts = [
      el("div", { class: "detail-head" }, title, closeButton),
      el("p", { class: "rid-line" }, r.report_id),
      v.incident_id ? field("incident", incidentLink(v.incident_id)) : null,
      el("div", { class: "prominent" },
        el("div", { class: `handling ${r.handling_code}` }, el("span", { class: "label" }, t("handling")),
          el("strong", { id: "handling" }, t(r.handling_code)), r.handling_note ? el("div", {}, r.handling_note) : null),
        el("div", { class: "evaluation" }, el("span", { class: "label" }, t("evaluation")),
          el("strong", { id: "evaluation" }, ev ? `${ev.source}${ev.information}` : "—"),
          ev ? el("div", {}, `${t("source")} ${ev.source} · ${t("information")} ${ev.information}`) : null),
        el("div", { class: `tlp-box ${r.tlp}` }, el("span", { class: "label" }, "TLP"), el("strong", {}, t(`TLP_${r.tlp}`)),
          el("span", { class: "hint" }, t(`TLPHINT_${r.tlp}`))),
        el("div", { class: "risk-box" }, el("span", { class: "label" }, t("risk")),
          el("strong", { id: "risk" }, C.text(e.risk_score)))),
      el("div", { class: "ack-row" }, ackButton,
        acked ? el("span", { id: "acked-by" }, `${t("acknowledged_by")} ${v.acknowledged.by} · `, C.time(v.acknowledged.at, S.lang, true)) : null),
      field("risk_reasons", listOf(e.risk_reasons, (x) => C.riskReason(x, S.lang))),
      field("reporter", `${C.text(r.agency)} (${C.text(r.reporter_state)})`),
      field("event_time", ...whenFull(r.event_time)), field("routed_at", ...whenFull(v.item.routed_at)),
      field("location", r.location ? joined(r.location.country, r.location.place, r.location.unlocode) : ""),
      field("route", (r.route || []).map((p) => p.country + (p.place ? ` (${p.place})` : "")).join(" → ")),
      field("conveyance", c ? joined(c.mode && t(`MODE_${c.mode}`), ...(c.container_numbers || []), c.vehicle_plate, c.wagon_number,
        c.transport_document, c.flight) : ""),
      field("goods", r.goods ? joined(r.goods.description, r.goods.hs_code,
        r.goods.declared_weight_kg !== null && r.goods.declared_weight_kg !== undefined ? C.quantity(r.goods.declared_weight_kg, "KG", S.lang) : null) : ""),
      field("substances", listOf(r.substances, (s) => joined(`${t(`SUB_${s.type}`)}${s.name ? ` (${s.name})` : ""}`,
        C.quantity(s.quantity, s.unit, S.lang), `${t(`CONC_${s.concealment}`)}${s.concealment_detail ? `: ${s.concealment_detail}` : ""}`))),
      field("parties", listOf(r.parties, (p) => `${t(`ROLE_${p.role}`)}: ${p.name}${p.country ? ` (${p.country})` : ""}${p.identifier ? ` · ${p.identifier}` : ""}`)),
      field("risk_indicators", listOf(r.risk_indicators, (x) => x)),
      field("narrative", r.narrative ? el("p", { class: "narrative", id: "narrative" }, r.narrative) : ""),
      el("h3", {}, t("enrichment")),
      field("containers", listOf(e.containers, (x) => `${x.number} — ${x.valid ? t("valid") : t("invalid")}${x.owner_code ? ` · ${x.owner_code}` : ""}`)),
      field("hs", e.hs_description || ""),
      // a total in kg where the unit converts (kg, g), else in its own unit (litres, tablets): never "— kg"
      field("totals", listOf(e.substance_totals, (s) => `${t(`SUB_${s.type}`)}: ${s.quantity_kg !== null && s.quantity_kg !== undefined
        ? C.quantity(s.quantity_kg, "KG", S.lang) : C.quantity(s.quantity, s.unit, S.lang)}`)),
      field("latin", listOf(e.party_names, (p) => `${p.name} → ${p.latin}`)),
      field("entity_links", listOf(e.entity_links, (l) => [`${l.name} ≈ ${l.matched_name} (${C.num(l.score, S.lang)})`,
        ...(l.report_id ? [" · ", reportLink(l.report_id)] : [])])),
      field("watchlist", listOf(e.watchlist_hits, (l) => `${l.name} ≈ ${l.matched_name}${l.watchlist ? ` (${l.watchlist})` : ""}`)),
      field("prior_reports", listOf(e.prior_reports, (p) => [reportLink(p.report_id),
        ...(joined(p.kind && t(`KIND_${p.kind}`), p.state) ? [` · ${joined(p.kind && t(`KIND_${p.kind}`), p.state)}`] : [])])),
      field("also_reported_by", listOf(e.also_reported_by, (p) => [joined(p.agency && `${p.agency}${p.state ? ` (${p.state})` : ""}`),
        ...(p.report_id ? [" · ", reportLink(p.report_id)] : [])])),
      field("routing", joined(routing.reason && C.routingReason(routing.reason, S.lang), (routing.recipients || []).join(", "))),
      routing.redacted ? el("p", { class: "warning" }, t("redacted")) : null,
    ];
    pane.replaceChildren(...parts.filter(Boolean));
    pane.setAttribute("aria-labelledby", "detail-title");
    if (pane.dataset.item !== v.item_id) { pane.dataset.item = v.item_id; pane.scrollTop = 0; } // another item: from its top
    document.dispatchEvent(new CustomEvent("hub:detail", { detail: v })); // other panels (requests: officer-requests.js)
    if (focused && $(focused)) $(focused).focus();
  }

  async function acknowledge(v) {
    const r = await C.api(S.token, "POST", `/v1/feeds/${encodeURIComponent(S.me.state)}/ack`,
      { report_id: v.report_id, version: v.version });
    if (r.status !== 200) { C.announce(t("ack_failed")); alert(t("ack_failed")); return; }
    const body = await r.json();
    for (const other of S.items.values()) {
      if (other.report_id === v.report_id && other.version <= body.version && !other.acknowledged) {
        other.acknowledged = { by: body.acknowledged_by, at: new Date().toISOString() };
        const row = rows.get(other.item_id);
        if (row) fillRow(row, other);
      }
    }
    refreshHeads();
    if (S.selected === v.item_id) renderDetail();
    C.announce(t("acknowledged"));
  }

  // the analyst workspace (analyst.js) works with the same session, texts and detail view
  window.HUB = { S, t, el, plural, labels, render, refreshHeads, signOut, matches, rowParts, reportLink,
    show(view, from) {
      if (!S.items.has(view.item_id)) S.items.set(view.item_id, view);
      open(view.item_id, from || document.activeElement, true);
    } };

  // ---- wiring -------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["f-kind", "f-tlp", "f-substance", "f-country", "f-unacked"]) $(id).addEventListener("input", render);
    $("incidents").addEventListener("keydown", listKeys);
    $("incidents").addEventListener("focusin", (e) => { const n = e.target.closest("li.item, .incident-head"); if (n) { S.touched = true; setCurrent(n); } });
    document.addEventListener("keydown", pageKeys);
    $("new-bar").addEventListener("click", showPending);
    setInterval(() => { if (S.me) C.refreshTimes($("app"), S.lang); }, 30000);
    C.shell({ S, applyLanguage, signIn, signOut });
  });
})();
