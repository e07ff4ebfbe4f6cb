"""The in-memory party index and its durable per-report records (hub/pipeline/parties.py)."""

from __future__ import annotations

import random

from hub.pipeline.parties import PartyIndex, record_names


def _live_and_records(versions: list[tuple[str, list[str]]], cap: int) -> tuple[PartyIndex, dict]:
    live, records = PartyIndex(cap), {}
    for seq, (rid, names) in enumerate(versions):
        records[rid] = record_names(records.get(rid), names, seq)
        for n in names:
            live.add(rid, n)
    return live, records


def test_candidates_share_a_block_key_across_scripts() -> None:
    idx = PartyIndex()
    idx.add("R-1", "Рахимов Фаррух")
    idx.add("R-2", "Ivanov Petr")
    found = idx.candidates(["Rakhimov Farrukh"])
    assert found == [{"name": "Рахимов Фаррух", "report_id": "R-1"}]
    assert idx.candidates(["Smith John"]) == []


def test_cap_keeps_the_newest_names_per_block() -> None:
    idx = PartyIndex(cap=2)
    for i in range(3):
        idx.add(f"R-{i}", "Karimov Aziz")
    assert [c["report_id"] for c in idx.candidates(["Karimov Aziz"])] == ["R-1", "R-2"]
    idx.add("R-1", "Karimov Aziz")  # re-added: moves to the end, R-2 is now the oldest
    idx.add("R-9", "Karimov Aziz")
    assert [c["report_id"] for c in idx.candidates(["Karimov Aziz"])] == ["R-1", "R-9"]


def test_record_names_moves_repeated_names_and_keeps_earlier_ones() -> None:
    rec = record_names(None, ["A B C", "D E F"], 3)
    rec = record_names(rec, ["A B C", "G H I"], 7)
    assert rec == [["D E F", 3], ["A B C", 7], ["G H I", 7]]


def test_rebuild_from_records_equals_the_live_index_in_any_order() -> None:
    rnd = random.Random(7)
    pool = ["Karimov Aziz", "Karimova Dilnoza", "Rakhimov Farrukh", "Kar Trans LLC", "Azimov Kamol",
            "Рахимов Фаррух", "Ivanov Petr", "Ivanova Anna"]
    versions = [(f"R-{rnd.randrange(40)}", rnd.sample(pool, rnd.randint(1, 3))) for _ in range(300)]
    live, records = _live_and_records(versions, cap=5)
    items = list(records.items())
    rnd.shuffle(items)
    rebuilt = PartyIndex.rebuild(items, cap=5)
    assert {b: list(e) for b, e in rebuilt.blocks.items()} == {b: list(e) for b, e in live.blocks.items()}
    assert rebuilt.candidates(pool) == live.candidates(pool)
