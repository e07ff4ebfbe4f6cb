"""Gateway part: the agency desk page (SPEC §13) and the officer page's request panel.

``/desk`` — plain HTML/CSS/JS in ``hub/gateway/static/desk*`` (no build step, nothing from the
internet), for border liaison offices with a browser and a poor link. A desk user signs in with a
credential bound to one agency (``hub agency user add``), files reports in a form that shows the
field errors of SPEC §3 in plain words before sending (the gateway's dry run ``POST
/v1/reports/check``, and the same rules checked in the browser — ISO 6346 check digits included —
when the link is down), keeps unsent reports in the browser (``localStorage``) while the gateway is
unreachable and sends them when it returns (no loss; no duplicate: the hub is idempotent on agency,
source_ref and version), follows the status and receipts of the agency's reports live, and answers
the requests of recipients. Russian and English.

``/desk/static/officer-requests.{js,css}`` — the officer page's panel for requests to a report's
provider and their answers, and the provenance of SHARED copies (loaded by the officer page).

Same discipline as the officer page: untrusted text only through ``textContent``, and the strict
Content-Security-Policy of :mod:`hub.gateway.web` (no inline scripts or styles).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from hub.gateway.web import SECURITY_HEADERS, STATIC

router = APIRouter(tags=["desk page"])

FILES = {"desk.js": "text/javascript", "desk-i18n.js": "text/javascript", "desk-rules.js": "text/javascript",
         "desk.css": "text/css", "officer-requests.js": "text/javascript", "officer-requests.css": "text/css"}


@router.get("/desk", include_in_schema=False)
async def desk() -> FileResponse:
    return FileResponse(STATIC / "desk.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/desk/static/{name}", include_in_schema=False)
async def static(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404, f"name: no static file {name!r}")
    return FileResponse(STATIC / name, media_type=f"{FILES[name]}; charset=utf-8", headers=SECURITY_HEADERS)
