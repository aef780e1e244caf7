"""`faultline stack up|down|status`: Mosquitto and InfluxDB as local child processes."""

from __future__ import annotations

import json

import click

from faultline.cli import format_option
from faultline.settings import SettingsError, load_settings
from faultline.stack import LocalStack, StackError


def _stack() -> tuple[LocalStack, str]:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    return LocalStack(settings.data_dir), settings.influx_db


@click.group()
def stack():
    """Run Mosquitto and InfluxDB locally (under the data dir, bound to 127.0.0.1)."""


@stack.command()
@click.option("--mqtt-port", type=int, default=None, help="Broker port (default 1883, or a free one if taken)")
@click.option("--influx-port", type=int, default=None, help="InfluxDB port (default 8086, or a free one if taken)")
def up(mqtt_port, influx_port):
    """Start the local stack and create the database."""
    local, database = _stack()
    try:
        notes = local.up(mqtt_port, influx_port, database)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    for note in notes:
        click.echo(note)
    state = local.state()
    click.echo(f"mosquitto  {state['mqtt_url']}\ninfluxd    {state['influx_url']}  (database {database})")
    click.echo(f"logs and config under {local.workdir}; Faultline commands use these ports automatically")


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
