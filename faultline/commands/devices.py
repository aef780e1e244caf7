"""`faultline devices provision|rotate|revoke|import|list|service-user`: device identity at the broker.

Each change regenerates the broker's password and ACL files
(``FAULTLINE_MQTT_AUTH_DIR``, by default the local stack's) and reloads the
local broker when it runs; for another broker (compose), the command says
how to reload it. Passwords are printed once and stored only hashed.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from faultline import terminal
from faultline.cli import command_engine, command_settings, format_option
from ingest.credentials import CredentialError
from runtime.clock import wall_ms


def _provisioner():
    from faultline.provisioning import Provisioner
    from faultline.stack import LocalStack

    settings = command_settings()
    mosquitto = LocalStack(settings.data_dir).services()[0]
    local = not settings.mqtt_auth_dir  # the local stack's broker reads the default folder
    return Provisioner(command_engine(settings, create=True), settings.broker_auth_dir,
                       settings.mqtt_topic_prefix, broker_pid=mosquitto.pid if local else (lambda: None),
                       now=wall_ms), settings


def _done(provisioner) -> None:
    click.echo(f"broker files updated in {provisioner.auth_dir}" + ("; broker reloaded" if provisioner.reloaded else
               "; reload the broker to apply (SIGHUP; compose: docker-compose kill -s HUP mosquitto)"), err=True)


def _run(step):
    try:
        return step()
    except CredentialError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def devices():
    """Provision devices: broker credentials, pinned cohort attributes, the broker's ACL."""


@devices.command()
@click.argument("device")
@click.option("--model", default="", help="Cohort attribute pinned in the registry")
@click.option("--firmware", default="", help="Cohort attribute pinned in the registry")
@click.option("--site", default="", help="Cohort attribute pinned in the registry")
def provision(device, model, firmware, site):
    """Issue DEVICE a password (its MQTT user name is its id) and let it publish under its own topics."""
    p, _ = _provisioner()
    password = _run(lambda: p.provision(device, {"model": model, "firmware": firmware, "site": site}))
    click.echo(f"device {device}\npassword {password}")
    click.echo("store the password now: it is not shown again", err=True)
    _done(p)


@devices.command(name="service-user")
@click.argument("name")
@click.option("--password-env", metavar="VAR", help="Set the password held by this environment variable "
              "(for a deployment that keeps it in its secrets; run again to change it) instead of issuing one")
def service_user(name, password_env):
    """Issue a Faultline service user (faultline-*) that reads every device's topics."""
    import os

    p, _ = _provisioner()
    if password_env:
        given = os.environ.get(password_env, "")
        if not given or given.startswith("change-me"):
            raise click.UsageError(f"{password_env} is empty or still a change-me placeholder")
        _run(lambda: p.set_service_password(name, given))
        click.echo(f"user {name}: password set from {password_env}")
    else:
        password = _run(lambda: p.service_user(name))
        click.echo(f"user {name}\npassword {password}")
    _done(p)


@devices.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", "hosts", multiple=True, default=("localhost", "127.0.0.1"), show_default=True,
              help="A name or address the broker's certificate is valid for (repeat)")
def certs(folder, hosts):
    """Create a CA and a broker certificate in FOLDER (kept when they exist)."""
    from faultline.certs import CertError, ensure

    try:
        made = ensure(folder, tuple(hosts))
    except CertError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"CA {made.ca_file}\ncertificate {made.cert_file}\nkey {made.key_file}")


@devices.command()
@click.argument("name")
def rotate(name):
    """Issue a new password for NAME; the old one stops working at the reload."""
    p, _ = _provisioner()
    password = _run(lambda: p.rotate(name))
    click.echo(f"device {name}\npassword {password}")
    _done(p)


@devices.command()
@click.argument("name")
def revoke(name):
    """Refuse NAME at the broker from now on (its audit trail is kept)."""
    p, _ = _provisioner()
    _run(lambda: p.revoke(name))
    click.echo(f"revoked {name}")
    _done(p)


@devices.command(name="import")
@click.argument("csv_file", type=click.File("r"))
def import_csv(csv_file):
    """Provision every device of a CSV (columns: device, and optionally model, firmware, site).

    Prints a CSV of device,password; a file with one bad row provisions nothing.
    """
    p, _ = _provisioner()
    issued = _run(lambda: p.import_csv(csv_file.read()))
    click.echo("device,password")
    for device, password in issued:
        click.echo(f"{device},{password}")
    _done(p)


@devices.command(name="list")
@format_option
def list_(fmt):
    """Credentials in the registry and their state."""
    from ingest import credentials

    p, _ = _provisioner()
    rows = credentials.listing(p.engine)
    data = [{"name": r.name, "kind": r.kind, "state": "revoked" if r.revoked_ms else "active",
             "updated_ms": r.updated_ms} for r in rows]
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{'name':32} {'kind':8} state")
    for d in data:
        terminal.echo(f"{d['name']:32} {d['kind']:8} {d['state']}", one_line=True)
