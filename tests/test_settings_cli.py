"""Settings from env and TOML; `hub --help` documents every variable; embedded broker lifecycle."""

from __future__ import annotations

import subprocess
from dataclasses import fields

import pytest

from hub import settings as settings_mod
from hub.embedded import EmbeddedBroker, port_open
from tests.conftest import HUB


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


def test_embedded_broker_starts_and_stops() -> None:
    b = EmbeddedBroker().start()
    assert port_open(b.port)
    b.stop()
    assert not port_open(b.port)


def test_replace_keeps_lists_and_changes_one_setting() -> None:
    s = settings_mod.load({"HUB_MEMBERS": "KZ,UZ"})
    t = s.replace(workers=3)
    assert t.workers == 3 and t.members == ("KZ", "UZ") and t.partners == s.partners
