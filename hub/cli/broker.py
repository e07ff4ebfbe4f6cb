"""``hub broker``: run the embedded Kafka-protocol broker (Tansu) in the foreground."""

from __future__ import annotations

import signal
import threading

import click

from hub.platform.kafka.embedded import EmbeddedBroker
from hub.platform.settings import Settings


@click.command()
@click.option("--port", type=int, help="listen port (default HUB_EMBEDDED_PORT)")
@click.pass_obj
def broker(settings: Settings, port: int | None) -> None:
    """Run the embedded broker (memory only: data is lost when it stops) until Ctrl-C.

    For a real Apache Kafka on this machine (KRaft, data kept, optional SASL_SSL): `hub kafka start`."""
    b = EmbeddedBroker(port or settings.embedded_port).start()
    click.echo(f"embedded broker listening on {b.bootstrap} (pid {b.proc.pid if b.proc else '?'}); Ctrl-C stops it")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and b.proc is not None and b.proc.poll() is None:
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()


commands = [broker]
