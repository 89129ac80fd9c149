"""Commands that run and look after the service: demo, notify, daemon, backup, health,
overview, check-config, verify."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from ..config import Settings, WebSettings, find_config
from ..errors import ConfigError, ZufiwatchError
from ..store import History
from .root import App, handle_errors, pass_app


@click.command()
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 365),
              help="Simulated days to crawl.")
@click.option("--size", default=150, show_default=True, type=click.IntRange(60, 50000),
              help="Leistungen in the simulated directory.")
@click.option("--keep", type=click.Path(file_okay=False),
              help="Keep the demo's database and snapshots in this directory.")
@pass_app
@handle_errors
def demo(app: App, days: int, size: int, keep: str | None) -> None:
    """Run a simulated directory on localhost, crawl several days, show what changed.

    No configuration and no network needed.

    \b
    Example:
      zufiwatch demo --days 7 --keep ./demo
    """
    from ..demo import run_demo

    run_demo(days=days, size=size, keep=Path(keep) if keep else None, echo=click.echo)


@click.command()
@click.option("--test", "test_mail", is_flag=True,
              help="Send a test message to the recipients and operators; report each step.")
@click.option("--digest", is_flag=True, help="Queue the digest now, whenever the last was.")
@click.option("--reminder", is_flag=True, help="Queue the reminder now.")
@pass_app
@handle_errors
def notify(app: App, test_mail: bool, digest: bool, reminder: bool) -> None:
    """Queue what is due (digest, reminder, stale sources) and deliver the outbox.

    Messages about a crawl's changes are queued by the crawl itself; this sends them.
    Exit status 1 when a message could not be delivered.

    \b
    Example:
      zufiwatch notify --test
    """
    from ..alerts import Alerts, run_notify
    from ..notify import messages
    from ..notify.smtp import SmtpTransport, load_password

    settings = app.settings
    if not settings.smtp.host:
        raise ConfigError(f"{settings.origin}: [smtp] host is not set; no mail can be sent")
    transport = SmtpTransport(settings.smtp, load_password(settings.smtp))
    alerts = Alerts(settings)
    if test_mail:
        transport.check(report=click.echo)
        everyone = tuple(dict.fromkeys((*settings.notify.recipients,
                                        *settings.notify.operators)))
        if not everyone:
            raise ConfigError(f"{settings.origin}: [notify] has no recipients or operators")
        transport.send(messages.test_message(alerts.mail(everyone), now=app.clock()))
        click.echo(f"test message sent to {', '.join(everyone)}")
        return
    with app.history() as history:
        report = run_notify(history, alerts, transport.send, app.clock, digest=digest,
                            reminder=reminder)
    queued = ", ".join(f"{n} {k}" for k, n in report.queued.items() if n) or "nothing new"
    click.echo(f"queued: {queued}; sent {report.sent}, not delivered {report.failed}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    if report.failed:
        sys.exit(1)


@click.command()
@pass_app
@handle_errors
def daemon(app: App) -> None:
    """Run the background service in the foreground (for systemd, see systemd/).

    Crawls each source on its schedule, delivers messages, reports to systemd; SIGTERM
    stops cleanly, SIGHUP reloads the configuration.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml daemon
    """
    from ..daemon import Daemon
    from ..systemd import configure_logging

    path = find_config(app.config_path)
    if path is None:
        raise ConfigError("the daemon needs a configuration file: pass --config FILE or set "
                          "ZUFIWATCH_CONFIG")
    settings = app.settings
    configure_logging(logging.INFO)
    sys.exit(Daemon(Path(path), settings, clock=app.clock).run())


@click.command()
@click.argument("destination", type=click.Path(dir_okay=False))
@pass_app
@handle_errors
def backup(app: App, destination: str) -> None:
    """Write a consistent copy of the history database, safe while the daemon runs.

    The raw archive (snapshots) is plain files: copy it with any backup tool.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml backup /srv/backup/zufiwatch.db
    """
    with app.history() as history:
        history.backup(Path(destination))
    click.echo(f"backup written to {destination}")


@click.command()
@click.pass_context
def health(ctx: click.Context) -> None:
    """Check the service for Nagios/Icinga: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    Prints one status line with performance data: age of the last complete crawl per
    source, failed crawls in a row, undelivered messages, open untracked changes.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml health
    """
    from .. import health as check
    from ..store.dbstate import DamagedDatabase, NewerDatabase

    app = ctx.find_object(App)
    if app is None:  # the cli group always sets it; like pass_app, fail loudly otherwise
        raise RuntimeError("health needs the App object of the zufiwatch command group")
    try:
        settings = app.settings
        path = app.database_path()
        if not path.exists():
            report = check.unknown(f"no history database at {path}")
        else:
            with History(path, readonly=True) as history:
                report = check.evaluate(settings, history, app.clock())
    except (DamagedDatabase, NewerDatabase) as exc:
        report = check.bad_database(str(exc))
    except ZufiwatchError as exc:
        report = check.unknown(str(exc))
    click.echo(report.line)
    sys.exit(report.state)


@click.command()
@click.option("--output", type=click.Path(file_okay=False),
              help="Directory to write (default: [report] directory).")
@click.option("--language", type=click.Choice(["de", "en"]),
              help="Language of the pages (default: [report] language).")
@pass_app
@handle_errors
def overview(app: App, output: str | None, language: str | None) -> None:
    """Write the static overview: index.html, a page per record, feed.atom.

    Crawls write it by themselves when [report] directory is set.

    \b
    Example:
      zufiwatch overview --output /var/www/zufiwatch
    """
    from ..report import build_overview

    settings = app.settings
    target = output or settings.report.directory
    if not target:
        raise ConfigError(f"{settings.origin}: no [report] directory; pass --output DIR")
    with app.history() as history:
        index = build_overview(history, settings, Path(target), now=app.clock(),
                               language=language or settings.report.language)
    click.echo(f"overview written: {index}")


@click.command("check-config")
@click.option("--strict", is_flag=True,
              help="Also read every secret now; a systemd credential must be readable "
                   "(for ExecStartPre= inside the unit).")
@pass_app
@handle_errors
def check_config(app: App, strict: bool) -> None:
    """Validate the configuration without starting anything.

    Says what it checked: the file, each source, the database and snapshot paths, mail and
    its password, the TSA api_key. A secret named as a systemd credential is read when
    the service starts; outside systemd (no $CREDENTIALS_DIRECTORY) it is only reported,
    unless --strict. Exit status 0 when it is valid, 1 with the file, key and problem when
    not.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml check-config
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml check-config --strict
    """
    from ..notify.smtp import load_password
    from ..sources.tsa import load_api_key

    settings = app.settings
    names = ", ".join(s.name for s in settings.sources) or "none"
    click.echo(f"{settings.origin}: valid; sources: {names}; database: {settings.database}")
    click.echo("checked: the file's syntax, every key, its type and the required values")
    for source in settings.sources:
        where = source.base_url or ", ".join(source.watch) or "-"
        watch = (f"; link watch {source.link_watch_schedule!r}" if source.kind == "pvog"
                 and source.link_watch_schedule else "")
        click.echo(f"source {source.name} ({source.kind}): {where}; schedule "
                   f"{source.schedule!r}{watch}")
    click.echo(f"database: {_path_state(settings.database)}")
    click.echo(f"snapshots: {_path_state(settings.snapshots)}")
    for source in settings.sources:
        if source.kind != "tsa":
            continue
        deferred = _deferred_credential(source.api_key_env, source.api_key_file,
                                        source.api_key_credential, strict)
        if deferred:
            click.echo(f"{source.name}: api_key {deferred}")
        else:
            load_api_key(source)  # a ConfigError names the source and the key
            click.echo(f"{source.name}: api_key found (not shown)")
    smtp = settings.smtp
    if smtp.host:
        deferred = _deferred_credential(smtp.password_env, smtp.password_file,
                                        smtp.password_credential, strict)
        password = deferred or ("set" if load_password(smtp) else "none (no login)")
        click.echo(f"mail via {smtp.host}:{smtp.port} ({smtp.security}); password: "
                   f"{password}")
        notify = settings.notify
        click.echo(f"mail to: recipients {', '.join(notify.recipients) or 'none'}; "
                   f"operators {', '.join(notify.operators) or 'none'}; from {notify.sender}")
    else:
        click.echo("mail: not configured ([smtp] host is empty)")
    _check_web(settings.web, strict)


def _check_web(web: WebSettings, strict: bool) -> None:
    """Which sign-in ``zufiwatch serve`` uses, and whether its session key will be read."""
    from ..credentials import CREDENTIALS_ENV
    from ..web.auth import secret_key
    from ..web.users import load_users

    if web.auth == "users":
        count = len(load_users(Path(web.users_file)))
        click.echo(f"web sign-in: user file {web.users_file} ({count} user(s)"
                   + ("; add one with 'zufiwatch user add NAME'" if not count else "") + ")")
    else:
        click.echo(f"web sign-in: reverse proxy header {web.proxy_header}, trusted from "
                   f"{', '.join(web.trusted_proxies) or 'nowhere'}")
    deferred = _deferred_credential(web.secret_key_env, web.secret_key_file,
                                    web.secret_key_credential, strict)
    directory = os.environ.get(CREDENTIALS_ENV, "")
    if deferred:
        click.echo(f"web session key: {deferred}")
    elif (web.secret_key_credential and directory
          and not (Path(directory) / web.secret_key_credential).exists()):
        # The crawl and daemon units check the configuration too; only serve needs the key.
        click.echo(f"web session key: the systemd credential {web.secret_key_credential!r} "
                   "is not loaded in this unit (only 'zufiwatch serve' needs it)")
    elif secret_key(Settings(web=web)) is None:
        click.echo("web session key: none configured; a random key per start (everyone "
                   "signs in again after a restart)")
    else:
        click.echo("web session key: found (not shown)")


def _deferred_credential(env: str, file: str, credential: str, strict: bool) -> str:
    """What to say about a secret named as a systemd credential that cannot be read here
    (no $CREDENTIALS_DIRECTORY: not inside a unit); empty when it is to be read now."""
    from ..credentials import CREDENTIALS_ENV

    if strict or env or file or not credential or os.environ.get(CREDENTIALS_ENV):
        return ""
    return (f"from the systemd credential {credential!r}, read at service start "
            f"({CREDENTIALS_ENV} is not set here; 'check-config --strict' in the unit "
            "checks it)")


def _path_state(path: Path) -> str:
    """A configured path and whether it is there yet (nothing is created)."""
    if path.exists():
        return f"{path} (exists)"
    parent = next((p for p in path.parents if p.exists()), None)
    return f"{path} (not there yet; created on first use under {parent})"


#: How many problems ``verify`` lists before it only counts the rest.
SHOWN_PROBLEMS = 20


@click.command()
@pass_app
@handle_errors
def verify(app: App) -> None:
    """Check the evidence chain over everything a reader sees.

    Records, versions (their content), events, changes, expectations, acknowledgements
    and withdrawals are chained by hashes as they are written. Each row is compared with
    its entry; an altered, inserted or deleted row is named by table and row, with exit
    status 1. When all holds, prints the chain's head (the last entry's hash and id): keep
    it elsewhere and compare it later, since a chain rewritten from some entry on ends
    in another head.

    \b
    Example:
      zufiwatch verify
    """
    from ..store.ledger import verify as check

    with app.history() as history:
        result = check(history.db.conn)
    if not result.ok:
        for problem in result.problems[:SHOWN_PROBLEMS]:
            click.echo(problem, err=True)
        more = len(result.problems) - SHOWN_PROBLEMS
        if more > 0:
            click.echo(f"... and {more} more", err=True)
        raise ZufiwatchError(f"the evidence does not hold: {len(result.problems)} "
                             f"problem(s), {result.entries} ledger entries read; the first: "
                             f"{result.problem}")
    click.echo(f"evidence chain intact: {result.entries} entries, head {result.head} "
               f"at entry {result.head_id}")
