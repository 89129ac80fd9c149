"""check-config on the example configuration: what it checked, and secrets named as
systemd credentials, outside a unit (read at service start) and inside one (--strict)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from zufiwatch.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "zufiwatch.example.toml"


def check(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(EXAMPLE), "check-config", *args])


@pytest.fixture
def outside_systemd(monkeypatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def test_the_example_outside_systemd_is_valid_and_says_what_it_checked(
        outside_systemd) -> None:
    result = check()
    assert result.exit_code == 0, result.output
    assert "valid; sources: pvog-jena, zufi-jena, links" in result.output
    for checked in ("source pvog-jena (pvog)", "source zufi-jena (tsa)", "database: ",
                    "snapshots: ", "mail via mail.jena.de:587", "ag-ozg@jena.de"):
        assert checked in result.output
    assert "zufi-jena: api_key from the systemd credential 'tsa-api-key', read at service " \
           "start" in result.output
    assert "password: from the systemd credential 'smtp-password', read at service start" \
        in result.output
    assert "Error" not in result.output


def test_strict_outside_systemd_names_the_credential(outside_systemd) -> None:
    result = check("--strict")
    assert result.exit_code == 1
    assert "api_key_credential: CREDENTIALS_DIRECTORY is not set" in result.output
    assert "LoadCredential=tsa-api-key" in result.output


def test_inside_a_credentials_directory_both_pass(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "tsa-api-key").write_text("key-value\n", encoding="utf-8")
    (tmp_path / "smtp-password").write_text("password-value\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    for args in ((), ("--strict",)):
        result = check(*args)
        assert result.exit_code == 0, result.output
        assert "zufi-jena: api_key found (not shown)" in result.output
        assert "password: set" in result.output
        assert "key-value" not in result.output and "password-value" not in result.output
    # Inside a unit a credential that is not there fails, with or without --strict.
    (tmp_path / "tsa-api-key").unlink()
    missing = check()
    assert missing.exit_code == 1
    assert "sources[zufi-jena].api_key_credential: cannot read" in missing.output


def test_a_secret_named_otherwise_and_missing_fails_without_strict(
        tmp_path: Path, outside_systemd, monkeypatch) -> None:
    config = tmp_path / "zufiwatch.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('password_env = ""', 'password_env = "ZUFIWATCH_TEST_NO_SUCH_PASSWORD"')
    config.write_text(text.replace('password_credential = "smtp-password"',
                                   'password_credential = ""'), encoding="utf-8")
    monkeypatch.delenv("ZUFIWATCH_TEST_NO_SUCH_PASSWORD", raising=False)
    result = CliRunner().invoke(cli, ["--config", str(config), "check-config"])
    assert result.exit_code == 1
    assert "smtp.password_env: environment variable ZUFIWATCH_TEST_NO_SUCH_PASSWORD is not " \
           "set" in result.output
