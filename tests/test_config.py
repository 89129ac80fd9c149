"""Configuration: one TOML file into frozen settings; errors name the file and the key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from zufiwatch.cli import cli
from zufiwatch.config import (
    DaemonSettings,
    HttpSettings,
    NotifySettings,
    ReportSettings,
    RuleOverride,
    RulesSettings,
    Settings,
    SmtpSettings,
    SourceSettings,
    WebSettings,
    find_config,
    load_settings,
)
from zufiwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "zufiwatch.example.toml"

MINIMAL = """
[[sources]]
name = "pvog-jena"
kind = "pvog"
base_url = "https://pvog.fitko.net/suchdienst/api"
ars = "160530000000"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "zufiwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_configuration_parses_with_every_key(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE)
    assert settings.sources[0].ars == "160530000000"
    assert settings.database == Path("/var/lib/zufiwatch/zufiwatch.db")


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^(\w+) = ", text, flags=re.MULTILINE))
    for cls in (Settings, HttpSettings, SourceSettings, SmtpSettings, NotifySettings,
                RulesSettings, RuleOverride, DaemonSettings, ReportSettings, WebSettings):
        for field in dataclasses.fields(cls):
            if field.metadata.get("internal") or field.name in (
                    "http", "sources", "smtp", "notify", "rules", "override", "daemon",
                    "report", "web"):
                continue
            assert field.name in documented, f"{cls.__name__}.{field.name} not in example"
            # and the line above it is a comment explaining it
            assert re.search(rf"# .*\n{field.name} = ", text), field.name


def test_minimal_configuration_gets_defaults_and_resolves_paths(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.database == tmp_path / "zufiwatch.db"
    assert settings.snapshots == tmp_path / "snapshots"
    assert settings.sources[0].page_size == 100
    assert settings.sources[0].client_id == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.database = Path("x")  # type: ignore[misc]


@pytest.mark.parametrize(("text", "message"), [
    ("foo = 1\n" + MINIMAL, "unknown key 'foo'"),
    (MINIMAL.replace('kind = "pvog"', 'kind = "pvog"\npage_sise = 50'),
     "unknown key 'sources[0].page_sise'"),
    (MINIMAL.replace('ars = "160530000000"', ""), "key 'sources[0].ars': expected a value"),
    (MINIMAL.replace('ars = "160530000000"', 'ars = 160530000000'),
     "key 'sources[0].ars': expected a string, got 160530000000"),
    (MINIMAL.replace('ars = "160530000000"', 'ars = "1605300"'),
     "key 'sources[0].ars': expected 12 digits"),
    (MINIMAL.replace('kind = "pvog"', 'kind = "zufi"'), "key 'sources[0].kind': expected one of"),
    (MINIMAL + "\n[http]\nread_timeout = \"slow\"\n",
     "key 'http.read_timeout': expected a number, got 'slow'"),
    (MINIMAL + "\n[http]\nread_timeout = true\n", "key 'http.read_timeout': expected a number"),
    (MINIMAL.replace("[[sources]]", "sources = 3\n[x]"), "expected"),
    (MINIMAL + MINIMAL, "key 'sources[1].name': expected a name no other source has"),
    ('timezone = "Mars/Olympus"\n' + MINIMAL, "key 'timezone'"),
    ("database = \n", "not valid TOML"),
])
def test_bad_configuration_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.toml")


def test_config_is_found_by_option_then_environment_then_cwd(tmp_path: Path,
                                                             monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZUFIWATCH_CONFIG", raising=False)
    assert find_config(None) is None
    local = write(tmp_path, MINIMAL)
    assert find_config(None) == Path("zufiwatch.toml")
    monkeypatch.setenv("ZUFIWATCH_CONFIG", "/etc/zufiwatch/zufiwatch.toml")
    assert find_config(None) == Path("/etc/zufiwatch/zufiwatch.toml")
    assert find_config(str(local)) == local


def test_cli_stops_with_one_line_naming_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "foo = 1\n" + MINIMAL)
    result = CliRunner().invoke(cli, ["--config", str(path), "crawl"])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}: unknown key 'foo'; expected one of the " \
        "known keys here: daemon, database, http, notify, report, rules, smtp, snapshots, " \
        "sources, timezone, web"


def test_cli_without_configuration_says_how_to_give_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZUFIWATCH_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["crawl"])
    assert result.exit_code == 1
    assert "no configuration found" in result.output


