"""Non-interference (SPEC §5) end to end on a real worker, for one fixed scenario (issue 12).

The pure property test (test_noninterference.py) checks decide(); this one checks the real stack:
``hub.intake`` → ``python -m hub worker`` (validate → hub.pipeline.validated → process) → the feed
topics and ``hub.receipts``, on a fresh broker per run.

The scenario: 22 report versions of five members and one partner -- every TLP, addressees,
partners (addressed, on the route, not addressed), two updates (one widens the route, one tightens
the TLP), correlations through a container number, a vehicle plate (Cyrillic look-alikes on one
side) and a transport document, party names shared across scripts and word orders, watchlist hits,
and hidden RED/AMBER_STRICT/AMBER reports that share identifiers and party names with visible ones.

1. The full sequence runs through one worker. What each recipient may see is judged from that run
   (its feed items, plus the versions its own state sent). The run's routing and every recipient's
   items and receipts must equal the pure decide()'s over the same sequence (so the reduced
   sequences could be prepared before any worker ran).
2. For every distinct reduced sequence (recipients that may see the same versions share one), a
   fresh broker and a fresh worker process run the sequence without the versions those recipients
   may not see. Each such recipient's feed items, and the receipts of its own state's reports, must
   equal the full run's, in order, except the processing timestamp ``routed_at``. Report and
   incident ids are keyed and deterministic, so they must match exactly.

Every topic has one partition (``HUB_PARTITIONS=1``), so the order on hub.pipeline.validated -- and
therefore "processed first" -- is the publishing order in every run. The counts of recipients,
reduced runs and items compared are printed at the end and recorded as test properties.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.domain.codec import AUDIT_BATCH, FEED_ITEM, RECEIPT, REPORT, codec
from hub.platform.kafka.embedded import free_port, stop_process
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.topics import AUDIT, INTAKE, RECEIPTS, ensure_topics, feed, recipient_of
from hub.platform.settings import Settings
from tests.conftest import HUB, broker_settings, hub_env, hub_settings, start_broker
from tests.factories import report
from tests.pipeline.decide_support import run_events, view_of, visible_to

pytestmark = [pytest.mark.slow, pytest.mark.both_brokers]
WAIT = 240.0  # hang guard only (not a speed assertion)
PARALLEL = 2  # reduced runs at once (each: a broker and a worker process)
DAY = timedelta(days=1)
# fixed for the whole module: every run publishes byte-identical reports
NOW = datetime.now(UTC).replace(microsecond=0)
AGENCY = {"KZ": "KZ-CUSTOMS", "UZ": "UZ-CUSTOMS", "TJ": "TJ-DCA", "RU": "RU-FCS", "KG": "KG-DCS", "AF": "AF-CNPA"}
RECIPIENTS = hub_settings().recipients
SUMMARY: dict[str, list[str]] = {}
PER_VIEW = ("risk_score", "risk_reasons", "entity_links", "prior_reports", "also_reported_by")


# ------------------------------------------------------------------------------ the scenario
def _conv(**kw: Any) -> dict[str, Any]:
    return {"mode": "ROAD", "container_numbers": [], "transport_document": None, "vehicle_plate": None,
            "wagon_number": None, "flight": None} | kw


def _party(name: str, ident: str | None = None, role: str = "DRIVER") -> dict[str, Any]:
    return {"role": role, "name": name, "country": "UZ", "identifier": ident}


def _rep(n: int, state: str, tlp: str, *, ref: str | None = None, version: int = 1, addressees: tuple[str, ...] = (),
         route: tuple[str, ...] = (), loc: str | None = None, conveyance: dict[str, Any] | None = None,
         parties: tuple[dict[str, Any], ...] = (), days_ago: float = 1.0, kind: str = "SEIZURE") -> dict[str, Any]:
    ref = ref or f"NIE-{state}-{n:03d}"
    extra: dict[str, Any] = {} if kind == "SEIZURE" else {"substances": []}
    return report(AGENCY[state], state, source_ref=ref, version=version, kind=kind, tlp=tlp,
                  addressees=list(addressees), route=[{"country": c, "place": None} for c in route],
                  location={"country": loc or state, "place": None, "unlocode": None, "lat": None, "lon": None},
                  conveyance=conveyance or _conv(vehicle_plate=f"SOLO{n:03d}"), parties=list(parties),
                  event_time=int((NOW - days_ago * DAY).timestamp() * 1000),
                  received_at=int((NOW - timedelta(minutes=30 - n)).timestamp() * 1000),
                  trace_id=f"nie-{n}", risk_indicators=["x"], **extra)


CONTAINER = "CSQU3054383"  # valid ISO 6346 check digit; also sent as "csqu 305438-3"
PLATE_CYR, PLATE_LAT = "01 А 555 ВС", "01A555BC"  # Cyrillic look-alikes fold onto the Latin plate
DOC = "CMR-2231"


def scenario() -> list[dict[str, Any]]:
    """The fixed sequence (publishing order = processing order)."""
    karimov, karimov_rev, karimov_cyr = _party("Karimov Aziz", "UZ-77"), _party("Aziz Karimov"), _party("Карімов Азіз")
    rakhimov_cyr, rakhimov = _party("Рахимов Фаррух", "TJ1234567"), _party("Rakhimov Farrukh")  # on a watchlist
    sughd = _party("Sughd Fruit LLC", role="SHIPPER")  # on a watchlist
    r03 = _rep(3, "UZ", "AMBER", route=("KZ", "TJ"), conveyance=_conv(vehicle_plate=PLATE_CYR),
               parties=(karimov_rev,), days_ago=2)
    r08 = _rep(8, "KZ", "GREEN", addressees=("TR",), conveyance=_conv(transport_document="cmr 2231"),
               parties=(rakhimov,), days_ago=1)
    return [
        # hidden RED to UZ only: shares the container and a party name with visible reports
        _rep(1, "TJ", "RED", addressees=("UZ",), conveyance=_conv(container_numbers=[CONTAINER]),
             parties=(karimov,), days_ago=3),
        _rep(2, "KZ", "GREEN", conveyance=_conv(container_numbers=["csqu 305438-3"]), days_ago=2),
        r03,
        # AMBER_STRICT to a member and an (addressed) partner: redacted copy for AF
        _rep(4, "RU", "AMBER_STRICT", addressees=("KZ", "AF"), conveyance=_conv(vehicle_plate=PLATE_LAT),
             parties=(_party("Ivanov Petr", "RU-1"),), days_ago=2),
        _rep(5, "KZ", "CLEAR", parties=(sughd, _party("Nurlan Seitkali")), days_ago=4),
        # AMBER addressed to a partner, a partner on the route who is not addressed (CN: nothing)
        _rep(6, "TJ", "AMBER", addressees=("GE",), route=("CN",), loc="RU", parties=(karimov_cyr,)),
        # hidden RED to the centre only, correlating through the document with a GREEN one
        _rep(7, "UZ", "RED", addressees=("CARICC",), conveyance=_conv(transport_document=DOC),
             parties=(rakhimov_cyr,), days_ago=1),
        r08,
        _rep(9, "RU", "AMBER", route=("KG", "TM"), loc="KZ", conveyance=_conv(container_numbers=[CONTAINER]),
             days_ago=2, kind="ALERT"),
        _rep(10, "TJ", "GREEN", addressees=("AF",), conveyance=_conv(vehicle_plate="777KZ02"),
             parties=(karimov,), days_ago=1),
        # hidden AMBER_STRICT to UZ and an addressed partner, on the container again
        _rep(11, "KZ", "AMBER_STRICT", addressees=("UZ", "CN"), conveyance=_conv(container_numbers=[CONTAINER]),
             parties=(karimov_rev,), days_ago=2),
        # CLEAR on the container: every recipient sees it, in an incident opened by what it may see
        _rep(12, "UZ", "CLEAR", conveyance=_conv(container_numbers=[CONTAINER.lower()]),
             parties=(karimov_cyr, rakhimov), days_ago=1),
        _rep(13, "RU", "RED", addressees=("TJ",), parties=(_party("Рахимов Фаррух"),), days_ago=1),
        # the same container 10 days earlier: outside the correlation window
        _rep(14, "KZ", "GREEN", conveyance=_conv(container_numbers=[CONTAINER]), days_ago=13),
        _rep(15, "TJ", "AMBER", route=("AF", "UZ", "KZ"), parties=(sughd, karimov), days_ago=1),
        # update of r03: the route now also crosses RU -> UPDATE to earlier recipients, RU new
        _rep(3, "UZ", "AMBER", ref=r03["source_ref"], version=2, route=("KZ", "TJ", "RU"),
             conveyance=r03["conveyance"], parties=r03["parties"], days_ago=2),
        # a partner reports (AF): AMBER to KZ, on the plate
        _rep(17, "AF", "AMBER", addressees=("KZ",), conveyance=_conv(vehicle_plate=PLATE_CYR),
             parties=(karimov_rev,), days_ago=1),
        _rep(18, "UZ", "GREEN", conveyance=_conv(container_numbers=[CONTAINER], vehicle_plate=PLATE_LAT),
             parties=(_party("Petr Ivanov"),), days_ago=1),
        # hidden RED to two members, on the plate and a shared name
        _rep(19, "TJ", "RED", addressees=("KZ", "UZ"), conveyance=_conv(vehicle_plate=PLATE_LAT),
             parties=(karimov_rev,), days_ago=1),
        _rep(20, "KG", "CLEAR", conveyance=_conv(transport_document="CMR 2231"), parties=(_party("Ivanov Petr"),),
             days_ago=1),
        # update of r08: tightened from GREEN to RED for UZ only (earlier recipients get nothing more)
        _rep(8, "KZ", "RED", ref=r08["source_ref"], version=2, addressees=("UZ",), conveyance=r08["conveyance"],
             parties=r08["parties"], days_ago=1),
        _rep(22, "RU", "GREEN", conveyance=_conv(transport_document=DOC, container_numbers=[CONTAINER]),
             parties=(karimov_cyr,), days_ago=1),
    ]


REPORTS = scenario()


# ------------------------------------------------------------------------------ one run
@dataclass
class Run:
    """What one worker produced: feed items per recipient and receipts, in topic order."""

    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    routed: dict[tuple[str, int], set[str]] = field(default_factory=dict)  # from the ROUTED audit events
    other: list[str] = field(default_factory=list)  # audit stages other than the expected ones

    def view(self, r: str) -> list[dict[str, Any]]:
        """What ``r`` receives, without processing timestamps: its items, then its state's receipts."""
        own = [x for x in self.receipts if x["state"] == r]
        return [_strip(x) for x in self.items.get(r, [])] + [_strip(x) for x in own]


