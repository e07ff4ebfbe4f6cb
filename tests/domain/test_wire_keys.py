"""The wire-record builders (hub/domain/wire.py) and the hub's secrets (hub/platform/keys.py)."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hub.domain import wire
from hub.domain.codec import AUDIT_BATCH, REPORT, codec
from hub.pipeline.core.validate import Message
from hub.platform import keys
from hub.platform.kafka.topics import AUDIT, INTAKE
from hub.platform.settings import load
from tests.factories import report


def test_intake_record_is_keyed_by_agency_and_source_ref_with_the_idempotency_header() -> None:
    r = report()
    rec = wire.intake_record(r)
    assert rec.topic == INTAKE and rec.key == b"KZ-CUSTOMS:KZ-CUS-2026-00042"
    assert codec().decode(rec.value, expect=REPORT)["source_ref"] == "KZ-CUS-2026-00042"
    assert wire.header(rec.headers, wire.IDEMPOTENCY_KEY) == "KZ-CUSTOMS|KZ-CUS-2026-00042|1"
    assert wire.header(rec.headers, wire.REPORT_ID) == r["report_id"]
    unassigned = wire.intake_record(dict(r, report_id=""))  # the SDK's Kafka-native form
    assert wire.header(unassigned.headers, wire.REPORT_ID) is None


def test_dead_letter_ids_depend_on_position_and_stage_only() -> None:
    m = Message("hub.intake", 1, 7, b"k", b"\x00bad", [("trace_id", b"t")])
    a = wire.dead_letter(m, stage="validate", reason="undecodable: x", now_ms=1)
    b = wire.dead_letter(m, stage="validate", reason="another reason", now_ms=2)
    c = wire.dead_letter(m, stage="sink", reason="undecodable: x", now_ms=1)
    assert a["dead_letter_id"] == b["dead_letter_id"] != c["dead_letter_id"]
    assert a["value"] == b"\x00bad" and a["headers"] == [{"key": "trace_id", "value": b"t"}]
    assert wire.dead_letter_record(a).key == a["dead_letter_id"].encode()


def test_audit_key_report_then_actor_then_event() -> None:
    assert wire.audit_key({"report_id": "R-1", "actor": "a", "event_id": "A-1"}) == b"R-1"
    assert wire.audit_key({"report_id": None, "actor": "officer:x", "event_id": "A-1"}) == b"officer:x"
    assert wire.audit_key({"report_id": None, "actor": None, "event_id": "A-1"}) == b"A-1"
    ev = {"event_id": "A-1", "stage": "DELIVERED", "occurred_at": 1, "report_id": "R-1", "version": 1,
          "agency": None, "state": "KZ", "actor": "x", "recipients": [], "reason": None, "detail": {},
          "trace_id": None}
    rec = wire.audit_record(ev)
    assert rec.topic == AUDIT and wire.header(rec.headers, wire.EVENT_ID) == "A-1"


def test_audit_batch_records_split_every_n_events_keyed_like_their_first_with_the_count() -> None:
    events = [{"event_id": f"A-{i}", "stage": "DELIVERED", "occurred_at": i, "report_id": f"R-{i}", "version": 1,
               "agency": None, "state": "KZ", "actor": "x", "recipients": [], "reason": None, "detail": {},
               "trace_id": None} for i in range(5)]
    recs = wire.audit_batch_records(events, per_record=2)
    assert [r.key for r in recs] == [b"R-0", b"R-2", b"R-4"] and {r.topic for r in recs} == {AUDIT}
    assert [wire.header(r.headers, wire.EVENTS) for r in recs] == ["2", "2", "1"]
    decoded = [e for r in recs for e in codec().decode(r.value, expect=AUDIT_BATCH)["events"]]
    assert [e["event_id"] for e in decoded] == [e["event_id"] for e in events]


def test_dev_profile_creates_one_private_key_file_shared_by_concurrent_starters(tmp_path: Path) -> None:
    s = load({}, data_dir=str(tmp_path / "d"))
    with ThreadPoolExecutor(8) as pool:  # processes starting together must agree on the key
        values = set(pool.map(lambda _: keys._secret(s, "id_key"), range(16)))
    assert len(values) == 1
    path = tmp_path / "d" / "id.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys._secret(s, "id_key") == path.read_bytes().strip()
    assert keys._secret(s, "audit_key") != keys._secret(s, "id_key")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["audit.key", "id.key"]  # no temp files left


def test_production_profile_requires_the_secrets(tmp_path: Path) -> None:
    s = load({}, kafka_bootstrap="kafka:9092", data_dir=str(tmp_path))
    with pytest.raises(keys.MissingSecret, match="HUB_ID_KEY is required"):
        keys._secret(s, "id_key")
    with pytest.raises(keys.MissingSecret, match="at least 16"):
        keys._secret(s.replace(audit_key="short"), "audit_key")
    assert keys._secret(s.replace(id_key="x" * 20), "id_key") == b"x" * 20
    assert not list(tmp_path.iterdir())  # nothing written in production


def test_secrets_do_not_appear_in_the_settings_repr() -> None:
    s = load({}, id_key="very-secret-id-key-value", audit_key="very-secret-audit-key")
    assert "very-secret" not in repr(s)


def test_keyed_id_is_hmac_sha256_of_the_parts_joined_by_us() -> None:
    """The id formula, recomputed with the standard library's one-shot HMAC (ids must never change:
    a running hub's stored ids depend on it)."""
    import hmac

    from hub.platform.keys import keyed_id

    for key in (b"k" * 32, b"another key"):
        want = hmac.digest(key, b"UZ-CUSTOMS\x1fUZ-2026-000123", "sha256").hex()[:24]
        assert keyed_id(key, "R-", "UZ-CUSTOMS", "UZ-2026-000123") == f"R-{want}"
        assert keyed_id(key, "I-", "x", length=8) == "I-" + hmac.digest(key, b"x", "sha256").hex()[:8]


def test_source_position_reads_back_as_the_audit_detail() -> None:
    m = Message("hub.intake.agency.KZ-NATIVE", 3, 41, b"k", b"v", [])
    assert wire.source_position(m) == "hub.intake.agency.KZ-NATIVE/3/41"
    written = {k: str(v) for k, v in wire.source_detail(m).items()}  # audit details are text
    assert wire.position_detail(wire.source_position(m)) == written == {
        "topic": "hub.intake.agency.KZ-NATIVE", "partition": "3", "offset": "41"}
    assert wire.position_detail(None) == {"topic": "", "partition": "", "offset": ""}
