"""`hub worker` — the stream pipeline (faust app ``hub-pipeline``)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import click

from hub.platform.settings import Settings


def default_store(settings: Settings | None = None) -> str:
    """RocksDB (rocksdict) when installed, else memory -- on either broker.

    The tables live in ``HUB_DATA_DIR/faust-<port>`` and outlast the embedded broker, which keeps its
    topics (the tables' changelogs among them) in memory only: after a restart of `hub up` the worker
    still knows every report it decided, so a new version of one is an UPDATE, not NEW (issue 21,
    tests/reliability/test_restart_embedded.py). The embedded broker's changelogs then start empty,
    below the offsets RocksDB persisted; faust accepts that because the recovery consistency check
    is off on the embedded broker (hub/platform/kafka/embedded.py FAUST_OVERRIDES), and the next
    write to a changelog resets its persisted offset. `hub up` refuses to run over earlier decisions
    that neither the broker nor these tables hold (hub/cli/up.py ``untrusted_state``).
    """
    return "rocksdb://" if importlib.util.find_spec("rocksdict") else "memory://"


@click.command("worker")
@click.option("--port", type=int, default=None, help="web port for /metrics, /healthz, /readyz "
              "(default: HUB_WORKER_PORT).")
@click.option("--store", type=click.Choice(["auto", "memory", "rocksdb"]), default="auto", show_default=True,
              help="table store: RocksDB (rocksdict) when installed, else memory (tables rebuilt from "
              "their changelogs; lost with the embedded broker).")
@click.option("--bind", default="127.0.0.1", envvar="HUB_WORKER_BIND", show_default=True,
              help="address the web port listens on (0.0.0.0 in containers so Prometheus can scrape it).")
@click.option("--loglevel", default="warning", show_default=True, help="faust's own log level.")
@click.pass_obj
def worker(settings: Settings, port: int | None, store: str, bind: str, loglevel: str) -> None:
    """Run the pipeline worker: validate → dedup/correlate → enrich → route.

    Creates the hub's topics first (idempotent; refuses a hub.intake with more than one partition),
    then consumes hub.intake once per report (validate and decide in one step) and produces the feed
    topics, hub.receipts, hub.dlq, hub.audit and hub.pipeline.validated. Serves /metrics, /healthz and
    /readyz (503 while tables recover) on the web port. More workers are standbys of the sequenced
    stage and share the Kafka-native agencies' intake topics.
    """
    from faust import Worker

    from hub.directory.agencies import kafka_native_codes
    from hub.pipeline.shell.app import create_app, tune_gc
    from hub.platform.kafka.topics import changelog_topics, check_sequenced, ensure_topics

    asyncio.run(ensure_topics(settings, agency_codes=kafka_native_codes(settings)))
    try:
        asyncio.run(check_sequenced(settings))
    except RuntimeError as e:
        raise click.ClickException(str(e)) from e
    url = default_store(settings) if store == "auto" else f"{store}://"
    port = port or settings.worker_port
    data_dir = Path(settings.data_dir) / f"faust-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, store=url, web_port=port, web_bind=bind, data_dir=str(data_dir))
    asyncio.run(ensure_topics(settings, specs=changelog_topics(app)))  # before faust needs them
    w = Worker(app, loglevel=loglevel, quiet=True)
    tune_gc()  # fewer young-generation collections per report (see GC_GEN0_THRESHOLD)
    # faust's terminal spinner sets the ROOT logger to DEBUG (it spins on every record), which
    # makes every logger.debug() in faust/aiokafka build a LogRecord: ~10% of the worker's CPU.
    w.spinner = None
    w.execute_from_commandline()


commands = [worker]
