"""Commands of the working group's register: expect, ack, withdraw, expectations."""

from __future__ import annotations

import click

from ..timeutil import show_time
from .root import App, emit, handle_errors, output_options, pass_app


@click.command()
@click.argument("key")
@click.option("--field", required=True,
              help="The field as changes name it (e.g. 'Online-Dienst › Link', 'Gebühren'), "
                   "or its start; only fields the record has (a wrong one lists them).")
@click.option("--value", default="", help="Text the new value will contain (empty: any).")
@click.option("--until", "until_text", required=True,
              help="The date by which the change should be seen.")
@click.option("--by", required=True, help="Who intends the change.")
@click.option("--note", default="", help="Why, ticket number, …")
@pass_app
@handle_errors
def expect(app: App, key: str, field: str, value: str, until_text: str, by: str,
           note: str) -> None:
    """Record a change you intend, so that it is not reported as untracked.

    \b
    Example:
      zufiwatch expect leistung:S1600001.LB.354790 --field "Online-Dienst › Link" \\
        --value go/a/5741 --until 2026-12-15 --by "M. Muster" --note "Ticket 4711"
    """
    from datetime import datetime

    from ..triage import expect as record

    until = datetime.fromisoformat(app.when(until_text))
    with app.history() as history:
        number = record(history, key=key, field=field, value=value, until=until, by=by,
                        note=note, now=app.clock())
    click.echo(f"expectation {number} recorded: {key} › {field} until "
               f"{show_time(app.when(until_text), app.timezone)}")


@click.command()
@click.argument("change_ids", nargs=-1, type=int, required=True)
@click.option("--by", required=True, help="Who reviewed the changes.")
@click.option("--note", default="", help="What was found.")
@pass_app
@handle_errors
def ack(app: App, change_ids: tuple[int, ...], by: str, note: str) -> None:
    """Mark changes as reviewed (acknowledged); they are no longer reminded.

    The ids are those 'zufiwatch changes' and the messages show: one per edit. An edit's
    acknowledgement covers what every witness saw of it (the ZuFi, the PVOG, the link
    check), also a witness that comes later.

    \b
    Example:
      zufiwatch ack 12 13 --by "M. Muster" --note "mit Fachdienst abgestimmt"
    """
    from ..triage import acknowledge

    with app.history() as history:
        fresh = acknowledge(history, change_ids, by=by, note=note, now=app.clock())
    already = len(set(change_ids)) - len(fresh)
    click.echo(f"{len(fresh)} change(s) acknowledged" +
               (f", {already} already were" if already else ""))


@click.command()
@click.argument("expectation_id", type=int)
@click.option("--by", required=True, help="Who withdraws the expectation.")
@click.option("--note", default="", help="Why.")
@pass_app
@handle_errors
def withdraw(app: App, expectation_id: int, by: str, note: str) -> None:
    """Withdraw an open or overdue expectation: the change is no longer intended.

    It no longer makes changes expected and is not reminded; 'zufiwatch expectations'
    shows it as withdrawn, and the withdrawal is in the evidence chain.

    \b
    Example:
      zufiwatch withdraw 3 --by "M. Muster" --note "Ticket 4711 abgesagt"
    """
    from ..triage import withdraw as record

    with app.history() as history:
        record(history, expectation_id, by=by, note=note, now=app.clock())
    click.echo(f"expectation {expectation_id} withdrawn")


@click.command()
@click.option("--status", type=click.Choice(["open", "met", "overdue", "withdrawn"]),
              help="Only expectations with this status.")
@output_options
@pass_app
@handle_errors
def expectations(app: App, status: str | None, fmt: str | None) -> None:
    """List the expected-change register.

    \b
    Example:
      zufiwatch expectations --status overdue
    """
    from ..triage import expectations as register

    with app.history() as history:
        rows = register(history, status=status)
    if fmt is None:
        rows = [{**r, "until": show_time(r["until"], app.timezone)} for r in rows]
    emit(rows, fmt, ["id", "key", "field", "value", "until", "by", "status", "met_change_id",
                     "note"])