def _strip(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != "routed_at"}


async def _publish_and_read(s: Settings, reports: list[dict[str, Any]]) -> Run:
    await ensure_topics(s)
    c = consumer(s, *[feed(r) for r in s.recipients], RECEIPTS, AUDIT, group_id=None)
    await c.start()
    run = Run()
    try:
        p = producer(s)
        await p.start()
        try:
            for r in reports:  # one at a time, acknowledged: the intake order is the list order
                await (await p.send(INTAKE, codec().encode(REPORT, r), key=f"{r['agency']}:{r['source_ref']}".encode(),
                                    headers=[("trace_id", r["trace_id"].encode())]))
        finally:
            await p.stop()

        def done() -> bool:
            want = sum(len(v) for v in run.routed.values())
            return (len(run.routed) >= len(reports) and sum(len(v) for v in run.items.values()) >= want
                    and len(run.receipts) >= len(reports))

        end = time.monotonic() + WAIT
        while not done():
            assert time.monotonic() < end, f"gave up waiting: {len(run.routed)}/{len(reports)} routed"
            await _poll(c, run)
        await _poll(c, run, 1000)  # anything extra would show in the comparison
    finally:
        await c.stop()
    return run


async def _poll(c: Any, run: Run, timeout_ms: int = 200) -> None:
    for tp, msgs in (await c.getmany(timeout_ms=timeout_ms)).items():
        for m in msgs:
            if tp.topic == RECEIPTS:
                run.receipts.append(codec().decode(m.value, expect=RECEIPT))
            elif tp.topic == AUDIT:
                name, batch = codec().decode_named(m.value)
                assert name == AUDIT_BATCH, name
                for a in batch["events"]:
                    if a["stage"] == "ROUTED":
                        run.routed[(a["report_id"], a["version"])] = set(a["recipients"])
                    elif a["stage"] not in ("RECEIVED", "VALIDATED", "ENRICHED", "CORRELATED"):
                        run.other.append(f"{a['stage']}: {a.get('reason')}")
            else:
                run.items.setdefault(recipient_of(tp.topic), []).append(codec().decode(m.value, expect=FEED_ITEM))


