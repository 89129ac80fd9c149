"""The README tells the truth: its two commands, its command reference, its JSON fields."""

from __future__ import annotations

import re
from pathlib import Path

import click

from zufiwatch.docs import BEGIN, END, command_reference

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def shell_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)]


def test_readme_opens_with_exactly_two_commands_demo_and_tests() -> None:
    intro = README.split("\n## ", 1)[0]
    demo, tests = shell_blocks(intro)
    assert "\n" not in demo and "\n" not in tests
    assert demo.endswith("zufiwatch demo")
    assert "[test]" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    tests = shell_blocks(README.split("\n## ", 1)[0])[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci


def test_command_reference_matches_the_cli() -> None:
    section = README.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert section == command_reference().strip(), (
        "README command reference is stale: run `python -m zufiwatch.docs --write`")


def test_readme_does_not_promise_what_is_not_there() -> None:
    from zufiwatch.cli import cli

    with click.Context(cli, info_name="zufiwatch") as ctx:
        commands = cli.list_commands(ctx)
    for command in re.findall(r"`zufiwatch (\w[\w-]*)", README):
        assert command in commands, f"README mentions unknown command {command!r}"
