"""A crawl imports what a crawl needs: the command line loads a command's module only when
that command runs or its help is shown, and a crawl with nothing to report loads neither
the other commands, the web application, the mail machinery, the HTML parser nor the
differ. Every command is still listed, helped and completed."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

import zufiwatch.cli
from tests.conftest import Crawler
from zufiwatch.cli import cli
from zufiwatch.cli.root import COMMANDS

ROOT = Path(__file__).resolve().parent.parent

#: What a crawl with nothing to report must not import.
NOT_FOR_A_QUIET_CRAWL = (
    # the other commands of the command line, and what they stand on
    "zufiwatch.cli.exporting", "zufiwatch.cli.questions", "zufiwatch.cli.service",
    "zufiwatch.cli.triage", "zufiwatch.cli.watching", "zufiwatch.cli.web",
    "zufiwatch.web", "flask", "waitress", "zufiwatch.export", "zufiwatch.report",
    "zufiwatch.daemon", "tabulate",
    # mail: composed only when there is something to tell
    "zufiwatch.notify.messages", "zufiwatch.notify.model", "zufiwatch.notify.smtp",
    # the daemon's scheduler: a plain schedule is checked without it
    "apscheduler", "asyncio", "tzlocal",
    # only for a ZuFi/PVOG pair
    "zufiwatch.crosscheck",
    # only when an answer is parsed, or a version differs
    "bs4", "soupsieve", "deepdiff",
)

#: Runs the command line in a child process and writes the modules it imported to a file.
_RECORDING_MAIN = """
import atexit, json, sys
atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules))))
from zufiwatch.cli import main
main(sys.argv[2:])
"""


def _modules_of(tmp_path: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", _RECORDING_MAIN, str(out), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return set(json.loads(out.read_text(encoding="utf-8"))), done


def _all_commands() -> dict[str, click.Command]:
    with click.Context(cli, info_name="zufiwatch") as ctx:
        return cli.all_commands(ctx)


def test_a_crawl_with_nothing_to_report_imports_only_what_a_crawl_needs(
        crawler: Crawler, tmp_path: Path) -> None:
    crawler.day(0)  # the baseline
    crawler.pvog.set_day(1)  # only lastUpdate and timestamp move: nothing to parse or report
    config = crawler.write_config(tmp_path / "zufiwatch.toml", """
[notify]
recipients = ["ag-ozg@jena.de"]
operators = ["it@jena.de"]
sender = "zufiwatch@jena.de"
""")
    modules, done = _modules_of(tmp_path, "--config", str(config), "crawl", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "crawl 2 complete" in done.stdout and "0 changes" in done.stdout, done.stdout
    assert "zufiwatch.cli.crawling" in modules and "zufiwatch.runner" in modules
    loaded = sorted(name for name in modules for heavy in NOT_FOR_A_QUIET_CRAWL
                    if name == heavy or name.startswith(heavy + "."))
    assert loaded == []


def test_a_crawl_that_reports_a_change_imports_no_mail_machinery_and_no_cross_check(
        crawler: Crawler, tmp_path: Path) -> None:
    crawler.day(0)
    crawler.pvog.set_day(2)  # a ThAVEL link is replaced: parsed, diffed, paired, reported
    config = crawler.write_config(tmp_path / "zufiwatch.toml")  # nobody to mail
    modules, done = _modules_of(tmp_path, "--config", str(config), "crawl", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "crawl 2 complete" in done.stdout and "0 changes" not in done.stdout, done.stdout
    assert {"deepdiff", "zufiwatch.htmltree", "lxml.etree"} <= modules  # it parsed
    assert not {"zufiwatch.notify.messages", "zufiwatch.crosscheck", "apscheduler",
                "zufiwatch.cli.web", "flask", "bs4", "soupsieve"} & modules


def test_a_commands_help_imports_only_that_commands_module(tmp_path: Path) -> None:
    modules, done = _modules_of(tmp_path, "crawl", "--help")
    assert done.returncode == 0, done.stderr
    assert "Crawl the configured sources" in done.stdout
    commands = {f"zufiwatch.cli.{m.name}" for m in pkgutil.iter_modules(zufiwatch.cli.__path__)}
    assert len(commands) > 5
    assert sorted(modules & commands) == ["zufiwatch.cli.crawling", "zufiwatch.cli.lazy",
                                          "zufiwatch.cli.root"]


def test_every_command_defined_is_listed_in_help_and_runs_its_help() -> None:
    defined = {}
    for info in pkgutil.iter_modules(zufiwatch.cli.__path__):
        if info.name == "__main__":  # runs the command line
            continue
        module = importlib.import_module(f"zufiwatch.cli.{info.name}")
        commands = [v for v in vars(module).values() if isinstance(v, click.Command)]
        nested = {id(c) for g in commands if isinstance(g, click.Group)
                  for c in g.commands.values()}
        defined |= {c.name: c for c in commands if id(c) not in nested and c is not cli}
    assert set(defined) == set(COMMANDS)  # a new command must be named in COMMANDS
    assert {name: c.name for name, c in _all_commands().items()} == {n: n for n in defined}
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in
              result.output.split("\nCommands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == sorted(defined)
    for name in listed:
        assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0, name
    assert CliRunner().invoke(cli, ["user", "add", "--help"]).exit_code == 0


def test_shell_completion_lists_the_lazy_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "zufiwatch.cli"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "_ZUFIWATCH_COMPLETE": "bash_complete",
                               "COMP_WORDS": "zufiwatch cr", "COMP_CWORD": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["plain,crawl", "plain,crawls"]
    done = subprocess.run([sys.executable, "-m", "zufiwatch.cli"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "_ZUFIWATCH_COMPLETE": "bash_complete",
                               "COMP_WORDS": "zufiwatch crawl --so", "COMP_CWORD": "2"})
    assert done.stdout.split() == ["plain,--source"]


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["crawlz"])
    assert result.exit_code == 2
    assert "No such command 'crawlz'" in result.output
