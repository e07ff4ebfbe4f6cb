"""Gateway part: the liaison officer's web page (SPEC §8).

Plain HTML/CSS/JS files in ``hub/gateway/static`` (no build step, nothing from the internet). The
page signs in with an officer token, follows the SSE feed (``fetch`` with the bearer header, so the
token never goes into a URL), groups items by incident, filters them, shows the detail with
enrichment, handling code and evaluation, and acknowledges. Untrusted text is only ever put into
the page with ``textContent``; a strict Content-Security-Policy forbids inline scripts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

router = APIRouter(tags=["officer page"])

STATIC = Path(__file__).resolve().parent / "static"
FILES = {"app.js": "text/javascript", "style.css": "text/css", "i18n.js": "text/javascript"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404, f"name: no static file {name!r}")
    return FileResponse(STATIC / name, media_type=f"{FILES[name]}; charset=utf-8", headers=SECURITY_HEADERS)
