"""Kafka-native identity (SPEC §7): the pure check, validate() with it, the cached directory reader
(revocation within the refresh bound, fail closed when the directory cannot be read), and the
per-agency intake topics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.directory.agencies import Directory, DirectoryCache, intake_topics, kafka_native_codes
from hub.domain.codec import REPORT, codec
from hub.pipeline.core.identity import AgencyStanding, check, topic_agency
from hub.pipeline.core.validate import Message, validate
from hub.platform.db import Database
from hub.platform.kafka.topics import INTAKE, agency_intake, ensure_topics
from hub.platform.settings import Settings
from tests.conftest import hub_settings
from tests.factories import report

S = hub_settings()
NOW = datetime.now(UTC)
DIRECTORY = {
    "KZ-NATIVE": AgencyStanding("KZ-NATIVE", "KZ", kafka_native=True, revoked=False),
    "KG-NATIVE": AgencyStanding("KG-NATIVE", "KG", kafka_native=True, revoked=True),
    "UZ-REST": AgencyStanding("UZ-REST", "UZ", kafka_native=False, revoked=False),
}


def rep(agency: str, state: str) -> dict:
    return report(agency, state, source_ref="X-1", report_id="")


def test_topic_agency() -> None:
    assert topic_agency(INTAKE) is None
    assert topic_agency(agency_intake("KZ-NATIVE")) == "KZ-NATIVE"
    with pytest.raises(ValueError):
        topic_agency("hub.feed.KZ")


@pytest.mark.parametrize(("topic", "agency", "state", "problem"), [
    (agency_intake("KZ-NATIVE"), "KZ-NATIVE", "KZ", None),
    (INTAKE, "ANYONE", "KZ", None),  # the gateway's topic: identity already checked by its key
    (agency_intake("KZ-NATIVE"), "UZ-CUSTOMS", "UZ", "agency: 'UZ-CUSTOMS' is not the topic's agency KZ-NATIVE"),
    (agency_intake("KZ-NATIVE"), "KZ-NATIVE", "UZ", "reporter_state: 'UZ' is not KZ-NATIVE's state KZ"),
    (agency_intake("GHOST"), "GHOST", "KZ", "agency GHOST is not in the agency directory"),
    (agency_intake("KG-NATIVE"), "KG-NATIVE", "KG", "agency KG-NATIVE is revoked"),
    (agency_intake("UZ-REST"), "UZ-REST", "UZ", "agency UZ-REST is not registered as a Kafka-native agency"),
])
def test_check(topic: str, agency: str, state: str, problem: str | None) -> None:
    assert check(topic, rep(agency, state), DIRECTORY) == problem


def test_check_fails_closed_without_a_directory() -> None:
    assert "directory" in (check(agency_intake("KZ-NATIVE"), rep("KZ-NATIVE", "KZ"), None) or "")
    assert check(INTAKE, rep("KZ-NATIVE", "KZ"), None) is None


def msg(topic: str, r: dict, offset: int = 3) -> Message:
    return Message(topic, 0, offset, b"k", codec().encode(REPORT, r), [("trace_id", b"t-1")])


def test_validate_rejects_a_forged_agency_without_touching_its_trail() -> None:
    m = msg(agency_intake("KZ-NATIVE"), rep("UZ-CUSTOMS", "UZ"))
    out = validate(m, settings=S, now=NOW, directory=DIRECTORY)
    assert out.report is None and out.reason == "identity" and out.agency == "KZ-NATIVE"
    assert out.dead_letter["value"] == m.value and out.dead_letter["report_id"] is None
    assert out.dead_letter["reason"].startswith("identity: agency: 'UZ-CUSTOMS' is not the topic's agency")
    assert [(a["stage"], a["report_id"], a["agency"]) for a in out.audit] == [("REJECTED", None, "KZ-NATIVE")]
    assert out.audit[0]["detail"]["claimed_agency"] == "UZ-CUSTOMS"


def test_validate_rejects_the_wrong_state_in_the_agencys_own_trail() -> None:
    out = validate(msg(agency_intake("KZ-NATIVE"), rep("KZ-NATIVE", "UZ")), settings=S, now=NOW, directory=DIRECTORY)
    assert out.report is None and "is not KZ-NATIVE's state KZ" in out.dead_letter["reason"]
    assert [a["stage"] for a in out.audit] == ["RECEIVED", "REJECTED"]
    assert out.audit[1]["report_id"] == out.dead_letter["report_id"] is not None


def test_validate_accepts_the_agency_on_its_topic_and_the_gateways_topic() -> None:
    ok = validate(msg(agency_intake("KZ-NATIVE"), rep("KZ-NATIVE", "KZ")), settings=S, now=NOW, directory=DIRECTORY)
    assert ok.report is not None, ok.dead_letter
    gw = validate(msg(INTAKE, rep("UZ-CUSTOMS", "UZ")), settings=S, now=NOW)
    assert gw.report is not None, gw.dead_letter
    closed = validate(msg(agency_intake("KZ-NATIVE"), rep("KZ-NATIVE", "KZ")), settings=S, now=NOW)
    assert closed.report is None and "directory" in closed.dead_letter["reason"]  # no directory given: closed


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_directory_cache_applies_a_revocation_within_the_refresh_interval(tmp_path: Path) -> None:
    s = hub_settings(data_dir=str(tmp_path), directory_refresh_ms=5000)
    d = Directory(Database(s.db_url), s.states)
    d.add("KZ-NATIVE", "KZ", "native", kafka_native=True)
    clock = Clock()
    cache = DirectoryCache(s, clock=clock)
    snap = cache.snapshot()
    assert snap is not None and snap["KZ-NATIVE"] == AgencyStanding("KZ-NATIVE", "KZ", True, False)
    d.revoke("KZ-NATIVE")
    clock.t += 4
    assert cache.snapshot()["KZ-NATIVE"].revoked is False  # type: ignore[index]  # within the bound: old view
    clock.t += 1
    assert cache.snapshot()["KZ-NATIVE"].revoked is True  # type: ignore[index]  # refreshed at the bound
    d.issue_key("KZ-NATIVE")  # a new key reinstates the agency
    clock.t += 5
    assert cache.snapshot()["KZ-NATIVE"].revoked is False  # type: ignore[index]


def test_directory_cache_fails_closed_when_the_database_stays_unreadable(tmp_path: Path) -> None:
    s = hub_settings(data_dir=str(tmp_path), directory_refresh_ms=1000)
    d = Directory(Database(s.db_url), s.states)
    d.add("KZ-NATIVE", "KZ", "native", kafka_native=True)
    clock = Clock()
    cache = DirectoryCache(s, clock=clock)
    assert cache.snapshot() is not None
    (tmp_path / "hub.db").unlink()
    (tmp_path / "hub.db").mkdir()  # the database cannot be opened any more
    cache.db.close()
    clock.t += 5
    assert cache.snapshot() is not None  # the last good view, for a while
    clock.t += 60
    assert cache.snapshot() is None  # then closed: Kafka-native records are rejected (replayable DLQ)


def test_kafka_native_topics_are_created_and_subscribed(settings: Settings) -> None:
    d = Directory(Database(settings.db_url), settings.states)
    d.add("TJ-NATIVE", "TJ", "native", kafka_native=True)
    d.add("TJ-REST", "TJ", "rest only")
    created = asyncio.run(ensure_topics(settings, agency_codes=kafka_native_codes(settings)))
    assert agency_intake("TJ-NATIVE") in created and agency_intake("TJ-REST") not in created
    assert agency_intake("TJ-NATIVE") in intake_topics(settings)
    assert asyncio.run(ensure_topics(settings, agency_codes=kafka_native_codes(settings))) == []
