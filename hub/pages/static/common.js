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

  // t(key, {name: value}) over tables {en: {...}, ru: {...}}: the text in lang(), else in English, else
  // the key itself; {name} placeholders are filled in (as text, never as HTML)
  function translator(tables, lang) {
    return (key, args) => {
      const l = lang();
      let s = (tables[l] && tables[l][key]) || tables.en[key] || key;
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
  }

  // "2026-11-01T08:30:00.123Z" → "2026-11-01 08:30:00 UTC" (`empty` for no time)
  const when = (iso, empty = "") => (iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") + " UTC" : empty);

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

  return { $, el, translator, applyTexts, when, bearer, api, parseEvent, readEvents, follow, showApp, signOut, shell };
})();
