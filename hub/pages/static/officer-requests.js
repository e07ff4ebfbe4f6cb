// The officer page's panel for requests to a report's provider (SPEC §13): ask for consent (court
// use, onward dissemination to named states) or information, see the answers as they come, and the
// provenance of SHARED copies. It attaches to the detail view of app.js (the "hub:detail" event);
// everything from the hub is inserted with textContent.
"use strict";
(() => {
  const TEXT = {
    en: {
      requests: "Requests to the provider", none: "No requests yet.", ask: "Ask the provider", kind: "Request",
      CONSENT_COURT_USE: "Consent for court use", CONSENT_ONWARD: "Consent to share with other states",
      INFO: "Request for information", to_states: "Share with (e.g. TJ, KG)", text: "Your request",
      send: "Send request", sent: "Request sent.", failed: "The request was not sent:", asked_by: "asked by",
      OPEN: "waiting for an answer", GRANTED: "granted", REFUSED: "refused", ANSWERED: "answered",
      GRANT: "Granted", REFUSE: "Refused", ANSWER: "Answer", conditions: "Conditions",
      shared: "Shared with the provider's consent", requested: "Asked by", granted: "Granted by",
      SHARED: "SHARED",
    },
    ru: {
      requests: "Запросы источнику", none: "Запросов пока нет.", ask: "Запросить источник", kind: "Запрос",
      CONSENT_COURT_USE: "Согласие на использование в суде", CONSENT_ONWARD: "Согласие на передачу другим государствам",
      INFO: "Запрос информации", to_states: "Кому передать (напр. TJ, KG)", text: "Ваш запрос",
      send: "Отправить запрос", sent: "Запрос отправлен.", failed: "Запрос не отправлен:", asked_by: "запросил",
      OPEN: "ждёт ответа", GRANTED: "разрешено", REFUSED: "отказано", ANSWERED: "дан ответ",
      GRANT: "Разрешено", REFUSE: "Отказано", ANSWER: "Ответ", conditions: "Условия",
      shared: "Передано с согласия источника", requested: "Запросил", granted: "Разрешил",
      SHARED: "ПЕРЕДАНО",
    },
  };
  // the feed's delivery badge of a SHARED copy (app.js looks the text up in HUB_TEXT)
  if (window.HUB_TEXT) { HUB_TEXT.en.SHARED = HUB_TEXT.en.SHARED || TEXT.en.SHARED; HUB_TEXT.ru.SHARED = HUB_TEXT.ru.SHARED || TEXT.ru.SHARED; }
  const C = window.HUB_COMMON;
  const t = C.translator(TEXT, () => (document.documentElement.lang === "ru" ? "ru" : "en"));
  const { el, when } = C;

  const requests = new Map(); // request_id -> view (the newest seen)
  let current = null;
  let following = false;

  // one panel, kept across re-renders of the detail view (so typed text survives new items arriving)
  const kind = el("select", { id: "rq-kind" }, ...["CONSENT_COURT_USE", "CONSENT_ONWARD", "INFO"].map((k) => el("option", { value: k })));
  const toStates = el("input", { id: "rq-to", autocomplete: "off" });
  const toLabel = el("label", { class: "rq-to" }, el("span", {}), toStates);
  const text = el("textarea", { id: "rq-text", rows: 2 });
  const send = el("button", { id: "rq-send", class: "primary", type: "button" });
  const status = el("p", { id: "rq-status", role: "status" });
  const list = el("ul", { id: "rq-list" });
  const heading = el("h3", {});
  const askHeading = el("h4", {});
  const kindLabel = el("label", {}, el("span", {}), kind);
  const textLabel = el("label", {}, el("span", {}), text);
  const panel = el("section", { id: "requests-panel" }, heading, list, askHeading, kindLabel, toLabel, textLabel, send, status);
  const provenance = el("div", { id: "provenance", class: "provenance" });

  function labels() {
    heading.textContent = t("requests");
    askHeading.textContent = t("ask");
    kindLabel.firstChild.textContent = t("kind");
    toLabel.firstChild.textContent = t("to_states");
    textLabel.firstChild.textContent = t("text");
    for (const o of kind.options) o.textContent = t(o.value);
    send.textContent = t("send");
    toLabel.hidden = kind.value !== "CONSENT_ONWARD";
  }

  function render() {
    labels();
    if (!current) return;
    const mine = [...requests.values()].filter((q) => q.report_id === current.report_id)
      .sort((a, b) => (a.requested_at < b.requested_at ? -1 : 1));
    list.replaceChildren(...(mine.length ? mine.map((q) => el("li", { class: `rq ${q.status}`, "data-request": q.request_id, "data-status": q.status },
      el("strong", {}, t(q.kind)), q.to_states.length ? ` → ${q.to_states.join(", ")}` : "", " · ",
      el("span", { class: "rq-state" }, t(q.status)),
      el("div", { class: "muted" }, `${t("asked_by")} ${q.requested_by} · ${when(q.requested_at)}`),
      el("p", { class: "rq-text" }, q.text),
      q.answer ? el("div", { class: "rq-answer" }, el("strong", {}, `${t(q.answer.decision)}: `), q.answer.text,
        q.answer.conditions ? el("div", { class: "rq-conditions" }, `${t("conditions")}: ${q.answer.conditions}`) : null,
        el("div", { class: "muted" }, `${q.answer.by} · ${when(q.answer.at)}`)) : null))
      : [el("li", { class: "muted" }, t("none"))]));
    const p = current.item && current.item.provenance;
    provenance.hidden = !p;
    if (p) {
      provenance.replaceChildren(...[el("strong", {}, t("shared")),
        el("div", {}, `${t("requested")}: ${p.requested_by} (${p.requested_state}) · ${when(p.requested_at)}`),
        el("div", {}, `${t("granted")}: ${p.granted_by} · ${when(p.granted_at)}`),
        p.conditions ? el("div", { class: "prov-conditions" }, `${t("conditions")}: ${p.conditions}`) : null].filter(Boolean));
    }
  }

  function merge(views) {
    for (const q of views || []) {
      const known = requests.get(q.request_id);
      if (known && known.answer && !q.answer) continue; // an item served before the answer came
      requests.set(q.request_id, q);
    }
  }

  const token = () => sessionStorage.getItem("hub.token") || "";

  async function ask() {
    status.textContent = ""; status.className = "";
    const body = { report_id: current.report_id, kind: kind.value, text: text.value };
    if (kind.value === "CONSENT_ONWARD") body.to_states = toStates.value.split(/[,;\s]+/).map((s) => s.trim().toUpperCase()).filter(Boolean);
    send.disabled = true;
    try {
      const r = await C.api(token(), "POST", `/v1/feeds/${encodeURIComponent(current.item.recipient)}/requests`, body);
      const b = await r.json().catch(() => ({}));
      if (r.status !== 201) {
        status.className = "error";
        status.textContent = `${t("failed")} ${b.detail || r.status}`;
        return;
      }
      merge([b]);
      text.value = ""; toStates.value = "";
      status.textContent = t("sent");
      render();
    } catch (e) {
      status.className = "error";
      status.textContent = `${t("failed")} ${e}`;
    } finally {
      send.disabled = false;
    }
  }

  let stopped = false, live = null;
  // never hold a connection from the back/forward cache
  window.addEventListener("pagehide", () => { stopped = true; if (live) live.abort(); });

  function follow(state) {
    following = true;
    return C.follow({
      url: `/v1/feeds/${encodeURIComponent(state)}/requests/events`, token, retryMs: 2000,
      connected: (abort) => { live = abort; }, stopped: () => stopped,
      onBlock: (block) => { const { data } = C.parseEvent(block); if (data) { merge([JSON.parse(data)]); render(); } },
    });
  }

  kind.addEventListener("change", labels);
  send.addEventListener("click", ask);
  document.addEventListener("change", (e) => { if (e.target && e.target.id === "lang") render(); });
  document.addEventListener("hub:detail", (e) => {
    current = e.detail;
    if (!current) return;
    merge(current.requests);
    if (!following) follow(current.item.recipient);
    render();
    const pane = document.getElementById("detail");
    const head = pane.querySelector(".prominent");
    if (head) head.after(provenance); else pane.prepend(provenance);
    const ack = pane.querySelector(".ack-row"); // the requests come right after the acknowledgement
    if (ack) ack.after(panel); else pane.append(panel);
  });
})();
