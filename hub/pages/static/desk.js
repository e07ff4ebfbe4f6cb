// Agency desk page (SPEC §13). Every piece of data from the hub is inserted with textContent (never
// innerHTML). Unsent reports live in localStorage (the outbox) until the hub answered 202 for them: a
// report whose answer was lost is sent again and the hub, idempotent on (agency, source_ref,
// version), answers "duplicate" instead of delivering it twice.
"use strict";
(() => {
  const C = window.HUB_COMMON;
  const { $, el } = C;
  const S = {
    token: sessionStorage.getItem("hub.desk.token") || "",
    lang: localStorage.getItem("hub.lang") || "en",
    me: null, cursor: 0, abort: null, flushing: false, link: "", reports: [], requests: [],
    shownRequests: "", shownReports: "", answerDrafts: {}, refreshTimer: null, lastResult: null,
  };
  const RETRY_MS = 3000;
  const SUBSTANCES = ["HEROIN", "OPIUM", "HASHISH", "CANNABIS", "COCAINE", "METHAMPHETAMINE", "AMPHETAMINE",
    "TRAMADOL", "NPS", "PRECURSOR", "OTHER"];
  const UNITS = ["KG", "G", "L", "TABLETS", "UNITS"];
  const CONCEALMENTS = ["CONVEYANCE", "CARGO", "BAGGAGE", "CLOTHING", "BODY", "POSTAL", "CONSUMER_GOODS", "OTHER"];
  const ROLES = ["SHIPPER", "CONSIGNEE", "CARRIER", "DRIVER", "COURIER", "SUSPECT", "OTHER"];

  const has = (key) => (DESK_TEXT[S.lang] && key in DESK_TEXT[S.lang]) || key in DESK_TEXT.en;
  const t = C.translator(DESK_TEXT, () => S.lang);

  const when = (iso) => C.exact(iso, S.lang);
  const time = (iso) => C.time(iso, S.lang, true);
  // the stages of a version in pipeline order (then by time), whatever order the events were stored in
  const STAGE_ORDER = ["RECEIVED", "VALIDATED", "REJECTED", "DUPLICATE", "ROUTED", "SHARED", "CONSENT_REQUESTED",
    "CONSENT_GRANTED", "CONSENT_REFUSED", "INFO_REQUESTED", "INFO_PROVIDED"];
  const stageRank = (s) => { const i = STAGE_ORDER.indexOf(s.stage); return i < 0 ? STAGE_ORDER.length : i; };
  const inPipelineOrder = (stages) => [...stages].sort((a, b) => stageRank(a) - stageRank(b) || (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  function duration(s) {
    if (s === null || s === undefined) return "—";
    if (s < 60) return `${Math.round(s)} ${t("seconds")}`;
    if (s < 3600) return `${Math.floor(s / 60)} ${t("minutes")} ${Math.round(s % 60)} ${t("seconds")}`;
    if (s < 86400) return `${Math.floor(s / 3600)} ${t("hours")} ${Math.round((s % 3600) / 60)} ${t("minutes")}`;
    return `${Math.floor(s / 86400)} ${t("days")} ${Math.round((s % 86400) / 3600)} ${t("hours")}`;
  }

  const api = (method, path, body) => C.api(S.token, method, path, body);

  function setLink(state) {
    S.link = state;
    $("link").dataset.state = state;
    $("link").textContent = t(state);
  }

  // ---- language -----------------------------------------------------------------------------
  function applyLanguage() {
    C.applyTexts(S.lang, t);
    timeField();
    if (S.me) $("who").textContent = `${t("signed_in_as")} ${S.me.user || S.me.label} · ${S.me.name} (${S.me.state})`;
    if (S.link) setLink(S.link);
    S.shownReports = S.shownRequests = "";
    renderOutbox(); renderReports(); renderRequests();
    if (S.lastErrors) showErrors(S.lastErrors.client, S.lastErrors.server);
    if (S.lastResult) say(S.lastResult.key, S.lastResult.args, S.lastResult.kind);
  }

  // ---- sign-in ------------------------------------------------------------------------------
  async function signIn(token) {
    $("signin-error").textContent = "";
    let r;
    try { r = await C.api(token, "GET", "/v1/agency/me"); }
    catch (e) { $("signin-error").textContent = t("offline"); return; }
    if (r.status === 403) { $("signin-error").textContent = t("not_desk"); return; }
    if (r.status !== 200) { $("signin-error").textContent = t("bad_token"); return; }
    S.token = token; S.me = await r.json();
    sessionStorage.setItem("hub.desk.token", token);
    C.showApp();
    restoreDraft();
    setLink("online");
    applyLanguage();
    refresh();
    follow();
    flush();
  }

  function signOut() { C.signOut(S, "hub.desk.token"); }

  // ---- the form -----------------------------------------------------------------------------
  // the options of a select: the code as value, its text in the interface language (key prefix_CODE)
  function options(values, selected, prefix) {
    return values.map((v) => el("option", { value: v, selected: v === selected, "data-i18n": `${prefix}_${v}` }, t(`${prefix}_${v}`)));
  }

  // a form field: its label (in the interface language) around the control
  const labelled = (cls, key, control) => el("label", { class: cls }, el("span", { "data-i18n": key }, t(key)), control);

  function addSubstance(values) {
    const v = values || {};
    const row = el("div", { class: "row substance" },
      labelled("f", "f_type", el("select", { "data-field": "type" }, ...options(SUBSTANCES, v.type || "HEROIN", "SUB"))),
      labelled("f narrow", "f_quantity", el("input", { "data-field": "quantity", type: "number", min: "0", step: "any", value: v.quantity ?? "" })),
      labelled("f narrow", "f_unit", el("select", { "data-field": "unit" }, ...options(UNITS, v.unit || "KG", "UNIT"))),
      labelled("f", "f_concealment", el("select", { "data-field": "concealment" }, ...options(CONCEALMENTS, v.concealment || "CARGO", "CONC"))),
      labelled("f", "f_detail", el("input", { "data-field": "concealment_detail", value: v.concealment_detail || "" })));
    addRow("substances", row);
  }

  function addParty(values) {
    const v = values || {};
    const row = el("div", { class: "row party" },
      labelled("f", "f_role", el("select", { "data-field": "role" }, ...options(ROLES, v.role || "DRIVER", "ROLE"))),
      labelled("f", "f_name", el("input", { "data-field": "name", value: v.name || "" })),
      labelled("f narrow", "f_country", el("input", { "data-field": "country", maxLength: 8, autocomplete: "off", value: v.country || "" })),
      labelled("f", "f_identifier", el("input", { "data-field": "identifier", value: v.identifier || "" })));
    addRow("parties", row);
  }

  // a substance or party row gets its Remove button and goes into its list
  function addRow(list, row) {
    const remove = el("button", { type: "button", class: "remove" }, t("remove"));
    remove.setAttribute("data-i18n", "remove");
    remove.addEventListener("click", () => { row.remove(); saveDraft(); });
    row.append(remove);
    $(list).append(row);
  }

  const FIELDS = ["r-kind", "r-source_ref", "r-version", "r-event_time", "r-tlp", "r-handling_code", "r-handling_note",
    "r-addressees", "r-location-country", "r-location-place", "r-route", "r-mode", "r-containers", "r-plate",
    "r-document", "r-wagon", "r-goods", "r-hs", "r-indicators", "r-narrative", "r-eval-source", "r-eval-info"];
  const rowValues = (sel) => [...document.querySelectorAll(sel)].map((row) =>
    Object.fromEntries([...row.querySelectorAll("[data-field]")].map((n) => [n.dataset.field, n.value])));

  function snapshot() {
    const fields = Object.fromEntries(FIELDS.map((id) => [id, $(id).value]));
    const when = C.parseDateTime(fields["r-event_time"], S.lang);
    if (when) fields["r-event_time"] = when; // kept as ISO: the draft may come back in the other language
    return { fields, substances: rowValues("#substances .substance"), parties: rowValues("#parties .party") };
  }
  const draftKey = () => `hub.desk.draft.${S.me.agency}`;
  function saveDraft() { if (S.me) localStorage.setItem(draftKey(), JSON.stringify(snapshot())); }
  function restoreDraft() {
    const raw = localStorage.getItem(draftKey());
    $("substances").replaceChildren(); $("parties").replaceChildren();
    if (!raw) { addSubstance(); return; }
    const d = JSON.parse(raw);
    for (const [id, v] of Object.entries(d.fields || {})) if ($(id)) $(id).value = v;
    setTime(d.fields && d.fields["r-event_time"]);
    for (const s of d.substances || []) addSubstance(s);
    for (const p of d.parties || []) addParty(p);
  }
  function clearForm() {
    $("report").reset();
    $("substances").replaceChildren(); $("parties").replaceChildren();
    addSubstance();
    localStorage.removeItem(draftKey());
    showErrors([], []);
  }

  // ---- the "when" field: a text field in the interface language's format, UTC (C.parseDateTime) ----
  // the field's text is re-written in the new format when the language changes (S.timeLang: the
  // language it was typed in); drafts and reports loaded into the form hold ISO (2026-12-31T14:05:00Z)
  function timeField() {
    const n = $("r-event_time");
    const iso = C.parseDateTime(n.value, S.timeLang || S.lang);
    if (iso) n.value = C.dateTimeText(iso, S.lang);
    S.timeLang = S.lang;
    const f = C.dateTimeFormat(S.lang);
    n.placeholder = f.hint;
    $("r-event_time-format").textContent = f.hint;
  }
  function setTime(value) {
    const iso = C.parseDateTime(value, S.lang);
    $("r-event_time").value = iso ? C.dateTimeText(iso, S.lang) : (value || "");
    S.timeLang = S.lang;
  }
  // the field holds text that is not a date and time in the page's format (or ISO)
  const unreadTime = () => C.parseDateTime($("r-event_time").value, S.lang) === null;

  const list = (text) => text.split(/[,;\s]+/).map((s) => s.trim().toUpperCase()).filter(Boolean);
  function collect() {
    const v = (id) => $(id).value.trim();
    const body = { kind: v("r-kind"), source_ref: v("r-source_ref"), tlp: v("r-tlp"), handling_code: v("r-handling_code") };
    if (v("r-version")) body.version = Number(v("r-version"));
    // unreadable text is sent on as typed: check() names the field and the format it expects
    if (v("r-event_time")) body.event_time = C.parseDateTime(v("r-event_time"), S.lang) || v("r-event_time");
    if (v("r-handling_note")) body.handling_note = v("r-handling_note");
    if (v("r-addressees")) body.addressees = list(v("r-addressees"));
    body.location = { country: v("r-location-country").toUpperCase() };
    if (v("r-location-place")) body.location.place = v("r-location-place");
    if (v("r-route")) body.route = list(v("r-route")).map((c) => ({ country: c }));
    const conv = {};
    if (v("r-mode")) conv.mode = v("r-mode");
    if (v("r-containers")) conv.container_numbers = v("r-containers").split(",").map((s) => s.trim()).filter(Boolean);
    if (v("r-plate")) conv.vehicle_plate = v("r-plate");
    if (v("r-document")) conv.transport_document = v("r-document");
    if (v("r-wagon")) conv.wagon_number = v("r-wagon");
    if (Object.keys(conv).length) body.conveyance = conv;
    const goods = {};
    if (v("r-goods")) goods.description = v("r-goods");
    if (v("r-hs")) goods.hs_code = v("r-hs");
    if (Object.keys(goods).length) body.goods = goods;
    // a row with neither a quantity nor a detail is blank: left out (not an error); S.rowOf maps the
    // report's substances[i] / parties[i] back to the row on the form, for the error marks
    const allSubs = rowValues("#substances .substance");
    const subs = allSubs.filter((s) => s.quantity.trim() !== "" || s.concealment_detail.trim());
    S.rowOf = { substances: allSubs.map((s, i) => (subs.includes(s) ? i : -1)).filter((i) => i >= 0) };
    if (subs.length) {
      body.substances = subs.map((s) => {
        const out = { type: s.type, quantity: s.quantity === "" ? null : Number(s.quantity), unit: s.unit, concealment: s.concealment };
        if (s.concealment_detail.trim()) out.concealment_detail = s.concealment_detail.trim();
        return out;
      });
    }
    const allParties = rowValues("#parties .party");
    const parties = allParties.filter((p) => p.name.trim() || p.identifier.trim());
    S.rowOf.parties = allParties.map((p, i) => (parties.includes(p) ? i : -1)).filter((i) => i >= 0);
    if (parties.length) {
      body.parties = parties.map((p) => {
        const out = { role: p.role, name: p.name.trim() };
        if (p.country.trim()) out.country = p.country.trim().toUpperCase();
        if (p.identifier.trim()) out.identifier = p.identifier.trim();
        return out;
      });
    }
    const indicators = v("r-indicators").split("\n").map((s) => s.trim()).filter(Boolean);
    if (indicators.length) body.risk_indicators = indicators;
    if (v("r-narrative")) body.narrative = $("r-narrative").value;
    if (v("r-eval-source") || v("r-eval-info")) body.evaluation = { source: v("r-eval-source") || null, information: v("r-eval-info") ? Number(v("r-eval-info")) : null };
    return body;
  }

  // ---- field errors ---------------------------------------------------------------------------
  function segment(part) { const m = /^(\w+)(?:\[(\d+)\])?$/.exec(part || ""); return m ? { name: m[1], index: m[2] } : { name: part }; }
  function fieldLabel(path) {
    if (!path) return "";
    const parts = path.split(".");
    const first = segment(parts[0]);
    let label = has(`p_${first.name}`) ? t(`p_${first.name}`) : first.name;
    if (first.index !== undefined) label += ` ${Number(first.index) + 1}`;
    if (parts[1]) {
      const second = segment(parts[1]);
      if (has(`p_${second.name}`)) label = t(`p_${second.name}`) + (second.index !== undefined ? ` ${Number(second.index) + 1}` : "");
      else label += `: ${has(`f_${second.name}`) ? t(`f_${second.name}`) : second.name}`;
    }
    return label;
  }
  function elementFor(path) {
    const parts = path.split(".");
    const first = segment(parts[0]);
    if ((first.name === "substances" || first.name === "parties") && first.index !== undefined) {
      const shown = S.rowOf && S.rowOf[first.name] ? S.rowOf[first.name][Number(first.index)] : Number(first.index);
      const row = document.querySelectorAll(first.name === "substances" ? "#substances .substance" : "#parties .party")[shown ?? Number(first.index)];
      const field = parts[1] && segment(parts[1]).name;
      return (row && field && row.querySelector(`[data-field="${field}"]`)) || row || $(first.name);
    }
    // "a seizure needs at least one substance": the first row's quantity, not every row
    if (path === "substances") return document.querySelector("#substances .substance [data-field=quantity]") || $("substances");
    const bare = path.replace(/\[\d+\]/g, "").replace(/\.country$/, "");
    const exact = document.querySelector(`[data-path="${path.replace(/\[\d+\]/g, "")}"]`);
    return exact || document.querySelector(`[data-path="${bare}"]`) || document.querySelector(`[data-path="${first.name}"]`)
      || (first.name === "substances" ? $("substances") : null) || (first.name === "location" ? $("r-location-country") : null);
  }

  function showErrors(client, server) {
    S.lastErrors = (client.length || server.length) ? { client, server } : null;
    for (const n of document.querySelectorAll(".field-error")) n.remove();
    for (const n of document.querySelectorAll(".invalid")) { n.classList.remove("invalid"); n.removeAttribute("aria-invalid"); n.removeAttribute("aria-describedby"); }
    const items = [
      ...client.map((e) => ({ field: e.field, text: t(e.key, e.args) })),
      ...server.map((e) => ({ field: e.field, text: e.problem })),
    ];
    const ul = $("error-list");
    ul.replaceChildren(...items.map((e) => el("li", { "data-field": e.field },
      e.field ? el("strong", {}, `${fieldLabel(e.field)}: `) : null, e.text)));
    $("form-errors").hidden = items.length === 0;
    for (const e of items) {
      const target = e.field && elementFor(e.field);
      if (!target) continue;
      target.classList.add("invalid");
      const note = el("small", { class: "field-error", "data-field": e.field, id: `err-${Math.random().toString(36).slice(2)}` }, e.text);
      // under its own field (inside the field's label), and tied to it for screen readers
      const label = target.closest("label");
      if (label) label.append(note); else target.after(note);
      if (/^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", [target.getAttribute("aria-describedby"), note.id].filter(Boolean).join(" "));
      }
    }
  }

  function say(key, args, kind) {
    S.lastResult = { key, args, kind };
    const box = $("form-status");
    box.textContent = t(key, args);
    box.className = kind || "";
  }

  async function dryRun(body) {
    let r;
    try { r = await api("POST", "/v1/reports/check", body); } catch (e) { setLink("offline"); return { offline: true }; }
    if (r.status >= 500) { setLink("offline"); return { offline: true }; }
    setLink("online");
    const answer = await r.json().catch(() => ({}));
    if (r.status === 200) return { ok: true, answer };
    const errors = answer.errors || [{ field: "", problem: answer.error || answer.detail || `HTTP ${r.status}` }];
    return { ok: false, errors };
  }

  async function check() {
    const body = collect();
    const client = HUB_RULES.check(body, Date.now());
    if (unreadTime()) {
      const f = C.dateTimeFormat(S.lang);
      const e = { field: "event_time", key: "time_format", args: { format: f.hint, example: f.example } };
      const at = client.findIndex((x) => x.field === "event_time");
      if (at >= 0) client[at] = e; else client.unshift(e);
    }
    if (client.length) { showErrors(client, []); say("", {}, ""); return null; }
    const res = await dryRun(body);
    if (res.offline) { showErrors([], []); say("checked_offline", {}, "warn"); return { body, offline: true }; }
    if (!res.ok) { showErrors([], res.errors); say("", {}, ""); return null; }
    showErrors([], []);
    say("checked_ok", {}, "ok");
    return { body };
  }

  async function send(e) {
    if (e) e.preventDefault();
    const checked = await check();
    if (!checked) return;
    enqueue(checked.body);
    clearForm();
    say("queued", {}, "warn");
    await flush();
  }

  // ---- the outbox (localStorage) --------------------------------------------------------------
  const outboxKey = () => `hub.desk.outbox.${S.me.agency}`;
  function outbox() { return S.me ? JSON.parse(localStorage.getItem(outboxKey()) || "[]") : []; }
  function writeOutbox(entries) { localStorage.setItem(outboxKey(), JSON.stringify(entries)); renderOutbox(); }
  function enqueue(body) {
    const key = `${body.source_ref}|${body.version || 1}`;
    const entries = outbox().filter((x) => x.key !== key);
    entries.push({ key, body, queued_at: new Date().toISOString(), tries: 0 });
    writeOutbox(entries);
  }
  function drop(key) { writeOutbox(outbox().filter((x) => x.key !== key)); }

  async function flush() {
    if (S.flushing || !S.me) return;
    S.flushing = true;
    try {
      for (const entry of outbox()) {
        let r;
        try {
          r = await api("POST", "/v1/reports", entry.body);
        } catch (err) {
          setLink("offline");
          return;
        }
        if (r.status === 202) {
          const b = await r.json();
          drop(entry.key);
          setLink("online");
          say(b.duplicate ? "duplicate" : "sent", { id: b.report_id }, "ok");
          scheduleRefresh();
        } else if (r.status >= 500 || r.status === 429 || r.status === 408) {
          setLink("offline");
          return;
        } else if (r.status === 401) {
          return; // the token was revoked: keep the report, sign in again
        } else {
          const b = await r.json().catch(() => ({}));
          drop(entry.key);
          loadIntoForm(entry.body);
          showErrors([], b.errors || [{ field: "", problem: b.error || b.detail || `HTTP ${r.status}` }]);
          say("rejected", {}, "error");
        }
      }
    } finally {
      S.flushing = false;
      renderOutbox();
    }
  }

  function loadIntoForm(body) {
    clearForm();
    const set = (id, v) => { if (v !== undefined && v !== null) $(id).value = v; };
    set("r-kind", body.kind); set("r-source_ref", body.source_ref); set("r-version", body.version);
    setTime(body.event_time);
    set("r-tlp", body.tlp); set("r-handling_code", body.handling_code); set("r-handling_note", body.handling_note);
    set("r-addressees", (body.addressees || []).join(", "));
    set("r-location-country", body.location && body.location.country); set("r-location-place", body.location && body.location.place);
    set("r-route", (body.route || []).map((p) => p.country).join(", "));
    const c = body.conveyance || {};
    set("r-mode", c.mode); set("r-containers", (c.container_numbers || []).join(", ")); set("r-plate", c.vehicle_plate);
    set("r-document", c.transport_document); set("r-wagon", c.wagon_number);
    set("r-goods", body.goods && body.goods.description); set("r-hs", body.goods && body.goods.hs_code);
    set("r-indicators", (body.risk_indicators || []).join("\n")); set("r-narrative", body.narrative);
    set("r-eval-source", body.evaluation && body.evaluation.source); set("r-eval-info", body.evaluation && body.evaluation.information);
    $("substances").replaceChildren();
    for (const s of body.substances || []) addSubstance(s);
    for (const p of body.parties || []) addParty(p);
    saveDraft();
  }

  function renderOutbox() {
    if (!S.me) return;
    const entries = outbox();
    $("outbox-pane").hidden = entries.length === 0;
    $("outbox").replaceChildren(...entries.map((x) => el("li", { class: "queued", "data-key": x.key },
      el("strong", {}, x.body.source_ref), ` · ${t("version")} ${x.body.version || 1} · ${t(`KIND_${x.body.kind}`)} · `,
      el("span", { class: "muted" }, `${t("waiting")} (${when(x.queued_at)})`))));
  }

  // ---- status and receipts ------------------------------------------------------------------
  function scheduleRefresh() {
    clearTimeout(S.refreshTimer);
    S.refreshTimer = setTimeout(refresh, 250);
  }

  async function refresh() {
    if (!S.me) return;
    try {
      const [rep, req] = await Promise.all([api("GET", "/v1/agency/reports?limit=50"), api("GET", "/v1/agency/requests?status=all")]);
      if (rep.status === 200) S.reports = (await rep.json()).reports;
      if (req.status === 200) S.requests = (await req.json()).requests;
      renderReports(); renderRequests();
    } catch (e) {
      setLink("offline");
    }
  }

  function badge(kind, text, extra) { return el("span", { class: `badge ${kind} ${extra || ""}` }, text); }

  function renderReports() {
    const key = JSON.stringify([S.lang, S.reports]);
    if (key === S.shownReports) return;
    S.shownReports = key;
    $("no-reports").hidden = S.reports.length > 0;
    $("reports").replaceChildren(...S.reports.map((r) => el("li", { class: "report", "data-report": r.report_id },
      el("div", { class: "report-head" }, el("strong", {}, r.source_ref || "?"),
        badge("status", t(r.status), r.status), el("small", { class: "muted rid" }, r.report_id)),
      ...r.versions.map((v) => el("div", { class: "version", "data-version": String(v.version) },
        el("div", { class: "version-head" }, `${t("version")} ${v.version}`, v.kind ? ` · ${t(`KIND_${v.kind}`)}` : "",
          v.incident_id ? ` · ${t("incident")} ${v.incident_id}` : ""),
        el("ul", { class: "stages" }, ...inPipelineOrder(v.stages).map((s) => el("li", { "data-stage": s.stage },
          badge("stage", t(s.stage), s.stage), " ", time(s.at),
          s.recipients ? ` → ${s.recipients.join(", ")}` : "", s.reason ? ` — ${s.reason}` : "",
          s.actor ? el("span", { class: "muted actor" }, ` · ${s.actor}`) : null))),
        v.recipients.length ? el("table", { class: "recipients" },
          el("thead", {}, el("tr", {}, ...["recipient", "delivery", "delivered_at", "acknowledged_at", "by", "time_to_ack"]
            .map((h) => el("th", {}, t(h))))),
          el("tbody", {}, ...v.recipients.map((x) => el("tr", { "data-recipient": x.recipient },
            el("td", { "data-label": t("recipient") }, x.recipient),
            el("td", { class: "delivery", "data-label": t("delivery") }, x.delivery ? t(x.delivery) : "—"),
            el("td", { class: "when delivered", "data-label": t("delivered_at") }, x.delivered_at ? time(x.delivered_at) : "—"),
            el("td", { class: "when acked", "data-label": t("acknowledged_at") }, x.acknowledged_at ? time(x.acknowledged_at) : "—"),
            el("td", { class: "acked-by", "data-label": t("by") }, x.acknowledged_by || "—"),
            el("td", { class: "tta", "data-label": t("time_to_ack") }, duration(x.time_to_acknowledge_s)))))) : null)))));
  }

  // ---- requests -----------------------------------------------------------------------------
  const DECISIONS = { CONSENT_COURT_USE: ["GRANT", "REFUSE"], CONSENT_ONWARD: ["GRANT", "REFUSE"], INFO: ["ANSWER", "REFUSE"] };

  function renderRequests() {
    const key = JSON.stringify([S.lang, S.requests, S.reports.map((r) => [r.report_id, r.source_ref])]);
    if (key === S.shownRequests) return;
    S.shownRequests = key;
    const refs = Object.fromEntries(S.reports.map((r) => [r.report_id, r.source_ref]));
    $("no-requests").hidden = S.requests.length > 0;
    $("requests").replaceChildren(...S.requests.map((q) => {
      const li = el("li", { class: `request ${q.status}`, "data-request": q.request_id, "data-status": q.status },
        el("div", { class: "request-head" }, badge("kind", t(q.kind)), badge("rstatus", t(q.status), q.status),
          el("strong", {}, refs[q.report_id] || q.report_id), ` · ${t("version")} ${q.version}`),
        el("div", { class: "muted" }, `${t("asked_by")} ${q.requested_by} (${q.requester_state}) ${t("at")} ${when(q.requested_at)}`),
        q.to_states.length ? el("div", { class: "to-states" }, `${t("share_with")}: ${q.to_states.join(", ")}`) : null,
        el("p", { class: "request-text" }, q.text));
      if (q.status === "OPEN") {
        const text = el("textarea", { class: "answer-text", rows: 2, value: S.answerDrafts[q.request_id] || "",
                                      placeholder: t("answer_text") });
        text.setAttribute("aria-label", t("answer_text"));
        text.addEventListener("input", () => { S.answerDrafts[q.request_id] = text.value; });
        const cond = q.kind === "INFO" ? null : el("input", { class: "conditions", placeholder: t("conditions"),
                                                              value: S.answerDrafts[`${q.request_id}:c`] || "" });
        if (cond) cond.setAttribute("aria-label", t("conditions"));
        if (cond) cond.addEventListener("input", () => { S.answerDrafts[`${q.request_id}:c`] = cond.value; });
        const error = el("p", { class: "error answer-error" });
        const buttons = DECISIONS[q.kind].map((d) => {
          const b = el("button", { type: "button", class: d === "REFUSE" ? "" : "primary", "data-decision": d }, t(d));
          b.addEventListener("click", () => answer(q, d, text.value, cond ? cond.value : "", error, b));
          return b;
        });
        li.append(text, cond || "", el("div", { class: "actions" }, ...buttons), error);
      } else if (q.answer) {
        li.append(el("div", { class: "answer" }, el("strong", {}, `${t(`done_${q.answer.decision}`)}: `), q.answer.text,
          q.answer.conditions ? el("div", { class: "muted" }, `${t("conditions_shown")}: ${q.answer.conditions}`) : null,
          el("div", { class: "muted" }, `${q.answer.by} · ${when(q.answer.at)}`)));
      }
      return li;
    }));
  }

  async function answer(q, decision, text, conditions, error, button) {
    error.textContent = "";
    button.disabled = true;
    const body = { decision, text: text.trim() || t(decision) };
    if (conditions.trim() && decision === "GRANT") body.conditions = conditions.trim();
    let r;
    try { r = await api("POST", `/v1/agency/requests/${encodeURIComponent(q.request_id)}/answer`, body); }
    catch (e) { setLink("offline"); error.textContent = `${t("answer_failed")} ${t("offline")}`; button.disabled = false; return; }
    if (r.status !== 200) {
      const b = await r.json().catch(() => ({}));
      error.textContent = `${t("answer_failed")} ${b.detail || r.status}`;
      button.disabled = false;
      return;
    }
    delete S.answerDrafts[q.request_id];
    refresh();
  }

  // ---- live changes (SSE over fetch: the token stays in a header) -----------------------------
  function follow() {
    return C.follow({
      url: "/v1/agency/events", token: () => S.token, cursor: () => S.cursor, retryMs: RETRY_MS,
      connected: (abort) => { S.abort = abort; }, onDenied: signOut,
      onOpen: (r) => {
        if (r.status !== 200) return false;
        setLink("online");
        flush();
        refresh();
        return true;
      },
      onBlock: (block) => {
        const id = /^id: (\d+)$/m.exec(block);
        if (id) { S.cursor = Number(id[1]); scheduleRefresh(); }
      },
      onDown: () => { setLink("offline"); },
    });
  }

  // ---- wiring -------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("report").addEventListener("submit", send);
    $("report").addEventListener("input", saveDraft);
    $("check").addEventListener("click", check);
    $("clear").addEventListener("click", clearForm);
    $("add-substance").addEventListener("click", () => { addSubstance(); saveDraft(); });
    $("add-party").addEventListener("click", () => { addParty(); saveDraft(); });
    window.addEventListener("online", flush);
    setInterval(() => { if (S.me && outbox().length) flush(); }, RETRY_MS);
    setInterval(() => { if (S.me) refresh(); }, 30000);
    C.shell({ S, applyLanguage, signIn, signOut });
  });
  window.HUB_DESK = { flush, outbox, enqueue, collect, inPipelineOrder }; // for tests and the browser console
})();
