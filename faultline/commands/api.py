"""``faultline apikey ...`` (create, list, revoke) and ``faultline api`` (serve the API alone)."""

from __future__ import annotations

import json
import os
import sys

import click

from api.keys import ROLES, KeyStore, UnknownApiKey
from faultline.cli import command_engine, command_settings, format_option


def _store(create: bool = False) -> KeyStore:
    return KeyStore(command_engine(command_settings(), create=create))


@click.group()
def apikey():
    """Manage API keys (stored hashed; a new key is printed once)."""


@apikey.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="viewer < technician < admin")
@click.option("--name", required=True, help="Who or what uses the key")
def create(role: str, name: str):
    """Create a key and print it (it cannot be shown again)."""
    try:
        key, plain = _store(create=True).create(name, role)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--name") from None
    click.echo(plain)
    click.echo(f"id {key.id}, role {key.role}, name {key.name!r}: store the key now, "
               "it is not shown again", err=True)


@apikey.command("list")
@format_option
def list_keys(fmt):
    """List keys (id, role, state, prefix, name); never the keys themselves."""
    keys = _store().list()
    if fmt == "json":
        click.echo(json.dumps([{"id": k.id, "role": k.role, "active": k.active, "prefix": k.prefix, "name": k.name}
                               for k in keys], indent=2))
        return
    if not keys:
        click.echo("no API keys; create one with: faultline apikey create --role admin --name NAME")
        return
    click.echo("id\trole\tstate\tprefix\tname")
    for key in keys:
        state = "active" if key.active else "revoked"
        click.echo(f"{key.id}\t{key.role}\t{state}\t{key.prefix}…\t{key.name}")


@apikey.command("revoke")
@click.argument("key_id", type=int)
def revoke(key_id: int):
    """Revoke the key with id KEY_ID."""
    try:
        key = _store().revoke(key_id)
    except UnknownApiKey as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {key.id} ({key.name})")


@click.command()
@click.option("--host", default=None, help="Bind address (default FAULTLINE_API_HOST)")
@click.option("--port", type=int, default=None, help="Port (default FAULTLINE_API_PORT)")
@click.option("--workers", type=click.IntRange(0, 64), default=1, show_default=True,
              help="API processes sharing the port (0: one per core, at most 8); Python serves one request "
                   "at a time per process, so more cores answer more requests in flight")
def api(host: str | None, port: int | None, workers: int):
    """Serve the API alone with uvicorn."""
    import uvicorn

    from faultline.wiring import api_app
    from api.serve import ApiPortError, listen_socket
    from faultline.process import configure_logging

    settings = command_settings()
    configure_logging(settings.log_level)
    bind_host = host or settings.api_host
    bind_port = settings.api_port if port is None else port
    try:
        sock = listen_socket(bind_host, bind_port)
    except ApiPortError as exc:
        raise click.ClickException(str(exc)) from None
    workers = workers or min(8, os.cpu_count() or 1)
    if workers > 1:  # every worker builds the app from the same settings and accepts on the bound socket
        click.echo(f"faultline api: serving on http://{bind_host}:{bind_port} with {workers} processes "
                   "(docs at /docs)", err=True)
        # the supervisor pings each worker; a worker busy starting on a loaded machine answers late, and
        # uvicorn's 5 s default then kills it with the connections it had accepted
        uvicorn.run("faultline.wiring:api_from_environment", factory=True, fd=sock.fileno(), workers=workers,
                    log_level=settings.log_level.lower(), proxy_headers=False, timeout_worker_healthcheck=30)
        sys.exit(0)
    app = api_app(settings)
    config = uvicorn.Config(app, host=bind_host, port=bind_port,
                            log_level=settings.log_level.lower(), proxy_headers=False)
    server = uvicorn.Server(config)
    click.echo(f"faultline api: serving on http://{bind_host}:{bind_port} (docs at /docs)", err=True)
    server.run(sockets=[sock])
    sys.exit(0 if server.started else 1)
