"""Gateway part: the API documentation page, served entirely by the gateway (nothing from a CDN).

``/docs`` is Swagger UI over the gateway's ``/openapi.json``. FastAPI's own page loads its scripts from
a CDN, so on a network without the internet (a border post, an air-gapped centre) it was blank; here
the same page loads Swagger UI from ``/docs/static/``, files of the ``fastapi-offline`` package from
PyPI (its ``static/`` folder: Swagger UI 5, a favicon). The gateway app is created with
``docs_url=None, redoc_url=None`` (:mod:`hub.gateway.app`) and includes this router instead. There is
no ``/redoc``: ReDoc fetches its logo from cdn.redoc.ly whatever it is given.

Like the other pages it is in English or Russian (the language chosen on any page is kept: the same
``hub.lang`` key): a bar above Swagger UI with the language switch and links to the officer page and
the desk, and ``static/docs.js``, which writes Swagger UI's own labels (buttons, headings, a few
attributes) in Russian — Swagger UI has no translations of its own. The API's OpenAPI document (the
operations' summaries and descriptions, names of parameters and fields) stays English; on the Russian
page it is marked ``lang="en"`` and a note says so.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from hub.pages.officer import STATIC

router = APIRouter(tags=["documentation"])

ASSETS = Path(str(files("fastapi_offline") / "static"))
OURS = {"docs.css": "text/css; charset=utf-8", "docs.js": "text/javascript; charset=utf-8"}  # of static/
SERVED = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}
TITLE = "CARICC intelligence-sharing hub — API"


BAR = """<a class="skip" href="#api" data-docs-text="skip">Skip to the API</a>
<header class="docs-bar">
  <nav><a href="/" data-docs-text="officer">Officer page</a> <a href="/desk" data-docs-text="desk">Agency desk</a></nav>
  <label><span data-docs-text="language">Language</span>
    <select id="lang"><option value="en">English</option><option value="ru">Русский</option></select></label>
</header>
<main id="api" tabindex="-1">
<p id="docs-note" class="docs-note" hidden data-docs-text="note"></p>
<div id="swagger-ui"></div>
</main>
"""


def _accessible(page: HTMLResponse) -> HTMLResponse:
    """The page with ``<html lang="en">`` (``docs.js`` switches it), our contrast fixes
    (``static/docs.css``) after Swagger UI's CSS, the language bar, and Swagger UI in ``<main>``."""
    html = bytes(page.body).decode("utf-8")
    html = html.replace("<html>", '<html lang="en">', 1).replace(
        "</head>", '<link rel="stylesheet" href="/docs/static/docs.css">\n'
                   '<script src="/docs/static/docs.js" defer></script>\n</head>', 1)
    html, n = re.subn(r'<body>\s*<div id="swagger-ui">\s*</div>', "<body>\n" + BAR,
                      html, count=1)
    if n != 1:
        raise RuntimeError("the Swagger UI page of FastAPI has changed: no <div id=\"swagger-ui\"> to put the bar before")
    return HTMLResponse(html)


@router.get("/docs", include_in_schema=False)
async def swagger_ui() -> HTMLResponse:
    # deepLinking off: with it, Swagger UI puts a link inside each operation's toggle button (nested
    # interactive controls, which screen readers cannot use); no validator badge (it calls validator.swagger.io)
    return _accessible(get_swagger_ui_html(
        openapi_url="/openapi.json", title=TITLE, swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css", swagger_favicon_url="/docs/static/favicon.png",
        swagger_ui_parameters={"deepLinking": False, "validatorUrl": None}))


@router.get("/docs/static/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    if name in OURS:
        return FileResponse(STATIC / name, media_type=OURS[name])
    media = SERVED.get(name)
    if media is None:
        raise HTTPException(404, f"name: no documentation file {name!r}")
    return FileResponse(ASSETS / name, media_type=media, headers={"Cache-Control": "public, max-age=86400"})
