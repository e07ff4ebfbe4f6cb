"""The ``hub`` command. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import importlib

import click

from hub.platform import settings as settings_mod
from hub.platform.log import configure

# command modules, each exposing ``commands`` (a list of click commands/groups)
COMMAND_MODULES = (
    "hub.cli.broker",
    "hub.cli.kafka",  # a local Apache Kafka, ACLs
    "hub.cli.registry",  # a local Schema Registry (Apicurio)
    "hub.cli.topics",
    "hub.cli.up",
    "hub.cli.worker",  # pipeline
    "hub.cli.dlq",  # pipeline
    "hub.cli.agency",  # connectors
    "hub.cli.gateway",  # connectors
    "hub.cli.publish",  # connectors
    "hub.cli.connector",  # connectors
    "hub.cli.simulate",  # connectors
    "hub.cli.officer",  # feeds
    "hub.cli.feed",  # feeds
    "hub.cli.audit",  # audit store
    "hub.cli.sink",  # audit store + feed store
    "hub.cli.bench",  # performance
    "hub.cli.status",  # provider (SPEC §13)
)

EPILOG = (
    "Configuration (environment variables; also keys of the TOML file given by HUB_CONFIG):\n\n\b\n"
    + settings_mod.help_table()
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
             epilog=EPILOG)
@click.option("--config", type=click.Path(exists=True, dir_okay=False), envvar="HUB_CONFIG",
              help="TOML config file (keys = setting names without HUB_).")
@click.version_option(package_name="caricc-hub")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Regional intelligence-sharing hub (CARICC model).

    Agencies publish ALERT and SEIZURE reports; the hub validates, deduplicates, correlates,
    enriches and routes them by member state to liaison officers' feeds, with a tamper-evident
    audit trail. `hub up --demo` runs everything on one machine.
    """
    s = settings_mod.load(config_file=config)
    configure(s.log_level, s.log_format)
    ctx.obj = s


for _name in COMMAND_MODULES:
    for _cmd in importlib.import_module(_name).commands:
        main.add_command(_cmd)
