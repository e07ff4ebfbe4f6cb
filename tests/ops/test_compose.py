"""docker-compose.yml checked without Docker (no compose plugin here): structure, healthchecks, named
volumes, dependencies, real `hub` subcommands with valid arguments, real HUB_* settings."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import click
import pytest
import yaml

from hub.cli import main
from hub.platform.kafka.server import KAFKA_VERSION, read_properties
from hub.platform.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
HUB_IMAGE = "caricc-hub:latest"


def test_expected_services() -> None:
    assert {"kafka", "postgres", "topics", "worker", "gateway", "sink", "prometheus", "grafana"} <= set(SERVICES)
    # the Kafka the tests run, with the configuration they run (tests/platform/kafka/test_compose_kafka.py)
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    props = read_properties((ROOT / "deploy/kafka/server-sasl.properties").read_text())
    assert "controller" in props["process.roles"] and "broker" in props["process.roles"]  # KRaft
    assert props["auto.create.topics.enable"] == "false"  # the hub creates its topics explicitly
    # workers scale with --scale: no fixed container name or host port
    assert "container_name" not in SERVICES["worker"] and "ports" not in SERVICES["worker"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_shape(name: str) -> None:
    svc = SERVICES[name]
    assert "image" in svc or "build" in svc, f"{name}: needs image or build"
    hc = svc.get("healthcheck")
    assert hc, f"{name}: no healthcheck"
    if hc.get("disable"):
        assert svc.get("restart") == "no", f"{name}: only one-shot jobs may go without a healthcheck"
    else:
        assert isinstance(hc["test"], list) and hc["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck.test"
    for dep, cond in (svc.get("depends_on") or {}).items():
        assert dep in SERVICES, f"{name}: depends_on unknown service {dep}"
        assert cond["condition"] in ("service_started", "service_healthy", "service_completed_successfully")
        if cond["condition"] == "service_healthy":
            assert not SERVICES[dep]["healthcheck"].get("disable"), f"{name}: waits for health of {dep}"
    for vol in svc.get("volumes") or []:
        required = re.match(r"^\$\{(\w+):\?[^}]+\}", vol)  # a directory the operator must name
        source = vol.split(":")[0] if not required else vol[required.end():].split(":")[0]
        if required:
            continue
        if source.startswith((".", "/")):
            assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"
        else:
            assert source in COMPOSE["volumes"], f"{name}: volume {source} not declared at top level"


def test_declared_volumes_are_used() -> None:
    used = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes") or [] if not v.startswith("$")}
    assert set(COMPOSE["volumes"]) <= used


def _hub_services() -> list[str]:
    return [n for n, s in SERVICES.items() if s.get("image") == HUB_IMAGE]


def test_hub_services_use_the_dockerfile() -> None:
    assert set(_hub_services()) == {"kafka-acls", "topics", "worker", "gateway", "sink"}
    for n in _hub_services():
        build = SERVICES[n]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["hub"\]', dockerfile, re.M)


@pytest.mark.parametrize("name", ["kafka-acls", "topics", "worker", "gateway", "sink"])
def test_commands_are_real_hub_subcommands(name: str) -> None:
    argv = SERVICES[name]["command"]
    cmd_name = argv[0]
    assert cmd_name in main.commands, f"{name}: `hub {cmd_name}` is not a hub command"
    cmd = main.commands[cmd_name]
    args = argv[1:]
    while isinstance(cmd, click.Group):  # e.g. topics create
        assert args and args[0] in cmd.commands, f"{name}: `hub {' '.join(argv)}`: unknown subcommand"
        cmd, args = cmd.commands[args[0]], args[1:]
    cmd.make_context(cmd_name, list(args))  # raises click.UsageError on unknown options/arguments


def test_topics_command_parses_against_the_click_group() -> None:
    # proves the check above has teeth on a command that exists today
    with pytest.raises(click.UsageError):
        main.commands["topics"].commands["create"].make_context("create", ["--no-such-option"])


def _option_envvars(cmd: click.Command) -> set[str]:
    out = {p.envvar for p in cmd.params if isinstance(getattr(p, "envvar", None), str)}
    for sub in getattr(cmd, "commands", {}).values():
        out |= _option_envvars(sub)
    return out


def test_env_vars_are_real_settings() -> None:
    known = {env_name(f.name) for f in fields(Settings)} | _option_envvars(main)
    for name, svc in SERVICES.items():
        for var in svc.get("environment") or {}:
            if var.startswith("HUB_"):
                assert var in known, f"{name}: {var} is not a hub setting"
    env = SERVICES["worker"]["environment"]
    for var in ("HUB_KAFKA_BOOTSTRAP", "HUB_DATABASE_URL", "HUB_PARTITIONS", "HUB_REPLICATION_FACTOR"):
        assert var in env
    assert env["HUB_DATABASE_URL"].startswith("postgresql://")
    assert env["HUB_KAFKA_BOOTSTRAP"].split(":")[0] == "kafka"
