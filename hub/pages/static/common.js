// Shared by the officer page (app.js, officer-requests.js, analyst.js) and the agency desk (desk.js):
// building elements (text only ever goes in with textContent), interface texts, bearer-token fetches,
// Server-Sent Events over fetch (so the token travels in a header, never in a URL) and the page shell
// (the header's language switch and sign-out, the sign-in form; the HTML is hub/pages/static/page.html).
"use strict";
window.HUB_COMMON = (() => {
  const $ = (id) => document.getElementById(id);

  // an element with attributes and children; a child that is not a Node goes in as text; null,
  // undefined and false are left out
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // t(key, {name: value}) over tables {en: {...}, ru: {...}}: the text in lang(), else the shared
  // enumeration texts (ENUMS) in lang(), else in English, else the key itself; {name} placeholders are
  // filled in (as text, never as HTML)
  function translator(tables, lang) {
    return (key, args) => {
      const l = lang();
      let s = (tables[l] && tables[l][key]) || (ENUMS[l] && ENUMS[l][key]) || tables.en[key] || ENUMS.en[key] || key;
      for (const [k, v] of Object.entries(args || {})) s = s.split(`{${k}}`).join(String(v));
      return s;
    };
  }

  // the page's language: <html lang>, the switch, and every [data-i18n] / [data-i18n-placeholder] node
  function applyTexts(lang, t) {
    document.documentElement.lang = lang;
    $("lang").value = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }

  // ---- dates, numbers, quantities and enumerations in the interface language -------------------------
  // Every time and number a page shows goes through these (Intl, ru-RU / en-GB); times are shown in UTC
  // (the hub's member states span several time zones) and say so. Nothing here ever returns "null",
  // "undefined" or "NaN": a missing value is "—".
  const LOCALES = { en: "en-GB", ru: "ru-RU" };
  const locale = (lang) => LOCALES[lang] || LOCALES.en;
  const cache = new Map();
  function intl(kind, lang, opts) {
    const key = `${kind}|${lang}|${JSON.stringify(opts)}`;
    if (!cache.has(key)) cache.set(key, new Intl[kind](locale(lang), opts));
    return cache.get(key);
  }
  const parsed = (iso) => (iso ? Date.parse(iso) : NaN);
  const text = (v, empty = "—") => (v === null || v === undefined || v === "" || (typeof v === "number" && !Number.isFinite(v)) ? empty : String(v));

  // "2026-12-06T02:31:04.000Z" → "6 Dec 2026, 02:31:04 UTC" / "6 дек. 2026 г., 02:31:04 UTC"
  function exact(iso, lang, empty = "—") {
    const ms = parsed(iso);
    if (Number.isNaN(ms)) return empty;
    return `${intl("DateTimeFormat", lang, { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" }).format(ms)} UTC`;
  }
  // "5 minutes ago", "3 дня назад", "in 2 hours" (relative to now)
  function relative(iso, lang, now = Date.now()) {
    const ms = parsed(iso);
    if (Number.isNaN(ms)) return "—";
    const s = (ms - now) / 1000, a = Math.abs(s);
    const f = intl("RelativeTimeFormat", lang, { numeric: "auto" });
    if (a < 45) return f.format(Math.round(s), "second");
    if (a < 45 * 60) return f.format(Math.round(s / 60), "minute");
    if (a < 22 * 3600) return f.format(Math.round(s / 3600), "hour");
    if (a < 26 * 86400) return f.format(Math.round(s / 86400), "day");
    if (a < 320 * 86400) return f.format(Math.round(s / (30.44 * 86400)), "month");
    return f.format(Math.round(s / (365.25 * 86400)), "year");
  }
  // <time datetime=ISO title="exact">relative</time> (or the exact time itself when `exactText`);
  // refreshTimes() keeps the relative ones current
  function time(iso, lang, exactText = false) {
    if (Number.isNaN(parsed(iso))) return el("span", { class: "muted" }, "—");
    const node = el("time", { dateTime: iso, title: exact(iso, lang) }, exactText ? exact(iso, lang) : relative(iso, lang));
    if (!exactText) node.setAttribute("data-rel", "");
    return node;
  }
  // how soon the text of a relative time may change: a twelfth of the unit it is shown in (seconds:
  // at once; hours: 5 minutes; days: 2 hours), so a refresh skips the times that cannot have changed
  function relativeStep(iso, now) {
    const a = Math.abs(parsed(iso) - now) / 1000;
    return (a < 45 ? 0 : a < 45 * 60 ? 60 : a < 22 * 3600 ? 3600 : a < 26 * 86400 ? 86400 : 30 * 86400) * 1000 / 12;
  }
  // the relative times again (exact ones do not change; the language switch draws them anew). With
  // 10,000 items, rewriting all 20,000 every 30 s took a quarter of a second of the main thread.
  function refreshTimes(root, lang, now = Date.now()) {
    for (const n of root.querySelectorAll("time[data-rel]")) {
      if (n.hubLang === lang && n.hubNext > now) continue; // its text cannot have changed yet
      const text = relative(n.dateTime, lang, now);
      if (n.textContent !== text) n.textContent = text;
      n.hubLang = lang;
      n.hubNext = now + relativeStep(n.dateTime, now);
    }
  }
  // 17235.69 → "17 235,69" (ru) / "17,235.69" (en)
  function num(n, lang, digits = 2) {
    const x = typeof n === "string" && n.trim() !== "" ? Number(n) : n;
    if (typeof x !== "number" || !Number.isFinite(x)) return "—";
    return intl("NumberFormat", lang, { maximumFractionDigits: digits }).format(x);
  }
  // 12.5 KG → "12,5 кг"; 300 TABLETS → "300 tablets"; the unit in the interface language (never dropped)
  const quantity = (q, unit, lang) => `${num(q, lang, 3)} ${unitText(unit, lang)}`;
  const unitText = (unit, lang) => (unit ? (ENUMS[lang] || ENUMS.en)[`UNIT_${unit}`] || ENUMS.en[`UNIT_${unit}`] || unit.toLowerCase() : "");
  // "2026-12" → "Dec 2026" / "дек. 2026 г." (never "26-12", which reads as a day)
  function month(key, lang) {
    const m = /^(\d{4})-(\d{2})$/.exec(key || "");
    if (!m) return text(key);
    return intl("DateTimeFormat", lang, { month: "short", year: "numeric", timeZone: "UTC" }).format(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  }

  // ---- dates typed in the interface language ---------------------------------------------------
  // An <input type=date> shows the browser's locale whatever the page's language; these fields are
  // text inputs in the page's own format — "31/12/2026" (en-GB), "31.12.2026" (ru-RU), its order and
  // separator taken from Intl — and keep the date as ISO (yyyy-mm-dd) for the hub.
  const FORMAT_LETTERS = { en: { day: "DD", month: "MM", year: "YYYY" }, ru: { day: "ДД", month: "ММ", year: "ГГГГ" } };
  function dateFormat(lang) {
    const parts = intl("DateTimeFormat", lang, { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" })
      .formatToParts(Date.UTC(2026, 11, 31));
    const order = parts.filter((p) => p.type !== "literal").map((p) => p.type);
    const sep = (parts.find((p) => p.type === "literal") || { value: "/" }).value;
    const letters = FORMAT_LETTERS[lang] || FORMAT_LETTERS.en;
    return { order, sep, hint: order.map((k) => letters[k]).join(sep) };
  }
  // "2026-12-31" → "31.12.2026" / "31/12/2026" ("" for no date)
  function dateText(iso, lang) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!m) return "";
    const v = { year: m[1], month: m[2], day: m[3] };
    const f = dateFormat(lang);
    return f.order.map((k) => v[k]).join(f.sep);
  }
  // what the officer typed → "2026-12-31"; "" for an empty field; null for no such date. Any of
  // . / - or a space separates; day and month may have one digit ("1.2.2026").
  function parseDate(typed, lang) {
    const s = (typed || "").trim();
    if (!s) return "";
    const nums = s.split(/[./\-\s]+/);
    if (nums.length !== 3 || !nums.every((n) => /^\d+$/.test(n))) return null;
    const f = dateFormat(lang);
    const v = {};
    f.order.forEach((k, i) => { v[k] = Number(nums[i]); });
    return isoDay(v.year, v.month, v.day);
  }
  // a calendar day as "2026-12-31"; null for no such day (31 April, a two-digit year)
  function isoDay(year, month, day) {
    if (year < 1000 || year > 9999) return null;
    const d = new Date(Date.UTC(year, month - 1, day));
    if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
    return d.toISOString().slice(0, 10);
  }
  // a date field: its text in the page's format, its ISO value in data-iso (kept while typing)
  function dateInput(id, iso, lang) {
    const f = dateFormat(lang);
    const input = el("input", { id, type: "text", inputmode: "numeric", autocomplete: "off", spellcheck: "false",
      placeholder: f.hint, class: "date-input", "data-iso": iso || "" });
    input.value = dateText(iso, lang);
    input.size = f.hint.length + 1;
    input.addEventListener("input", () => {
      const v = parseDate(input.value, lang);
      if (v === null) { input.setAttribute("aria-invalid", "true"); }
      else { input.removeAttribute("aria-invalid"); input.dataset.iso = v; }
    });
    return input;
  }

  // ---- date and time (UTC) typed in the interface language --------------------------------------
  // An <input type=datetime-local> too shows the browser's locale: the desk's "when" is a text field in
  // the page's format — "31/12/2026 14:05" (en), "31.12.2026 14:05" (ru) — always UTC, sent as ISO.
  const TIME_LETTERS = { en: "HH:MM", ru: "ЧЧ:ММ" };
  function dateTimeFormat(lang) {
    const f = dateFormat(lang);
    const hint = `${f.hint} ${TIME_LETTERS[lang] || TIME_LETTERS.en}`;
    return { ...f, hint, example: dateTimeText("2026-12-31T14:05:00Z", lang) };
  }
  // "2026-12-31T14:05:00Z" → "31/12/2026 14:05" / "31.12.2026 14:05" ("" for no time)
  function dateTimeText(iso, lang) {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})/.exec(iso || "");
    return m ? `${dateText(m[1], lang)} ${m[2]}:${m[3]}` : "";
  }
  // what was typed → "2026-12-31T14:05:00Z"; "" for an empty field; null when it cannot be read. The
  // date as parseDate reads it, or year first (2026-12-31: ISO, in any language); then the time, hours
  // and minutes (":" or "." between; seconds may follow), after a space or "T"; a closing "Z" or "UTC"
  // is allowed (the time is UTC either way).
  function parseDateTime(typed, lang) {
    const s = (typed || "").trim();
    if (!s) return "";
    const m = /^(.+?)(?:\s*T\s*|\s+)(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*(?:Z|UTC)?$/i.exec(s);
    if (!m) return null;
    const ymd = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(m[1].trim());
    const day = ymd ? isoDay(Number(ymd[1]), Number(ymd[2]), Number(ymd[3])) : parseDate(m[1], lang);
    const [h, min, sec] = [Number(m[2]), Number(m[3]), Number(m[4] || 0)];
    if (!day || h > 23 || min > 59 || sec > 59) return null;
    const two = (n) => String(n).padStart(2, "0");
    return `${day}T${two(h)}:${two(min)}:${two(sec)}Z`;
  }

  // the hub's risk reasons (English phrases of hub/pipeline/core/enrich.py) in the interface language;
  // a reason of an unknown shape is shown as it came
  const REASONS = [
    [/^\+(\d+) (seizure|alert) report$/, (m, l) => [m[1], (ENUMS[l] || ENUMS.en)[`reason_${m[2]}`]]],
    [/^\+(\d+) substance (\w+)$/, (m, l) => [m[1], `${(ENUMS[l] || ENUMS.en).reason_substance} ${(ENUMS[l] || ENUMS.en)[`SUB_${m[2]}`] || m[2]}`]],
    [/^\+(\d+) ([\d.e+-]+) kg seized$/, (m, l) => [m[1], (ENUMS[l] || ENUMS.en).reason_seized.replace("{q}", quantity(Number(m[2]), "KG", l))]],
    [/^\+(\d+) (\d+) risk indicator\(s\)$/, (m, l) => [m[1], (ENUMS[l] || ENUMS.en).reason_indicators.replace("{n}", num(Number(m[2]), l))]],
    [/^\+(\d+) watchlist hit \((.*)\)$/, (m, l) => [m[1], (ENUMS[l] || ENUMS.en).reason_watchlist.replace("{w}", m[2])]],
    [/^\+(\d+) at crossing point (.*)$/, (m, l) => [m[1], (ENUMS[l] || ENUMS.en).reason_crossing.replace("{p}", m[2])]],
    [/^\+(\d+) route from or through (\w+)$/, (m, l) => [m[1], (ENUMS[l] || ENUMS.en).reason_route.replace("{c}", m[2])]],
    [/^\+(\d+) concealment: (.*)$/, (m, l) => [m[1], (ENUMS[l] || ENUMS.en).reason_concealment.replace("{c}", m[2])]],
    [/^\+(\d+) also reported by (\d+) other agenc(?:y|ies)$/, (m, l) => [m[1], (ENUMS[l] || ENUMS.en).reason_others.replace("{n}", num(Number(m[2]), l))]],
  ];
  function riskReason(reason, lang) {
    for (const [re, f] of REASONS) {
      const m = re.exec(reason || "");
      if (m) { const [points, what] = f(m, lang); return `+${points} ${what}`; }
    }
    return text(reason);
  }

  // the hub's routing reasons (hub/pipeline/core/route.py, decide.py) in the interface language
  const ROUTES = [
    [/^addressed \((\w+)\)$/, "route_addressed"], [/^on the route or at the location \((\w+)\)$/, "route_on_route"],
    [/^regional centre \((\w+)\)$/, "route_centre"], [/^member state \((\w+)\)$/, "route_member"],
    [/^partner state \((\w+)\)$/, "route_partner"], [/^shared with the provider's consent \(request ([\w-]+)\)$/, "route_shared"],
  ];
  function routingReason(reason, lang) {
    for (const [re, key] of ROUTES) {
      const m = re.exec(reason || "");
      if (m) return ((ENUMS[lang] || ENUMS.en)[key] || ENUMS.en[key]).replace("{x}", m[1].startsWith("Q-") ? m[1] : (ENUMS[lang] || ENUMS.en)[`TLP_${m[1]}`] || m[1]);
    }
    return text(reason);
  }

  // a polite announcement for screen readers (the page's aria-live region #announce)
  function announce(message) {
    const box = document.getElementById("announce");
    if (!box) return;
    box.textContent = "";
    setTimeout(() => { box.textContent = message; }, 50);
  }

  // the hub's enumerations in the interface languages (shared by every page through translator())
  const ENUMS = {
    en: {
      KIND_SEIZURE: "Seizure", KIND_ALERT: "Alert",
      TLP_CLEAR: "TLP:CLEAR", TLP_GREEN: "TLP:GREEN", TLP_AMBER: "TLP:AMBER", TLP_AMBER_STRICT: "TLP:AMBER+STRICT", TLP_RED: "TLP:RED",
      TLPHINT_CLEAR: "no limit on disclosure", TLPHINT_GREEN: "within the community", TLPHINT_AMBER: "recipients' organisations and their clients, on a need-to-know basis",
      TLPHINT_AMBER_STRICT: "recipients' organisations only", TLPHINT_RED: "named recipients only",
      SUB_HEROIN: "heroin", SUB_OPIUM: "opium", SUB_HASHISH: "hashish", SUB_CANNABIS: "cannabis", SUB_COCAINE: "cocaine",
      SUB_METHAMPHETAMINE: "methamphetamine", SUB_AMPHETAMINE: "amphetamine", SUB_TRAMADOL: "tramadol", SUB_NPS: "new psychoactive substance",
      SUB_PRECURSOR: "precursor", SUB_OTHER: "other substance",
      UNIT_KG: "kg", UNIT_G: "g", UNIT_L: "l", UNIT_TABLETS: "tablets", UNIT_UNITS: "units",
      CONC_CONVEYANCE: "in the conveyance", CONC_CARGO: "in the cargo", CONC_BAGGAGE: "in baggage", CONC_CLOTHING: "in clothing",
      CONC_BODY: "on or in the body", CONC_POSTAL: "in a postal item", CONC_CONSUMER_GOODS: "in consumer goods", CONC_OTHER: "other concealment",
      ROLE_SHIPPER: "shipper", ROLE_CONSIGNEE: "consignee", ROLE_CARRIER: "carrier", ROLE_DRIVER: "driver", ROLE_COURIER: "courier",
      ROLE_SUSPECT: "suspect", ROLE_OTHER: "other",
      MODE_SEA: "sea", MODE_RAIL: "rail", MODE_ROAD: "road", MODE_AIR: "air", MODE_POSTAL: "post", MODE_PEDESTRIAN: "on foot",
      reason_seizure: "seizure report", reason_alert: "alert report", reason_substance: "substance", reason_seized: "{q} seized",
      reason_indicators: "risk indicators: {n}", reason_watchlist: "watchlist hit ({w})", reason_crossing: "at crossing point {p}",
      reason_route: "route from or through {c}", reason_concealment: "concealment: {c}", reason_others: "also reported by other agencies: {n}",
      route_addressed: "addressed ({x})", route_on_route: "on the route or at the location ({x})", route_centre: "regional centre ({x})",
      route_member: "member state ({x})", route_partner: "partner state ({x})", route_shared: "shared with the provider's consent (request {x})",
    },
    ru: {
      KIND_SEIZURE: "Изъятие", KIND_ALERT: "Оповещение",
      TLP_CLEAR: "TLP:CLEAR", TLP_GREEN: "TLP:GREEN", TLP_AMBER: "TLP:AMBER", TLP_AMBER_STRICT: "TLP:AMBER+STRICT", TLP_RED: "TLP:RED",
      TLPHINT_CLEAR: "без ограничений", TLPHINT_GREEN: "в пределах сообщества", TLPHINT_AMBER: "организации получателей и их клиенты, по служебной необходимости",
      TLPHINT_AMBER_STRICT: "только организации получателей", TLPHINT_RED: "только названные получатели",
      SUB_HEROIN: "героин", SUB_OPIUM: "опий", SUB_HASHISH: "гашиш", SUB_CANNABIS: "каннабис", SUB_COCAINE: "кокаин",
      SUB_METHAMPHETAMINE: "метамфетамин", SUB_AMPHETAMINE: "амфетамин", SUB_TRAMADOL: "трамадол", SUB_NPS: "новое психоактивное вещество",
      SUB_PRECURSOR: "прекурсор", SUB_OTHER: "иное вещество",
      UNIT_KG: "кг", UNIT_G: "г", UNIT_L: "л", UNIT_TABLETS: "табл.", UNIT_UNITS: "шт.",
      CONC_CONVEYANCE: "в транспортном средстве", CONC_CARGO: "в грузе", CONC_BAGGAGE: "в багаже", CONC_CLOTHING: "в одежде",
      CONC_BODY: "на теле или в теле", CONC_POSTAL: "в почтовом отправлении", CONC_CONSUMER_GOODS: "в товарах народного потребления", CONC_OTHER: "иной способ сокрытия",
      ROLE_SHIPPER: "отправитель", ROLE_CONSIGNEE: "получатель", ROLE_CARRIER: "перевозчик", ROLE_DRIVER: "водитель", ROLE_COURIER: "курьер",
      ROLE_SUSPECT: "подозреваемый", ROLE_OTHER: "иное",
      MODE_SEA: "морской", MODE_RAIL: "железнодорожный", MODE_ROAD: "автомобильный", MODE_AIR: "воздушный", MODE_POSTAL: "почта", MODE_PEDESTRIAN: "пешком",
      reason_seizure: "сообщение об изъятии", reason_alert: "оповещение", reason_substance: "вещество", reason_seized: "изъято {q}",
      reason_indicators: "индикаторы риска: {n}", reason_watchlist: "совпадение со списком наблюдения ({w})", reason_crossing: "в пункте пропуска {p}",
      reason_route: "маршрут из или через {c}", reason_concealment: "сокрытие: {c}", reason_others: "также сообщили другие ведомства: {n}",
      route_addressed: "указан адресатом ({x})", route_on_route: "на маршруте или в месте события ({x})", route_centre: "региональный центр ({x})",
      route_member: "государство-участник ({x})", route_partner: "государство-партнёр ({x})", route_shared: "передано с согласия источника (запрос {x})",
    },
  };

  // kept for older callers: the exact time in English
  const when = (iso, empty = "") => exact(iso, document.documentElement.lang === "ru" ? "ru" : "en", empty);

  const bearer = (token, extra) => ({ Authorization: `Bearer ${token}`, ...(extra || {}) });

  // a request with the bearer token; a body is sent as JSON
  function api(token, method, path, body) {
    const headers = bearer(token);
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  }

  // ---- Server-Sent Events over fetch ----------------------------------------------------------------
  // one block ("id: 3\nevent: item\ndata: {...}") → {id, event, data} (data lines joined; null for none)
  function parseEvent(block) {
    let id = null, event = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("id:")) id = line.slice(3).trim();
      else if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    return { id, event, data: data.length ? data.join("\n") : null };
  }

  // read a text/event-stream body to its end, handing every block to onBlock
  async function readEvents(response, onBlock) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        onBlock(block);
      }
    }
  }

  // Follow an SSE endpoint until it answers 401/403 (onDenied) or the connection is aborted, reconnecting
  // retryMs after every end or failure (onDown), with Last-Event-ID when cursor() gives one.
  // o: {url, token(), cursor()?, retryMs, connected(abortController)?: each attempt's controller,
  //     onOpen(response)?: false = do not read this answer, onBlock(block), onDenied()?, onDown()?, stopped()?}
  async function follow(o) {
    while (!(o.stopped && o.stopped())) {
      const abort = new AbortController();
      if (o.connected) o.connected(abort);
      try {
        const headers = bearer(o.token(), { Accept: "text/event-stream" });
        const cursor = o.cursor ? o.cursor() : 0;
        if (cursor) headers["Last-Event-ID"] = String(cursor);
        const r = await fetch(o.url, { headers, signal: abort.signal });
        if (r.status === 401 || r.status === 403) { if (o.onDenied) o.onDenied(); return; }
        if (!o.onOpen || o.onOpen(r) !== false) await readEvents(r, o.onBlock);
      } catch (e) {
        if (abort.signal.aborted) return;
      }
      if (o.onDown) o.onDown();
      await new Promise((ok) => setTimeout(ok, o.retryMs));
    }
  }

  // ---- the page shell ---------------------------------------------------------------------------------
  function showApp() { $("signin").hidden = true; $("app").hidden = false; $("signout").hidden = false; }

  // forget the token kept under sessionStorage `key`, end the live stream, start again signed out
  function signOut(S, key) {
    sessionStorage.removeItem(key);
    if (S.abort) S.abort.abort();
    location.reload();
  }

  // Wire the header and the sign-in form, then show the page in its language and sign in with a kept
  // token. o: {S (with lang, token and abort: the live stream's controller), applyLanguage, signIn, signOut}
  function shell(o) {
    $("lang").addEventListener("change", () => { o.S.lang = $("lang").value; localStorage.setItem("hub.lang", o.S.lang); o.applyLanguage(); });
    $("signin-form").addEventListener("submit", (e) => { e.preventDefault(); o.signIn($("token").value.trim()); });
    $("signout").addEventListener("click", o.signOut);
    // leaving the page ends the live stream (a page kept in the back/forward cache would hold its connection)
    window.addEventListener("pagehide", () => { if (o.S.abort) o.S.abort.abort(); });
    o.applyLanguage();
    if (o.S.token) o.signIn(o.S.token);
  }

  return { $, el, translator, applyTexts, when, ENUMS, locale, exact, relative, time, refreshTimes, num, quantity,
    month, dateFormat, dateText, parseDate, dateInput, dateTimeFormat, dateTimeText, parseDateTime, text, riskReason, routingReason, announce, bearer, api, parseEvent, readEvents, follow, showApp, signOut, shell };
})();
