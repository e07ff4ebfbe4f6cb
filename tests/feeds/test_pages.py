"""The gateway's pages as served: one shell (static/page.html) around each page's own <main>.

No broker: only the page parts of the gateway (hub.pages.officer, .desk, .analyst's script route) under
a bare FastAPI app. The browser tests (test_officer_page.py, tests/provider/test_desk_page.py,
tests/analyst/test_analyst_page.py) show the pages work; these show what every page is made of.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.analyst import http as analyst
from hub.pages import desk, docs
from hub.pages import officer as web

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
SHELL_IDS = ("who", "lang", "signout", "signin", "signin-form", "token", "signin-button", "signin-error", "app")


class Parts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.scripts: list[str | None] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "script":
            self.scripts.append(a.get("src"))
        if tag == "link" and a.get("rel") == "stylesheet":
            self.styles.append(str(a["href"]))


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI(docs_url=None, redoc_url=None)  # as the gateway: hub.pages.docs serves them
    for part in (analyst, web, desk, docs):
        app.include_router(part.router)
    return TestClient(app)


@pytest.mark.parametrize(("path", "status_id", "own"), [
    ("/", "status", ["/static/i18n.js", "/static/app.js", "/desk/static/officer-requests.js", "/static/analyst.js"]),
    ("/desk", "link", ["/desk/static/desk-i18n.js", "/desk/static/desk-rules.js", "/desk/static/desk.js"]),
])
def test_every_page_is_the_shell_around_its_main(client: TestClient, path: str, status_id: str,
                                                 own: list[str]) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "$" not in r.text  # every placeholder of the shell filled in
    parts = Parts()
    parts.feed(r.text)
    for i in (*SHELL_IDS, status_id):
        assert parts.ids.count(i) == 1, (path, i)
    assert len(parts.ids) == len(set(parts.ids)), path
    assert None not in parts.scripts  # no inline script (the CSP would refuse it anyway)
    assert parts.scripts == ["/static/common.js", *own]  # the shared helpers first (defer keeps the order)
    assert parts.styles[0] == "/static/style.css"
    for url in parts.scripts + parts.styles:  # every asset a page names is served, with the same headers
        a = client.get(str(url))
        assert a.status_code == 200, url
        assert a.headers["content-type"].split(";")[0] in ("text/javascript", "text/css"), url
        assert a.headers["content-security-policy"] == r.headers["content-security-policy"]


def test_only_named_assets_are_served(client: TestClient) -> None:
    for url in ("/static/page.html", "/static/officer.html", "/desk/static/desk.html", "/static/../web.py",
                "/desk/static/app.js", "/static/desk.js"):
        assert client.get(url).status_code == 404, url


def test_api_documentation_needs_nothing_from_another_origin(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and '<html lang="en">' in r.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    # every script, style, icon and link from the gateway (or in the page: the skip link's "#api")
    assert urls and all(u.startswith(("/", "#")) for u in urls), urls
    assert "cdn." not in r.text and "fonts.googleapis" not in r.text and '"validatorUrl": null' in r.text
    for url in urls:
        if url.startswith("/docs/static/"):
            a = client.get(url)
            assert a.status_code == 200 and len(a.content) > 100, url
    assert client.get("/docs/static/../docs.py").status_code == 404
    assert client.get("/docs/static/index.html").status_code == 404
    assert client.get("/redoc").status_code == 404
