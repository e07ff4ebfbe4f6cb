"""The officer page with 5,000 items, in Chromium, with the hub's answers played by the page's own fetch
(a stand-in installed before the page's scripts: /v1/whoami, the JSON pages and an SSE stream the test
feeds) — the page's code is the real one. Shows that a live item does not touch the list (the rows stay
the same nodes, the item read keeps its place) and prints how long the page took (figures for
docs/feeds.md; no timed assert)."""

from __future__ import annotations

from tests.feeds.cdp import Browser
from tests.feeds.conftest import Stack
from tests.pages.conftest import DESKTOP, no_exceptions

N = 5000

FAKE = """
(() => {
  const N = @N@;
  const view = (i) => ({cursor: i, item_id: `R-${i}:1:AM`, report_id: `R-${i}`, version: 1, incident_id: `I-${i % 700}`,
    delivery: "NEW", acknowledged: null, requests: [],
    item: {recipient: "AM", routed_at: new Date(Date.now() - (N - i) * 60000).toISOString(),
      report: {report_id: `R-${i}`, kind: i % 5 ? "SEIZURE" : "ALERT", agency: "KZ-CUSTOMS", reporter_state: "KZ", version: 1,
        event_time: new Date(Date.now() - (N - i) * 60000 - 3600000).toISOString(), tlp: "AMBER", handling_code: "H1",
        location: {country: "KZ", place: "Khorgos"}, route: [], substances: i % 5 ? [{type: "HEROIN", quantity: i / 10, unit: "KG",
        concealment: "CARGO"}] : [], risk_indicators: i % 5 ? [] : ["route"], parties: [], narrative: `item ${i}`},
      enrichment: {risk_score: 50, risk_reasons: [], containers: [], substance_totals: [], party_names: [], entity_links: [],
        watchlist_hits: [], prior_reports: [], also_reported_by: []},
      routing: {recipients: ["AM"], reason: "test", redacted: false}}});
  window.__view = view;
  let push = null;
  const json = (o) => new Response(JSON.stringify(o), {status: 200, headers: {"Content-Type": "application/json"}});
  window.fetch = async (url, opts) => {
    const u = new URL(url, location.href);
    if (u.pathname === "/v1/whoami") return json({kind: "officer", name: "scale", state: "AM"});
    if (u.pathname === "/v1/feeds/AM/items") {
      const after = Number(u.searchParams.get("after")), limit = Number(u.searchParams.get("limit"));
      const items = [];
      for (let i = after + 1; i <= Math.min(N, after + limit); i++) items.push(view(i));
      return json({state: "AM", items, next_after: items.length ? items.at(-1).cursor : after});
    }
    if (u.pathname === "/v1/feeds/AM") {
      const body = new ReadableStream({start(c) { push = (text) => c.enqueue(new TextEncoder().encode(text)); }});
      return new Response(body, {status: 200, headers: {"Content-Type": "text/event-stream"}});
    }
    if (u.pathname.endsWith("/requests/events")) return new Response(new ReadableStream({}), {status: 200});
    return json({incidents: [], results: [], buckets: [], total: {reports: 0, kg: 0}});
  };
  window.__live = (i) => push(`id: ${i}\\nevent: item\\ndata: ${JSON.stringify(view(i))}\\n\\n`);
  window.__ready = () => !!push;
})();
""".replace("@N@", str(N))


def test_five_thousand_items_and_live_ones_without_redrawing(stack: Stack) -> None:
    b = Browser()
    try:
        b.size(*DESKTOP)
        b.call("Page.addScriptToEvaluateOnNewDocument", source=FAKE)
        b.goto(stack.base + "/")
        b.js("sessionStorage.setItem('hub.token', 'hko_scale')")
        b.js("window.__t0 = performance.now()")
        b.goto(stack.base + "/")
        b.wait(f"document.querySelectorAll('#incidents li.item').length === {N}", timeout=120, what="5,000 rows")
        loaded = b.js("performance.now()")  # since this navigation started
        b.wait("window.__ready()", what="the live stream")
        target = f"li.item[data-item=\"R-{N // 2}:1:AM\"]"
        b.js(f"const r = document.querySelector('{target}'); r.scrollIntoView({{block: 'center'}}); r.click(); r.focus();"
             "window.__rows = [...document.querySelectorAll('#incidents li.item')]")
        before = b.js(f"document.querySelector('{target}').getBoundingClientRect().top")
        per_item = b.js(f"const t = performance.now(); for (let i = {N + 1}; i <= {N + 50}; i++) window.__live(i);"
                        "new Promise(ok => setTimeout(() => requestAnimationFrame(() => ok(performance.now() - t)), 0))")
        b.wait("document.getElementById('new-bar').textContent.includes('50')", what="50 behind the bar")
        # the row being read stays where it is on the screen (within a pixel: far-away incidents are laid
        # out lazily — content-visibility — so the browser's scroll anchoring may shift scrollY, not the row)
        assert abs(b.js(f"document.querySelector('{target}').getBoundingClientRect().top") - before) < 2
        assert b.js(f"document.activeElement === document.querySelector('{target}')")
        shown = b.js("const t = performance.now(); document.getElementById('new-bar').click();"
                     "new Promise(ok => requestAnimationFrame(() => ok(performance.now() - t)))")
        assert b.js("document.querySelectorAll('#incidents li.item').length") == N + 50
        assert b.js("window.__rows.every(n => n.isConnected)")  # 5,000 rows, none rebuilt
        lang = b.js("const t = performance.now(); const l = document.getElementById('lang'); l.value = 'ru';"
                    "l.dispatchEvent(new Event('change')); performance.now() - t")
        print(f"\nscale: {N} rows shown {loaded:.0f} ms after navigation; 50 live items in {per_item:.0f} ms "
              f"({per_item / 50:.2f} ms each, the list untouched); showing them {shown:.0f} ms; "
              f"switching the language (every row refilled in place) {lang:.0f} ms")
        no_exceptions(b)
    finally:
        b.close()
