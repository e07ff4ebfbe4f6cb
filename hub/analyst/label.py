"""Short readable labels of incidents (pure).

An incident id is a keyed hash (SPEC §5), unreadable on a screen or a phone call. Its label is
derived from that id and nothing else — a SHA-256 of the id cut to 40 bits, written as two groups
of four Crockford base-32 symbols (no I, L, O, U: nothing to confuse with 1 and 0): ``K7QM-4XD2``.
It reveals no more than the id itself (no counter, no date, no state, no report), and like the id
it is per state: a state sees an incident under the id derived from the earliest report of it that
the state may see. 40 bits keep accidental clashes unlikely (about 0.5 % for 100,000 incidents of
one state); a lookup by label that finds two incidents says so.
"""

from __future__ import annotations

import hashlib
import re

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = str.maketrans({"I": "1", "L": "1", "O": "0"})
LABEL = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-?[0-9A-HJKMNP-TV-Z]{4}$")


def label(incident_id: str) -> str:
    n = int.from_bytes(hashlib.sha256(b"hub-incident-label\x1f" + incident_id.encode()).digest()[:5], "big")
    chars = "".join(ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(8)))
    return f"{chars[:4]}-{chars[4:]}"


def parse_label(text: str) -> str | None:
    """A label typed by a person (any case, with or without the dash, O for 0, I/L for 1), or None."""
    t = text.strip().upper().replace(" ", "").translate(_DECODE)
    if not LABEL.match(t):
        return None
    t = t.replace("-", "")
    return f"{t[:4]}-{t[4:]}"
