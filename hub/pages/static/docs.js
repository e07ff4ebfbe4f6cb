// /docs (hub/pages/docs.py): the page's language switch (the key the other pages keep, hub.lang) and
// Swagger UI's own labels in Russian. Swagger UI has no translations of its own: its labels are text
// nodes and attributes React writes. After every change React makes (a MutationObserver, one pass per
// frame, before it is painted) the labels whose whole text is a known one are rewritten; switching back
// writes the English again. What the API's own OpenAPI document says — the operations' summaries and
// descriptions, parameter and field names, the title — stays English, marked lang="en".
"use strict";
(() => {
  // Swagger UI 5's labels (exact texts of its bundle) → Russian
  const LABELS = {
    "Try it out": "Попробовать", "Cancel": "Отмена", "Execute": "Выполнить", "Clear": "Очистить", "Reset": "Сбросить",
    "Parameters": "Параметры", "No parameters": "Нет параметров", "Request body": "Тело запроса", "required": "обязательно",
    "Responses": "Ответы", "Response body": "Тело ответа", "Response headers": "Заголовки ответа",
    "Server response": "Ответ сервера", "Request URL": "URL запроса", "Request duration": "Длительность запроса",
    "Code": "Код", "Details": "Подробности", "Description": "Описание", "Links": "Ссылки", "No links": "Нет ссылок",
    "Name": "Имя", "Example Value": "Пример значения", "Schema": "Схема", "Schemas": "Схемы", "Examples": "Примеры",
    "Example Description": "Описание примера", "Edit Value": "Изменить значение", "Media type": "Тип данных",
    "Controls": "Задаёт", "header.": "(заголовок запроса).", "Request content type": "Тип содержимого запроса",
    "Response content type": "Тип содержимого ответа", "Send empty value": "Отправить пустое значение",
    "Authorize": "Авторизоваться", "Available authorizations": "Доступные способы авторизации", "Authorized": "Авторизовано",
    "Close": "Закрыть", "Logout": "Выйти", "Value:": "Значение:", "Headers:": "Заголовки:", "Download": "Скачать",
    "Servers": "Серверы", "Expand all": "Развернуть всё", "Collapse all": "Свернуть всё", "No callbacks": "Нет обратных вызовов",
    "Failed to load API definition.": "Не удалось загрузить описание API.",
  };
  const ATTRIBUTES = {
    "Expand operation": "Развернуть операцию", "Collapse operation": "Свернуть операцию", "Copy to clipboard": "Копировать",
    "Apply credentials": "Применить учётные данные", "Remove authorization": "Убрать авторизацию",
  };
  const TEXT = {
    en: { title: "CARICC intelligence-sharing hub — API", language: "Language", officer: "Officer page", desk: "Agency desk",
      skip: "Skip to the API", note: "" },
    ru: { title: "Хаб обмена сведениями CARICC — API", language: "Язык", officer: "Страница офицера", desk: "Рабочее место ведомства",
      skip: "Перейти к API",
      note: "Кнопки и заголовки этой страницы — на русском; описания самого API (названия и пояснения методов, "
        + "параметров и полей) берутся из кода и даны на английском." },
  };
  // what stays English: the content of the OpenAPI document
  const ENGLISH = ".info, .opblock-tag, .opblock-summary-path, .opblock-summary-description, .opblock-description-wrapper, "
    + ".markdown, .renderedMarkdown, .parameter__name, .parameter__type, .model-title, .model-box, .response-col_description";
  const invert = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [v, k]));
  const BACK = { labels: invert(LABELS), attributes: invert(ATTRIBUTES) };

  let lang = localStorage.getItem("hub.lang") === "ru" ? "ru" : "en";
  const root = () => document.getElementById("swagger-ui");

  function rewrite(text, table) {
    const key = text.trim();
    const to = table[key];
    return to === undefined || to === key ? null : text.replace(key, to);
  }

  // one pass over Swagger UI's part of the page: every label in the page's language
  function pass() {
    const box = root();
    if (!box) return;
    const labels = lang === "ru" ? LABELS : BACK.labels, attrs = lang === "ru" ? ATTRIBUTES : BACK.attributes;
    const walk = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const to = rewrite(n.nodeValue, labels);
      if (to !== null) n.nodeValue = to;
    }
    for (const e of box.querySelectorAll("[aria-label], [title]")) {
      for (const a of ["aria-label", "title"]) {
        const v = e.getAttribute(a);
        const to = v === null ? null : rewrite(v, attrs);
        if (to !== null) e.setAttribute(a, to);
      }
    }
    for (const e of box.querySelectorAll(ENGLISH)) {
      if (lang === "ru" && e.getAttribute("lang") !== "en") e.setAttribute("lang", "en");
      if (lang === "en" && e.hasAttribute("lang")) e.removeAttribute("lang");
    }
  }

  let queued = false;
  function schedule() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; pass(); });
  }

  function chrome() {
    const t = TEXT[lang];
    document.documentElement.lang = lang;
    document.title = t.title;
    for (const n of document.querySelectorAll("[data-docs-text]")) n.textContent = t[n.dataset.docsText];
    const note = document.getElementById("docs-note");
    note.hidden = !t.note;
    document.getElementById("lang").value = lang;
  }

  document.addEventListener("DOMContentLoaded", () => {
    chrome();
    new MutationObserver(schedule).observe(root(), { childList: true, subtree: true, characterData: true,
      attributes: true, attributeFilter: ["aria-label", "title"] });
    schedule();
    document.getElementById("lang").addEventListener("change", (e) => {
      lang = e.target.value === "ru" ? "ru" : "en";
      localStorage.setItem("hub.lang", lang);
      chrome();
      pass();
    });
  });
})();
