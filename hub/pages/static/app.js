// Liaison officer page. Every piece of report data is inserted with textContent (never innerHTML):
// narratives and names are untrusted input.
"use strict";
(() => {
  const C = window.HUB_COMMON;
  const $ = C.$;
  const el = C.el;
  const S = {
    token: sessionStorage.getItem("hub.token") || "",
    lang: localStorage.getItem("hub.lang") || "en",
    me: null, cursor: 0, items: new Map(), order: [], selected: null, abort: null,
  };
  const t = C.translator(HUB_TEXT, () => S.lang);
  // "1 report", "2 reports"; "1 сообщение", "3 сообщения", "5 сообщений" (keys word_one/_few/_many/_other)
  const plural = (n, word) => `${n} ${t(`${word}_${new Intl.PluralRules(S.lang).select(n)}`) || t(`${word}_other`)}`;
  const labels = new Map(); // incident id -> readable label (filled by analyst.js from /incidents)

  function applyLanguage() {
    C.applyTexts(S.lang, t);
    if (S.me) $("who").textContent = `${t("signed_in_as")} ${S.me.name} (${S.me.state})`;
    if ($("status").dataset.state) $("status").textContent = t($("status").dataset.state);
    render();
    document.dispatchEvent(new CustomEvent("hub:language"));
  }

  // ---- sign-in ------------------------------------------------------------------------------
  async function signIn(token) {
    $("signin-error").textContent = "";
    const r = await C.api(token, "GET", "/v1/whoami");
    if (r.status !== 200) { $("signin-error").textContent = t("bad_token"); return; }
    const me = await r.json();
    if (me.kind !== "officer") { $("signin-error").textContent = t("not_officer"); return; }
    S.token = token; S.me = me;
    sessionStorage.setItem("hub.token", token);
    C.showApp();
    applyLanguage();
    follow();
    document.dispatchEvent(new CustomEvent("hub:signed-in"));
  }

  function signOut() { C.signOut(S, "hub.token"); }

  // ---- live feed (SSE over fetch, so the token travels in a header) -------------------------
  function follow() {
    return C.follow({
      url: `/v1/feeds/${encodeURIComponent(S.me.state)}`, token: () => S.token, cursor: () => S.cursor, retryMs: 2000,
      connected: (abort) => { S.abort = abort; }, onDenied: signOut, onOpen: () => { setStatus("live"); },
      onBlock: handleEvent, onDown: () => { setStatus("reconnecting"); },
    });
  }

  function handleEvent(block) {
    const ev = C.parseEvent(block);
    if (ev.data === null) return;
    const view = JSON.parse(ev.data);
    if (ev.id) S.cursor = Number(ev.id);
    if (!S.items.has(view.item_id)) S.order.push(view.item_id);
    S.items.set(view.item_id, view);
    addSubstanceOptions(view);
    render();
    document.dispatchEvent(new CustomEvent("hub:item", { detail: view }));
  }

  function setStatus(key) { $("status").textContent = t(key); $("status").dataset.state = key; }

  // ---- list ---------------------------------------------------------------------------------
  function addSubstanceOptions(view) {
    const sel = $("f-substance");
    const have = new Set([...sel.options].map((o) => o.value));
    for (const s of view.item.report.substances || []) {
      if (!have.has(s.type)) { sel.append(el("option", { value: s.type }, s.type)); have.add(s.type); }
    }
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

  function summary(r) {
    const subs = (r.substances || []).map((s) => `${s.type} ${s.quantity} ${s.unit.toLowerCase()}`).join(", ");
    return subs || (r.risk_indicators || []).join("; ");
  }

  function render() {
    if (!S.me) return;
    const box = $("incidents");
    box.replaceChildren();
    const groups = new Map();
    for (const id of S.order) {
      const v = S.items.get(id);
      if (!matches(v)) continue;
      if (!groups.has(v.incident_id)) groups.set(v.incident_id, []);
      groups.get(v.incident_id).push(v);
    }
    $("empty").hidden = S.items.size > 0;
    // newest incident first
    const sorted = [...groups.entries()].sort((a, b) => b[1].at(-1).cursor - a[1].at(-1).cursor);
    for (const [incident, views] of sorted) {
      const list = el("ul", { class: "items" });
      for (const v of views) {
        const r = v.item.report;
        const row = el("li", { class: "item" + (v.acknowledged ? " acked" : "") + (S.selected === v.item_id ? " selected" : ""),
                               "data-item": v.item_id, tabIndex: 0 },
          el("span", { class: `badge delivery ${v.delivery}` }, t(v.delivery)),
          el("span", { class: `badge tlp ${r.tlp}` }, `TLP:${r.tlp}`),
          el("span", { class: "badge hc" }, r.handling_code),
          el("strong", { class: "kind" }, r.kind),
          el("span", { class: "agency" }, `${r.agency} (${r.reporter_state})`),
          el("span", { class: "where" }, r.location ? r.location.country + (r.location.place ? ` ${r.location.place}` : "") : ""),
          el("span", { class: "what" }, summary(r)),
          el("span", { class: "risk" }, `${t("risk")}: ${v.item.enrichment.risk_score}`),
          v.acknowledged ? el("span", { class: "ack-mark" }, "✓ " + t("acknowledged")) : null);
        row.addEventListener("click", () => { S.selected = v.item_id; render(); });
        row.addEventListener("keydown", (e) => { if (e.key === "Enter") { S.selected = v.item_id; render(); } });
        list.append(row);
      }
      const head = el("h3", { class: "incident-head", tabIndex: 0, title: incident },
        `${t("incident")} ${labels.get(incident) || incident} · ${plural(views.length, "report")}`);
      const open = () => document.dispatchEvent(new CustomEvent("hub:open-incident", { detail: incident }));
      head.addEventListener("click", open);
      head.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      box.append(el("section", { class: "incident", "data-incident": incident }, head, list));
    }
    renderDetail();
  }

  // ---- detail -------------------------------------------------------------------------------
  function field(label, ...value) { return el("div", { class: "field" }, el("span", { class: "label" }, t(label)), el("span", { class: "value" }, ...value)); }
  function listOf(items, fmt) {
    if (!items || !items.length) return el("span", { class: "muted" }, t("none"));
    return el("ul", {}, ...items.map((x) => el("li", {}, fmt(x))));
  }

  function renderDetail() {
    const pane = $("detail");
    const v = S.selected && S.items.get(S.selected);
    if (!v) { pane.hidden = true; pane.replaceChildren(); document.dispatchEvent(new CustomEvent("hub:detail", { detail: null })); return; }
    const r = v.item.report, e = v.item.enrichment, routing = v.item.routing;
    const ev = r.evaluation;
    const ackButton = el("button", { id: "ack", class: "primary", disabled: !!v.acknowledged },
      v.acknowledged ? t("acknowledged") : t("acknowledge"));
    ackButton.addEventListener("click", () => acknowledge(v));
    const close = el("button", { class: "close" }, t("close"));
    close.addEventListener("click", () => { S.selected = null; render(); });
    pane.replaceChildren(
      el("div", { class: "detail-head" },
        el("h2", {}, `${r.kind} · ${r.report_id} · ${t("version")} ${r.version}`), close),
      el("div", { class: "prominent" },
        el("div", { class: `handling ${r.handling_code}` }, el("span", { class: "label" }, t("handling")),
          el("strong", { id: "handling" }, t(r.handling_code)), r.handling_note ? el("div", {}, r.handling_note) : null),
        el("div", { class: "evaluation" }, el("span", { class: "label" }, t("evaluation")),
          el("strong", { id: "evaluation" }, ev ? `${ev.source}${ev.information}` : "—"),
          ev ? el("div", {}, `${t("source")} ${ev.source} · ${t("information")} ${ev.information}`) : null),
        el("div", { class: `tlp-box ${r.tlp}` }, el("span", { class: "label" }, "TLP"), el("strong", {}, r.tlp)),
        el("div", { class: "risk-box" }, el("span", { class: "label" }, t("risk")),
          el("strong", { id: "risk" }, String(e.risk_score)))),
      el("div", { class: "ack-row" }, ackButton,
        v.acknowledged ? el("span", { id: "acked-by" }, `${t("acknowledged_by")} ${v.acknowledged.by} · ${v.acknowledged.at}`) : null),
      field("risk_reasons", listOf(e.risk_reasons, (x) => x)),
      field("reporter", `${r.agency} (${r.reporter_state})`),
      field("event_time", r.event_time), field("routed_at", v.item.routed_at),
      field("location", r.location ? [r.location.country, r.location.place, r.location.unlocode].filter(Boolean).join(" · ") : ""),
      field("route", (r.route || []).map((p) => p.country + (p.place ? ` (${p.place})` : "")).join(" → ")),
      field("conveyance", r.conveyance ? [r.conveyance.mode, ...(r.conveyance.container_numbers || []),
        r.conveyance.vehicle_plate, r.conveyance.wagon_number, r.conveyance.transport_document, r.conveyance.flight]
        .filter(Boolean).join(" · ") : ""),
      field("goods", r.goods ? [r.goods.description, r.goods.hs_code, r.goods.declared_weight_kg && `${r.goods.declared_weight_kg} kg`].filter(Boolean).join(" · ") : ""),
      field("substances", listOf(r.substances, (s) => `${s.type}${s.name ? ` (${s.name})` : ""} ${s.quantity} ${s.unit} — ${s.concealment}${s.concealment_detail ? `: ${s.concealment_detail}` : ""}`)),
      field("parties", listOf(r.parties, (p) => `${p.role}: ${p.name}${p.country ? ` (${p.country})` : ""}${p.identifier ? ` · ${p.identifier}` : ""}`)),
      field("narrative", el("p", { class: "narrative", id: "narrative" }, r.narrative || "")),
      el("h3", {}, t("enrichment")),
      field("containers", listOf(e.containers, (c) => `${c.number} — ${c.valid ? t("valid") : t("invalid")}${c.owner_code ? ` · ${c.owner_code}` : ""}`)),
      field("hs", e.hs_description || "—"),
      field("totals", listOf(e.substance_totals, (s) => `${s.type}: ${s.quantity_kg ?? "—"} kg`)),
      field("latin", listOf(e.party_names, (p) => `${p.name} → ${p.latin}`)),
      field("entity_links", listOf(e.entity_links, (l) => `${l.name} ≈ ${l.matched_name} (${l.score})${l.report_id ? ` · ${l.report_id}` : ""}`)),
      field("watchlist", listOf(e.watchlist_hits, (l) => `${l.name} ≈ ${l.matched_name} (${l.watchlist || ""})`)),
      field("prior_reports", listOf(e.prior_reports, (p) => `${p.report_id} · ${p.kind || ""} · ${p.state || ""}`)),
      field("also_reported_by", listOf(e.also_reported_by, (p) => `${p.agency || ""} (${p.state || ""}) · ${p.report_id}`)),
      field("routing", `${routing.reason} → ${(routing.recipients || []).join(", ")}`),
      routing.redacted ? el("p", { class: "warning" }, t("redacted")) : null,
    );
    pane.hidden = false;
    document.dispatchEvent(new CustomEvent("hub:detail", { detail: v })); // other panels (requests: officer-requests.js)
  }

  async function acknowledge(v) {
    const r = await C.api(S.token, "POST", `/v1/feeds/${encodeURIComponent(S.me.state)}/ack`,
      { report_id: v.report_id, version: v.version });
    if (r.status !== 200) { alert(t("ack_failed")); return; }
    const body = await r.json();
    for (const other of S.items.values()) {
      if (other.report_id === v.report_id && other.version <= body.version && !other.acknowledged) {
        other.acknowledged = { by: body.acknowledged_by, at: new Date().toISOString() };
      }
    }
    render();
  }

  // the analyst workspace (analyst.js) works with the same session, texts and detail view
  window.HUB = { S, t, el, plural, labels, render, signOut, matches,
    show(view) { if (!S.items.has(view.item_id)) S.items.set(view.item_id, view); S.selected = view.item_id; render(); } };

  // ---- wiring -------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["f-kind", "f-tlp", "f-substance", "f-country", "f-unacked"]) $(id).addEventListener("input", render);
    C.shell({ S, applyLanguage, signIn, signOut });
  });
})();