LINKS = MINIMAL + """
[[sources]]
name = "links"
kind = "links"
"""


def test_a_link_checker_needs_no_base_url_and_gets_safe_defaults(tmp_path: Path) -> None:
    links = load_settings(write(tmp_path, LINKS)).source("links")
    assert (links.kind, links.base_url, links.ars) == ("links", "", "")
    assert links.broken_after == 3 and links.allow_local == () and links.connect_to == ()
    assert links.max_redirects == 5 and links.max_bytes == 1_000_000


@pytest.mark.parametrize(("text", "message"), [
    (LINKS + 'ars = "160530000000"\n',
     "key 'sources[1].ars': expected nothing here: ars is for sources of kind 'pvog', this "
     "one is 'links'"),
    (MINIMAL + "broken_after = 2\n",
     "key 'sources[0].broken_after': expected nothing here: broken_after is for sources of "
     "kind 'links', this one is 'pvog'"),
    (LINKS + 'watch = ["links"]\n', "key 'sources[1].watch'"),
    (LINKS + 'allow_local = ["localhost"]\n', "key 'sources[1].allow_local': expected endpoints"),
    (LINKS + 'connect_to = ["*:443"]\n', "key 'sources[1].connect_to': expected entries"),
    (LINKS + 'authority_selectors = ["div["]\n', "key 'sources[1].authority_selectors'"),
    (LINKS + 'authority_pattern = "(unclosed"\n', "key 'sources[1].authority_pattern'"),
    (LINKS + "max_failures = 0\n", "key 'sources[1].max_failures'"),
    (LINKS + "broken_after = 0\n", "key 'sources[1].broken_after'"),
])
def test_bad_link_checker_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert message in str(info.value)


def test_connect_to_rules_split_into_pairs(tmp_path: Path) -> None:
    text = LINKS + ('connect_to = ["*:443=127.0.0.1:8443", "a.example:80=[::1]:8080"]\n'
                    'allow_local = ["127.0.0.1:8443", "[::1]:8080"]\n')
    links = load_settings(write(tmp_path, text)).source("links")
    assert links.connect_rules == (("*:443", "127.0.0.1:8443"), ("a.example:80", "[::1]:8080"))


def test_a_link_checker_may_only_watch_configured_directories(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, LINKS + 'watch = ["pvog-gera"]\n'))
    assert "key 'sources[1].watch': expected names of configured directory sources " \
        "['pvog-jena']" in str(info.value)


ZUFI = MINIMAL + """
[[sources]]
name = "zufi"
kind = "tsa"
base_url = "https://restapi-v4-th.infodienste.de"
root_ou = "19000"
area_id = "351529"
api_key_env = "TSA_KEY"
crosscheck = "pvog-jena"
"""


def test_a_zufi_source_needs_root_area_and_exactly_one_key_source(tmp_path: Path) -> None:
    zufi = load_settings(write(tmp_path, ZUFI)).source("zufi")
    assert (zufi.kind, zufi.root_ou, zufi.area_id, zufi.sync_window_hours) == (
        "tsa", "19000", "351529", 48.0)


@pytest.mark.parametrize(("text", "message"), [
    (ZUFI.replace('root_ou = "19000"\n', ""), "key 'sources[1].root_ou': expected a value"),
    (ZUFI.replace('api_key_env = "TSA_KEY"\n', ""),
     "key 'sources[1].api_key_env': expected exactly one of api_key_env, api_key_file"),
    (ZUFI + 'api_key_file = "/etc/key"\n', "key 'sources[1].api_key_env': expected exactly"),
    (ZUFI.replace('crosscheck = "pvog-jena"', 'crosscheck = "pvog-gera"'),
     "key 'sources[1].crosscheck': expected the name of a pvog source ['pvog-jena']"),
    (ZUFI + 'ars = "160530000000"\n', "key 'sources[1].ars': expected nothing here"),
    (ZUFI.replace('area_id = "351529"', 'area_id = "Jena"'), "key 'sources[1].area_id'"),
    (ZUFI + "sync_window_hours = 0\n", "key 'sources[1].sync_window_hours'"),
    (ZUFI + '\n[rules]\ncrosscheck_severity = "urgent"\n', "key 'rules.crosscheck_severity'"),
])
def test_bad_zufi_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert message in str(info.value)
