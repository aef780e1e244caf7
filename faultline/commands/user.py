"""``faultline user ...``: people who sign in to the workspace (``/ui``)."""

from __future__ import annotations

import json
import sys

import click

from api.keys import ROLES
from faultline.cli import command_engine, command_settings, format_option


def _store(create: bool = False):
    from api.users import UserStore

    return UserStore(command_engine(command_settings(), create=create))


@click.group()
def user():
    """Manage the people who sign in to the workspace (passwords stored as argon2 hashes)."""


@user.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="viewer < technician < admin")
@click.option("--name", required=True, help="Sign-in name: letters, digits, _ . @ -")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin")
def create(role: str, name: str, password_stdin: bool):
    """Create a user; the password is asked for twice (or read from stdin)."""
    from api.users import UserError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        created = _store(create=True).create(name, role, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {created.id} {created.name!r}, role {created.role}")


@user.command("list")
@format_option
def list_users(fmt):
    """Users (id, role, state, name); never their password hashes."""
    users = _store().list()
    if fmt == "json":
        click.echo(json.dumps([{"id": u.id, "name": u.name, "role": u.role, "active": u.disabled_ms is None}
                               for u in users], indent=2))
        return
    click.echo("id\trole\tstate\tname")
    for u in users:
        click.echo(f"{u.id}\t{u.role}\t{'active' if u.disabled_ms is None else 'disabled'}\t{u.name}")
    if not users:
        click.echo("no users; create one with: faultline user create --role technician --name NAME")
