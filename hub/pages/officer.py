"""Gateway part: the liaison officer's web page (SPEC §8), and how every page of the gateway is served.

Plain HTML/CSS/JS files in ``hub/pages/static`` (no build step, nothing from the internet). The
page signs in with an officer token, follows the SSE feed (``fetch`` with the bearer header, so the
token never goes into a URL), groups items by incident, filters them, shows the detail with
enrichment, handling code and evaluation, and acknowledges. Untrusted text is only ever put into
the page with ``textContent``; a strict Content-Security-Policy forbids inline scripts.

Every page (this one at ``/``, the agency desk at ``/desk``: :mod:`hub.pages.desk`) is the shared
shell ``static/page.html`` — the header with the language switch and sign-out, the sign-in form —
around the page's own ``<main>`` (``static/officer.html``, ``static/desk.html``), put together by
:func:`page`; ``static/common.js`` holds the scripts both pages share. :func:`add_page` serves a page
and the scripts and style sheets it names (:func:`asset`: only the files the part lists).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from string import Template

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

router = APIRouter(tags=["officer page"])

STATIC = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Page:
    """One page: its ``<main>`` (a file in ``static/``) and what the shell shows around it (English;
    the page's script switches the texts marked ``data-i18n``)."""

    main: str
    title: str
    heading: str
    token_label: str
    status_id: str  # the header's connection status element
    assets: tuple[str, ...]  # style sheets and scripts after style.css and common.js, in order
    body_class: str = ""

    def html(self) -> str:
        main = (STATIC / self.main).read_text(encoding="utf-8")
        if main.startswith("<!--"):  # the file's own comment, not part of the page
            main = main[main.index("-->") + 3:].lstrip("\n")
        assets = "\n".join(f'  <link rel="stylesheet" href="{a}">' if a.endswith(".css")
                           else f'  <script src="{a}" defer></script>' for a in self.assets)
        return Template((STATIC / "page.html").read_text(encoding="utf-8")).substitute(
            title=self.title, heading=self.heading, token_label=self.token_label, status_id=self.status_id,
            assets=assets, main=main, body_attrs=f' class="{self.body_class}"' if self.body_class else "")


def page(p: Page) -> Response:
    """The page as HTML with the security headers (read from its files on every request)."""
    return Response(p.html(), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


def asset(name: str, allowed: Collection[str]) -> FileResponse:
    """A script or style sheet of ``static/`` that the calling part serves (404 for any other name)."""
    media = MEDIA_TYPES.get(Path(name).suffix)
    if name not in allowed or media is None:
        raise HTTPException(404, f"name: no static file {name!r}")
    return FileResponse(STATIC / name, media_type=f"{media}; charset=utf-8", headers=SECURITY_HEADERS)


def add_page(router: APIRouter, path: str, p: Page, static_prefix: str, files: Collection[str]) -> None:
    """Serve page ``p`` at ``path`` and the named ``files`` of ``static/`` at ``{static_prefix}/{name}``."""

    async def serve_page() -> Response:
        return page(p)

    async def serve_asset(name: str) -> FileResponse:
        return asset(name, files)

    router.add_api_route(path, serve_page, methods=["GET"], include_in_schema=False)
    router.add_api_route(f"{static_prefix}/{{name}}", serve_asset, methods=["GET"], include_in_schema=False)


OFFICER_PAGE = Page("officer.html", title="CARICC hub — liaison officer", heading="Liaison officer feed",
                    token_label="Officer token", status_id="status",
                    assets=("/static/i18n.js", "/static/app.js", "/desk/static/officer-requests.css",
                            "/desk/static/officer-requests.js", "/static/analyst.js"))
add_page(router, "/", OFFICER_PAGE, "/static", {"app.js", "style.css", "i18n.js", "common.js"})
