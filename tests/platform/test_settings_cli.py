"""Settings from env and TOML; `hub --help` documents every variable; embedded broker lifecycle."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import fields

import click
import pytest

from hub.platform import settings as settings_mod
from hub.platform.kafka.embedded import EmbeddedBroker, port_open
from tests.conftest import HUB, ROOT


def test_env_overrides_file_overrides_default(tmp_path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text('partitions = 8\nmembers = ["kz", "uz"]\ngateway_port = 9000\n')
    s = settings_mod.load({"HUB_GATEWAY_PORT": "9100"}, config_file=cfg)
    assert s.partitions == 8 and s.members == ("KZ", "UZ") and s.gateway_port == 9100
    assert s.recipients == ("KZ", "UZ", *s.partners, "CARICC")


def test_bad_values_are_named(tmp_path) -> None:
    with pytest.raises(ValueError, match="HUB_PARTITIONS"):
        settings_mod.load({"HUB_PARTITIONS": "many"})
    cfg = tmp_path / "hub.toml"
    cfg.write_text("partitons = 3\n")
    with pytest.raises(ValueError, match="unknown settings partitons"):
        settings_mod.load({}, config_file=cfg)


def test_help_documents_every_setting() -> None:
    out = subprocess.run([*HUB, "--help"], capture_output=True, text=True, timeout=60).stdout
    for f in fields(settings_mod.Settings):
        assert settings_mod.env_name(f.name) in out


def _commands(cmd: click.Command, path: tuple[str, ...] = ("hub",)) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, (*path, name))


def test_every_command_has_help_and_the_readme_names_it() -> None:
    """Every `hub` command and subcommand has --help text, and README.md names every command (its
    command list is `hub --help`'s) and every group's subcommands (``hub audit trail|verify|…``)."""
    from hub.cli import main

    readme = (ROOT / "README.md").read_text()
    for path, cmd in _commands(main):
        assert (cmd.help or "").strip(), f"`{path} --help` has no text"
        if path.count(" ") == 1:
            assert f"`{path}" in readme, f"README.md does not name `{path}`"
        if isinstance(cmd, click.Group) and path != "hub":
            for name in cmd.commands:
                assert re.search(rf"`{re.escape(path)} (\S*\|)?{re.escape(name)}[|` ]", readme) or \
                    f"`{path} {name}" in readme, f"README.md does not name `{path} {name}`"


def test_embedded_broker_starts_and_stops() -> None:
    b = EmbeddedBroker().start()
    assert port_open(b.port)
    b.stop()
    assert not port_open(b.port)


def test_replace_keeps_lists_and_changes_one_setting() -> None:
    s = settings_mod.load({"HUB_MEMBERS": "KZ,UZ"})
    t = s.replace(workers=3)
    assert t.workers == 3 and t.members == ("KZ", "UZ") and t.partners == s.partners
