"""Gateway part: the agency desk page (SPEC §13) and the officer page's request panel.

``/desk`` — plain HTML/CSS/JS in ``hub/pages/static/desk*`` (no build step, nothing from the
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
Content-Security-Policy of :mod:`hub.pages.officer` (no inline scripts or styles); the page is the shared
shell of :mod:`hub.pages.officer` (header, sign-in) around ``static/desk.html``.
"""

from __future__ import annotations

from fastapi import APIRouter

from hub.pages.officer import Page, add_page

router = APIRouter(tags=["desk page"])

DESK_PAGE = Page("desk.html", title="CARICC hub — agency desk", heading="Agency desk", token_label="Desk token",
                 status_id="link", body_class="desk",
                 assets=("/desk/static/desk.css", "/desk/static/desk-i18n.js", "/desk/static/desk-rules.js",
                         "/desk/static/desk.js"))
add_page(router, "/desk", DESK_PAGE, "/desk/static",
         {"desk.js", "desk-i18n.js", "desk-rules.js", "desk.css", "officer-requests.js", "officer-requests.css"})
