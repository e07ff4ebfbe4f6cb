"""Hypothesis strategies of the reliability suite: values of any Avro schema, and any JSON."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Examples per property; CI keeps the default, a soak run raises it (HUB_FUZZ_EXAMPLES=5000).
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "200"))

# No deadline: the suite makes no timing assertions.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

MIN_MS = -62_135_596_800_000 + 86_400_000  # 0001-01-02, inside datetime's range in any zone
MAX_MS = 253_402_300_799_999 - 86_400_000  # 9999-12-30


def _names(schema: Any, out: dict[str, Any], ns: str = "") -> dict[str, Any]:
    if isinstance(schema, list):
        for s in schema:
            _names(s, out, ns)
    elif isinstance(schema, dict):
        t = schema.get("type")
        if t in ("record", "enum", "fixed", "error"):
            ns = schema.get("namespace", ns)
            out[f"{ns}.{schema['name']}" if "." not in schema["name"] else schema["name"]] = schema
            for f in schema.get("fields", []):
                _names(f["type"], out, ns)
        elif t == "array":
            _names(schema["items"], out, ns)
        elif t == "map":
            _names(schema["values"], out, ns)
        elif isinstance(t, (dict, list)):
            _names(t, out, ns)
    return out


def avro_values(schema: Any) -> st.SearchStrategy[Any]:
    """Values that match an (expanded) Avro schema, timestamps as int milliseconds."""
    names = _names(schema, {})

    def build(s: Any) -> st.SearchStrategy[Any]:
        if isinstance(s, str):
            prim = {
                "null": st.none(), "boolean": st.booleans(),
                "int": st.integers(-(2**31), 2**31 - 1), "long": st.integers(-(2**63), 2**63 - 1),
                "float": st.floats(width=32, allow_nan=False),
                "double": st.floats(allow_nan=False), "bytes": st.binary(max_size=64),
                "string": st.text(max_size=40),
            }
            if s in prim:
                return prim[s]
            return st.deferred(lambda: build(names[s]))
        if isinstance(s, list):
            return st.one_of([build(x) for x in s])
        t = s["type"]
        if s.get("logicalType") == "timestamp-millis":
            return st.integers(MIN_MS, MAX_MS)
        if t == "record" or t == "error":
            return st.fixed_dictionaries({f["name"]: build(f["type"]) for f in s["fields"]})
        if t == "enum":
            return st.sampled_from(s["symbols"])
        if t == "array":
            return st.lists(build(s["items"]), max_size=3)
        if t == "map":
            return st.dictionaries(st.text(max_size=10), build(s["values"]), max_size=3)
        if t == "fixed":
            return st.binary(min_size=s["size"], max_size=s["size"])
        return build(t)

    return build(schema)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    # strings a careless validator mishandles
    st.sampled_from(["", " ", "\x00", "\ud800", "<script>alert(1)</script>", "0", "-1", "1e309",
                     "NaN", "Infinity", "ＫＺ", "kz", "K\u0417", "2026-13-45T99:99:99Z",
                     "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "\u202eRLO", "x" * 2000]),
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def deep(depth: int, leaf: Any = 1) -> Any:
    """A value nested ``depth`` lists deep (built iteratively)."""
    v: Any = leaf
    for _ in range(depth):
        v = [v]
    return v
