"""Enrichment pieces (SPEC §6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.pipeline.core import enrich
from tests.factories import report


@pytest.mark.parametrize(("cyr", "lat"), [
    ("қ ғ ү ұ ө ә һ ң ў ҳ ҷ ӣ", "q gh u u o a h ng o h j i"),
    ("Рахимов Фаррух", "Rakhimov Farrukh"),
    ("Қўшмақов Ғайратжон", "Qoshmaqov Ghayratzhon"),
    ("Ҷалолов Ӯткир", "Jalolov Utkir"),
])
def test_transliteration_of_central_asian_letters(cyr: str, lat: str) -> None:
    assert enrich.latin(cyr) == lat


@pytest.mark.parametrize(("a", "b"), [
    ("Рахимов Фаррух", "Farrukh Rahimov"),
    ("Рахимов Фаррух", "RAKHIMOV FARRUKH"),
    ("Қўшмақов Ғайратжон", "Qo'shmaqov G'ayratjon"),
    ("Сейткали Нурлан", "Nurlan Seitkali"),
    ("ООО Восток Транзит", "Vostok Tranzit LLC"),
    ("Рахимов Фаррух Абдуллоевич", "Rakhimov Farrukh"),  # a patronymic left out is no difference
    ("Смирнов Андрей Викторович", "Andrey Smirnov"),
    ("Karimov Dilshod Rustam o'g'li", "Каримов Дилшод"),
    ("Rakhimov Farrukh Abdulloevich", "Рахимов Фаррух Абдуллоевич"),
])
def test_names_link_across_scripts_and_word_order(a: str, b: str) -> None:
    assert enrich.name_score(a, b) >= enrich.NAME_MATCH_THRESHOLD
    assert enrich.scored_names(a, [b]) == {b: enrich.name_score(a, b)}
    assert set(enrich.block_keys(a)) & set(enrich.block_keys(b))


@pytest.mark.parametrize(("a", "b"), [
    ("Рахимов Фаррух", "Karimov Bakhtiyor"), ("Silk Way Cargo", "Sughd Fruit"),
    ("Рахимов Фаррух Абдуллоевич", "Rakhimov Farrukh Sergeevich"),  # two different patronymics: a difference
    ("Jovanovic Marko", "Marko"),  # two words: no patronymic to leave out
    ("Smirnov Aleksandr Viktorovich", "Смирнов Андрей Викторович"),  # the same surname and patronymic, another name
])
def test_different_names_do_not_link(a: str, b: str) -> None:
    assert enrich.name_score(a, b) < enrich.NAME_MATCH_THRESHOLD
    assert enrich.scored_names(a, [b]) == {}  # the entity links' pool scoring keeps the same rule


def test_the_report_own_enrichment_and_its_risk() -> None:
    """own_parts (the same for every view) and the risk score decide() builds from them."""
    r = report(substances=[
        {"type": "HEROIN", "name": "героин", "quantity": 12.5, "unit": "KG", "concealment": "CARGO",
         "concealment_detail": "false floor"},
        {"type": "HEROIN", "name": None, "quantity": 500, "unit": "G", "concealment": "CARGO",
         "concealment_detail": None},
        {"type": "TRAMADOL", "name": None, "quantity": 3000, "unit": "TABLETS", "concealment": "CARGO",
         "concealment_detail": None},
    ], conveyance={"mode": "SEA", "container_numbers": ["CSQU3054383"], "transport_document": None,
                   "vehicle_plate": None, "wagon_number": None, "flight": None})
    e = enrich.own_parts(r, enrich.refdata())
    score, reasons = enrich.risk_from(enrich.risk_parts(r, totals=e["substance_totals"], hits=e["watchlist_hits"],
                                                        data=enrich.refdata()), 1)
    assert e["containers"] == [{"number": "CSQU3054383", "valid": True, "owner_code": "CSQ", "check_digit": 3}]
    assert e["hs_description"] == "Fruit, edible; apricots, dried"
    assert {(t["type"], t["unit"]): t["quantity_kg"] for t in e["substance_totals"]} == {
        ("HEROIN", "KG"): 12.5, ("HEROIN", "G"): 0.5, ("TRAMADOL", "TABLETS"): None}
    assert e["party_names"] == [{"name": "Рахимов Фаррух", "latin": "Rakhimov Farrukh"}]
    assert [h["watchlist"] for h in e["watchlist_hits"]] == ["regional_suspects"]
    assert 0 <= score <= 100 and score >= 80
    assert any("watchlist" in x for x in reasons)
    assert any("false floor" in x for x in reasons)
    assert any("also reported by 1 other agency" in x for x in reasons)


def test_low_risk_alert_scores_low() -> None:
    r = report(kind="ALERT", substances=[], parties=[], risk_indicators=["under-declared weight"],
               route=[], location={"country": "GE", "place": None, "unlocode": None, "lat": None, "lon": None})
    own = enrich.own_parts(r, enrich.refdata())
    parts = enrich.risk_parts(r, totals=own["substance_totals"], hits=own["watchlist_hits"], data=enrich.refdata())
    assert enrich.risk_from(parts, 0) == (25, ["+20 alert report", "+5 1 risk indicator(s)"])


def _hits(*names: str, data: enrich.RefData | None = None) -> list[tuple[str, str]]:
    enrich._WATCH.clear()
    r = report(parties=[{"role": "DRIVER", "name": n, "country": None, "identifier": None} for n in names])
    return [(h["name"], h["matched_name"]) for h in enrich.watchlist_hits(r, data or enrich.refdata())]


@pytest.mark.parametrize("name", [
    "Рахимов Фаррух Абдуллоевич",  # the entry is "Рахимов Фаррух": a patronymic it leaves out is no difference
    "Rakhimov Farrukh Abdulloevich",  # ... in the other script too
    "Farrukh Abdulloevich Rakhimov",  # ... and in another word order
    "Rahimov Farruh",  # no patronymic, another transliteration
])
def test_watchlist_hits_with_or_without_the_patronymic(name: str) -> None:
    assert _hits(name) == [(name, "Рахимов Фаррух")]


def test_watchlist_entry_with_a_patronymic(tmp_path: Path) -> None:
    """An entry written with the patronymic: the name without it is a hit, with the same one too (either
    script, the Central Asian "o'g'li" form), with a different one or a different given name is not."""
    data = tmp_path / "data"
    shutil.copytree(enrich.DATA, data)
    (data / "watchlists" / "with_patronymics.csv").write_text(
        "name,country,note\nКаримов Дилшод Рустам угли,UZ,test\nСмирнов Андрей Викторович,RU,test\n", encoding="utf-8")
    ref = enrich.refdata(str(data))
    assert _hits("Karimov Dilshod", "Andrey Smirnov", data=ref) == [
        ("Karimov Dilshod", "Каримов Дилшод Рустам угли"), ("Andrey Smirnov", "Смирнов Андрей Викторович")]
    assert _hits("Karimov Dilshod Rustam o'g'li", "Smirnov Andrey Viktorovich", data=ref) == [
        ("Karimov Dilshod Rustam o'g'li", "Каримов Дилшод Рустам угли"),
        ("Smirnov Andrey Viktorovich", "Смирнов Андрей Викторович")]
    assert _hits("Smirnov Andrey Sergeevich", "Smirnov Aleksandr Viktorovich", "Smirnov Aleksandr",
                 "Karimov Bobur Rustam o'g'li", data=ref) == []


@pytest.mark.parametrize("name", [
    "Рахимов Рустам Абдуллоевич",  # another given name, with a patronymic
    "Rakhimov Rustam",  # ... and without
    "Karimov Farrukh Abdulloevich",  # another surname
    "Farrukh Abdulloevich",  # two words: no patronymic to leave out, and no surname
])
def test_watchlist_precision_kept(name: str) -> None:
    assert _hits(name) == []
