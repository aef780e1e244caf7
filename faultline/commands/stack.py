"""`faultline stack up|down|status`: Mosquitto and InfluxDB as local child processes."""

from __future__ import annotations

import json

import click

from faultline.cli import command_settings, format_option
from faultline.settings import load_settings
from faultline.stack import LocalStack, StackError


def _stack() -> tuple[LocalStack, str]:
    settings = command_settings()
    return LocalStack(settings.data_dir), settings.influx_db


@click.group()
def stack():
    """Run Mosquitto and InfluxDB locally (under the data dir, bound to 127.0.0.1)."""


@stack.command()
@click.option("--mqtt-port", type=int, default=None, help="Broker port (default 1883, or a free one if taken)")
@click.option("--influx-port", type=int, default=None, help="InfluxDB port (default 8086, or a free one if taken)")
@click.option("--auth", is_flag=True, help="Broker authorisation: devices need credentials from "
              "`faultline devices provision`, and publish only under their own topics")
@click.option("--tls", is_flag=True, help="The broker speaks TLS (mqtts://, port 8883 by default) with a "
              "certificate from a local CA created on first use; Faultline verifies it with that CA")
def up(mqtt_port, influx_port, auth, tls):
    """Start the local stack and create the database."""
    local, database = _stack()
    try:
        notes = local.up(mqtt_port, influx_port, database, auth=_service_auth() if auth else None, tls=tls)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    for note in notes:
        click.echo(note)
    state = local.state()
    scheme, _, rest = state["mqtt_url"].partition("://")
    shown = f"{scheme}://{rest.split('@')[-1]}"  # never the service user's password
    if state.get("mqtt_ca_file"):
        shown += f"  (TLS; CA {state['mqtt_ca_file']})"
    if state.get("auth_dir"):
        shown += f"  (broker authorisation on; Faultline's service user: {SERVICE_USER})"
    click.echo(f"mosquitto  {shown}\ninfluxd    {state['influx_url']}  (database {database})")
    click.echo(f"logs and config under {local.workdir}; Faultline commands use these ports automatically")


SERVICE_USER = "faultline-ingest"


def _service_auth():
    """(auth folder, service user, password): the broker files written, Faultline's service user issued once."""
    import os

    from faultline.cli import command_engine
    from faultline.provisioning import Provisioner
    from ingest import credentials
    from runtime.clock import wall_ms

    settings = load_settings()
    engine = command_engine(settings, create=True)
    auth_dir = settings.data_dir / "stack" / "auth"
    p = Provisioner(engine, auth_dir, settings.mqtt_topic_prefix, broker_pid=lambda: None,
                    now=wall_ms, actor="stack")
    secret_file = auth_dir / f"{SERVICE_USER}.secret"
    known = {c.name for c in credentials.active(engine)}
    if SERVICE_USER in known and secret_file.exists():
        password = secret_file.read_text().strip()
    else:
        password = p.rotate(SERVICE_USER) if SERVICE_USER in known else p.service_user(SERVICE_USER)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password)
    p.apply()
    engine.dispose()
    return auth_dir, SERVICE_USER, password


@stack.command()
def down():
    """Stop what `stack up` started (by PID)."""
    local, _ = _stack()
    local.down()
    click.echo("local stack stopped")


@stack.command()
@format_option
def status(fmt):
    """Show whether the local services run, and where."""
    local, _ = _stack()
    rows = local.status()
    if fmt == "json":
        click.echo(json.dumps([{"service": name, "pid": pid, "port": port or None} for name, pid, port in rows],
                              indent=2))
        return
    click.echo(f"{'service':10} {'state':20} port")
    for name, pid, port in rows:
        click.echo(f"{name:10} {'running, pid ' + str(pid) if pid else 'stopped':20} {port or '-'}")
