"""Reading report files (pure)."""

from __future__ import annotations

import pytest

from connectors.formats import read


def test_json_single_and_array() -> None:
    assert [r.label for r in read("a.json", b'{"source_ref": "x"}')] == ["report"]
    rows = read("a.JSON", b'[{"source_ref": "x"}, 3]')
    assert rows[0].body == {"source_ref": "x"} and rows[1].body is None
    assert rows[1].problem == "should be a JSON object, not int"
    with pytest.raises(ValueError, match="malformed JSON"):
        read("a.json", b"{")


def test_ndjson_names_the_bad_line_and_keeps_the_others() -> None:
    rows = read("a.ndjson", b'{"source_ref": "a"}\n\n{broken\n{"source_ref": "c"}\n')
    assert [(r.label, r.body is not None) for r in rows] == [("line 1", True), ("line 3", False), ("line 4", True)]
    assert rows[1].problem and rows[1].problem.startswith("malformed JSON")


def test_csv_problems() -> None:
    with pytest.raises(ValueError, match="unknown column"):
        read("a.csv", b"kind,shoe_size\nSEIZURE,42\n")
    with pytest.raises(ValueError, match="no header"):
        read("a.csv", b"")
    rows = read("a.csv", b"kind,source_ref\nSEIZURE,a,extra\n\nALERT,b\n")
    assert rows[0].problem == "has 1 more cells than the header"
    assert rows[1].label == "row 4" and rows[1].body == {"kind": "ALERT", "source_ref": "b"}
    with pytest.raises(ValueError, match="unsupported file type"):
        read("a.xml", b"<x/>")