def run_worker(kind: str, workdir: Path, reports: list[dict[str, Any]]) -> Run:
    """``reports`` through a fresh broker of ``kind`` and a fresh ``hub worker`` process."""
    broker = start_broker(kind, workdir / "broker")
    try:
        s = broker_settings(broker, data_dir=str(workdir / "hub"), partitions=1)
        log = workdir / "worker.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([*HUB, "worker", "--port", str(free_port()), "--store", "memory"],
                                    env=hub_env(s), stdout=out, stderr=subprocess.STDOUT)
        try:
            run = asyncio.run(_publish_and_read(s, reports))
        finally:
            stop_process(proc, 20)
        assert b"Traceback" not in log.read_bytes(), log.read_text()[-4000:]
        return run
    finally:
        broker.stop()


# ------------------------------------------------------------------------------ the test
@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            for line in (x for lines in SUMMARY.values() for x in lines):
                tr.write_line(line)


@dataclass
class Pure:
    """The pure decide() over the scenario: routing, what each recipient may see, what it receives."""

    routed: dict[tuple[str, int], set[str]]
    keep: dict[str, tuple[int, ...]]  # recipient -> positions of the versions it may see
    views: dict[str, list[dict[str, Any]]]  # recipient -> its items then its receipts, via the codec


def _codec_form(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` (without ``routed_at``) as a consumer decodes it: timestamps as datetimes."""
    name = RECEIPT if "receipt_id" in value else FEED_ITEM
    return _strip(codec().decode(codec().encode(name, {**value, "routed_at": 0}), expect=name))


def _pure() -> Pure:
    events: list[tuple[Any, int]] = [(r, int(NOW.timestamp() * 1000) + i) for i, r in enumerate(REPORTS)]
    decisions = run_events(events)
    assert all(d.verdict in ("NEW", "UPDATE") for d in decisions), [d.verdict for d in decisions]
    routed = {(r["report_id"], r["version"]): {it["recipient"] for it in d.feed_items}
              for r, d in zip(REPORTS, decisions, strict=True)}
    views = {}
    for r in RECIPIENTS:
        got = view_of(decisions, r)
        views[r] = [_codec_form(x) for x in got if "item_id" in x] + [_codec_form(x) for x in got if "item_id" not in x]
    return Pure(routed, {r: tuple(visible_to(events, decisions, r)) for r in RECIPIENTS}, views)


def test_non_interference_end_to_end(broker_kind: str, tmp_path: Path,
                                     record_property: Callable[[str, object], None]) -> None:
    started = time.monotonic()
    pure = _pure()
    keep = pure.keep
    full = run_worker(broker_kind, tmp_path / "full", REPORTS)
    assert not full.other, full.other  # every version accepted and routed
    assert full.routed == pure.routed, "the worker routes the scenario as decide() does"
    for r in RECIPIENTS:  # and delivers exactly what decide() decides
        assert full.view(r) == pure.views[r], r

    # what each recipient may see, judged by the full run: routed to it, or sent by its state
    for r in RECIPIENTS:
        judged = tuple(i for i, x in enumerate(REPORTS)
                       if x["reporter_state"] == r or r in full.routed[(x["report_id"], x["version"])])
        assert judged == keep[r], r
    groups: dict[tuple[int, ...], list[str]] = {}
    for r in RECIPIENTS:
        if len(keep[r]) < len(REPORTS):
            groups.setdefault(keep[r], []).append(r)
    untouched = [r for r in RECIPIENTS if len(keep[r]) == len(REPORTS)]

    # the scenario is not trivial: items of every delivery kind, enrichment that refers to other
    # reports, partner redaction, and most recipients have hidden versions removed
    kinds = {it["delivery"] for v in full.items.values() for it in v}
    assert kinds == {"NEW", "UPDATE", "CORRELATED"}, kinds
    every = [it for v in full.items.values() for it in v]
    assert sum(bool(it["enrichment"]["also_reported_by"]) for it in every) >= 5
    assert sum(bool(it["enrichment"]["entity_links"]) for it in every) >= 5
    assert sum(bool(it["enrichment"]["watchlist_hits"]) for it in every) >= 5
    assert any(it["routing"]["redacted"] for it in every)
    # ... and views that differ: versions whose recipients see different incident ids / enrichment
    by_version: dict[str, list[dict[str, Any]]] = {}
    for it in every:
        by_version.setdefault(it["item_id"].rsplit(":", 1)[0], []).append(it)
    split_incident = sum(len({it["incident_id"] for it in v}) > 1 for v in by_version.values())
    split_enrichment = sum(len({repr({k: it["enrichment"][k] for k in PER_VIEW}) for it in v}) > 1
                           for v in by_version.values())
    assert split_incident >= 5 and split_enrichment >= 10, (split_incident, split_enrichment)
    assert len(groups) >= 5 and sum(map(len, groups.values())) >= 12, groups
    assert min(len(k) for k in groups) <= len(REPORTS) // 2  # some recipient misses half the scenario

    def reduced(job: tuple[int, tuple[int, ...]]) -> Run:
        n, positions = job
        return run_worker(broker_kind, tmp_path / f"reduced-{n}", [REPORTS[i] for i in positions])

    with ThreadPoolExecutor(PARALLEL) as pool:
        runs = list(pool.map(reduced, enumerate(groups)))

    compared = items = receipts = 0
    for (positions, recipients), part in zip(groups.items(), runs, strict=True):
        assert not part.other, part.other
        assert len(part.routed) == len(positions) < len(REPORTS)
        for r in recipients:
            want = full.view(r)
            assert part.view(r) == want, f"what {r} receives depends on reports it may not see"
            compared += 1
            items += len(full.items.get(r, []))
            receipts += len(want) - len(full.items.get(r, []))
    assert compared == len(RECIPIENTS) - len(untouched)
    assert items >= 100 and receipts >= 15, (items, receipts)
    hidden = {r: len(REPORTS) - len(keep[r]) for r in RECIPIENTS}
    line = (f"non-interference end to end [{broker_kind}]: {len(REPORTS)} report versions, "
            f"{compared} recipients compared in {len(groups)} reduced runs (+1 full run), {items} feed items "
            f"and {receipts} receipts compared ({split_incident} versions with per-view incident ids, "
            f"{split_enrichment} with per-view enrichment); hidden versions per recipient {hidden}; recipients that may see everything: "
            f"{untouched or 'none'}; {time.monotonic() - started:.0f} s")
    SUMMARY[broker_kind] = [line]
    print(line)
    for k, v in (("scenario_versions", len(REPORTS)), ("recipients_compared", compared),
                 ("reduced_runs", len(groups)), ("items_compared", items), ("receipts_compared", receipts)):
        record_property(k, v)
