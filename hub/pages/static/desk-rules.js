// SPEC §3's field rules, checked in the browser — for when the link to the hub is down. The hub's
// own checks (POST /v1/reports/check, then POST /v1/reports) stay the authority; these mirror them.
// Each problem is {field, key, args}: the field path as the hub names it, and a message key of
// desk-i18n.js with its arguments.
"use strict";
window.HUB_RULES = (() => {
  const KINDS = ["ALERT", "SEIZURE"];
  const MAX = { source_ref: 128, narrative: 20000, text: 1000, handling_note: 1000, hs: 10 };
  const FUTURE_MS = 3600 * 1000;

  // ISO 6346: letters count 10..38 skipping multiples of 11; weights 2^i; sum mod 11 mod 10.
  const LETTER = {};
  (() => { let v = 10; for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") { if (v % 11 === 0) v++; LETTER[c] = v++; } })();

  function compact(raw) { return String(raw).toUpperCase().replace(/[^0-9A-Z]/g, ""); }

  function checkDigit(first10) {
    let sum = 0;
    for (let i = 0; i < 10; i++) {
      const c = first10[i];
      const v = c >= "0" && c <= "9" ? Number(c) : LETTER[c];
      sum += v * 2 ** i;
    }
    return (sum % 11) % 10;
  }

  /** null when valid, else {key, args}. */
  function container(raw) {
    const n = compact(raw);
    if (n.length !== 11) return { key: "container_len", args: { n: n.length } };
    if (!/^[A-Z]{3}[UJZ][0-9]{7}$/.test(n)) return { key: "container_format", args: {} };
    const d = checkDigit(n.slice(0, 10));
    if (Number(n[10]) !== d) return { key: "container_digit", args: { d, raw } };
    return null;
  }

  const isCountry = (c) => typeof c === "string" && /^[A-Z]{2}$/.test(c);
  // three-letter codes people type for the region's states: named in the message with the two-letter code
  const ALPHA3 = { AFG: "AF", ARM: "AM", AZE: "AZ", CHN: "CN", GEO: "GE", IRN: "IR", KAZ: "KZ", KGZ: "KG", PAK: "PK",
    RUS: "RU", TJK: "TJ", TKM: "TM", TUR: "TR", UZB: "UZ" };
  const country = (c) => (ALPHA3[c] ? ["country3", { c, two: ALPHA3[c] }] : ["country", { c }]);

  function check(body, nowMs) {
    const out = [];
    const add = (field, key, args) => out.push({ field, key, args: args || {} });
    if (!KINDS.includes(body.kind)) add("kind", "required");
    if (!body.source_ref) add("source_ref", "required");
    else if (body.source_ref.length > MAX.source_ref) add("source_ref", "too_long", { max: MAX.source_ref, n: body.source_ref.length });
    if (body.version !== undefined && !(Number.isInteger(body.version) && body.version >= 1)) add("version", "bad_version");
    if (!body.event_time) add("event_time", "required");
    else if (Number.isNaN(Date.parse(body.event_time))) add("event_time", "time");
    else if (Date.parse(body.event_time) > nowMs + FUTURE_MS) add("event_time", "future");
    if (!body.location || !body.location.country) add("location.country", "required");
    else if (!isCountry(body.location.country)) add("location.country", ...country(body.location.country));
    (body.route || []).forEach((p, i) => { if (!isCountry(p.country)) add(`route[${i}].country`, ...country(p.country)); });
    (body.addressees || []).forEach((a, i) => { if (!/^[A-Z]{2}$|^CARICC$/.test(a)) add(`addressees[${i}]`, "addressee", { c: a }); });
    const conv = body.conveyance;
    if (conv) {
      if (!conv.mode) add("conveyance.mode", "required");
      (conv.container_numbers || []).forEach((raw, i) => {
        const bad = container(raw);
        if (bad) add(`conveyance.container_numbers[${i}]`, bad.key, bad.args);
      });
    }
    const hs = body.goods && body.goods.hs_code;
    if (hs && !/^\d{6,10}$/.test(hs.replace(/[\s.]/g, ""))) add("goods.hs_code", "hs", { v: hs });
    (body.substances || []).forEach((s, i) => {
      if (!s.type) add(`substances[${i}].type`, "required");
      if (!(typeof s.quantity === "number" && s.quantity > 0)) add(`substances[${i}].quantity`, "quantity");
      if (!s.unit) add(`substances[${i}].unit`, "required");
      if (!s.concealment) add(`substances[${i}].concealment`, "required");
    });
    (body.parties || []).forEach((p, i) => {
      if (!p.role) add(`parties[${i}].role`, "required");
      if (!p.name) add(`parties[${i}].name`, "required");
      if (p.country && !isCountry(p.country)) add(`parties[${i}].country`, ...country(p.country));
    });
    if (body.kind === "SEIZURE" && !(body.substances || []).length) add("substances", "seizure_substance");
    if (body.kind === "ALERT" && !(body.risk_indicators || []).length) add("risk_indicators", "alert_indicator");
    if (body.handling_code === "H3" && !body.handling_note) add("handling_note", "h3_note");
    if (body.narrative && body.narrative.length > MAX.narrative) add("narrative", "too_long", { max: MAX.narrative, n: body.narrative.length });
    if (body.evaluation && (!body.evaluation.source || !body.evaluation.information)) add("evaluation", "evaluation");
    return out;
  }

  return { check, container, checkDigit, compact, ALPHA3 };
})();
