"""Commands of the web application: serve, and user (the local user file)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import ConfigError
from .root import App, handle_errors, pass_app


@click.command()
@click.option("--listen", help="HOST:PORT to listen on (default: [web] listen).")
@pass_app
@handle_errors
def serve(app: App, listen: str | None) -> None:
    """Serve the web application where the working group reads changes and acts.

    Meant to run behind the city's reverse proxy (TLS there). Sign-in as [web] auth says:
    the user file ('zufiwatch user add') or the proxy's user header.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml serve --listen 127.0.0.1:8470
    """
    import dataclasses

    import waitress

    from ..web import create_app
    from ..web.users import load_users

    settings = app.settings
    web = dataclasses.replace(settings.web, listen=listen) if listen else settings.web
    web.validate("--listen" if listen else f"{settings.origin}: [web]")
    settings = dataclasses.replace(settings, web=web)
    if web.auth == "users" and not load_users(Path(web.users_file)):
        raise ConfigError(f"{web.users_file}: no users yet; add one with "
                          "'zufiwatch user add NAME'")
    with app.history(must_exist=False):  # refused here, once, if damaged or newer
        pass
    application = create_app(settings, database=app.database_path(), clock=app.clock)
    sign_in = (f"user file {web.users_file}" if web.auth == "users"
               else f"proxy header {web.proxy_header} from {', '.join(web.trusted_proxies)}")
    server = waitress.create_server(application, listen=web.listen, threads=8)
    # Listening from here on: whoever reads this line can connect at once.
    click.echo(f"zufiwatch serves http://{web.listen}/ (sign-in: {sign_in})")
    server.run()


@click.group()
def user() -> None:
    """Manage the web application's user file ([web] users_file; Argon2id hashes only).

    \b
    Example:
      zufiwatch user add mmuster
      printf '%s\\n' "$PASSWORD" | zufiwatch user passwd mmuster --password-stdin
    """


def _users_file(app: App) -> Path:
    return Path(app.settings.web.users_file)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


_STDIN = click.option("--password-stdin", is_flag=True,
                      help="Read the password from the first line of stdin (for scripts).")


@user.command("add")
@click.argument("name")
@_STDIN
@pass_app
@handle_errors
def user_add(app: App, name: str, password_stdin: bool) -> None:
    """Add a user with a password (asked twice, not shown)."""
    from ..web.users import add_user

    add_user(_users_file(app), name, _password(password_stdin))
    click.echo(f"user {name} added to {_users_file(app)}")


@user.command("passwd")
@click.argument("name")
@_STDIN
@pass_app
@handle_errors
def user_passwd(app: App, name: str, password_stdin: bool) -> None:
    """Set a user's new password."""
    from ..web.users import set_password

    set_password(_users_file(app), name, _password(password_stdin))
    click.echo(f"password of {name} changed")


@user.command("remove")
@click.argument("name")
@pass_app
@handle_errors
def user_remove(app: App, name: str) -> None:
    """Remove a user (a session of the user ends with its next request)."""
    from ..web.users import remove_user

    remove_user(_users_file(app), name)
    click.echo(f"user {name} removed")


@user.command("list")
@pass_app
@handle_errors
def user_list(app: App) -> None:
    """List the users and their roles ([web] pruefer and leser)."""
    from ..web.auth import role_of
    from ..web.users import load_users

    web = app.settings.web
    names = sorted(load_users(_users_file(app)))
    for name in names:
        click.echo(f"{name}\t{role_of(web, name) or 'kein Zugang'}")
    if not names:
        click.echo("(no users)")
