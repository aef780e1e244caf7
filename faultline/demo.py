"""`faultline demo`: a firmware regression in a healthy fleet becomes one ticket.

Starts the local stack (Mosquitto and InfluxDB as child processes) and the
whole service, plays the ``firmware-regression`` scenario as fast as the
broker takes it, shows live counts, and ends by printing the ticket(s) with
their evidence and the URLs to look at. The demo keeps its own database
(``faultline_demo``) and SQL file (``<data dir>/demo``), both wiped at the start,
so it can be run again and again without touching other data.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time

import click

from faultline.settings import SettingsError, load_settings
from faultline.stack import LocalStack, StackError, free_port, port_is_free
from influx.client import InfluxClient
from influx.query import quote_ident

DEMO_DB = "faultline_demo"


_last_plain = [0.0]


def _line(text: str) -> None:
    """A live status line: rewritten in place on a terminal, every 5 s otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write("\r" + text.ljust(110))
    elif time.monotonic() - _last_plain[0] >= 5:
        _last_plain[0] = time.monotonic()
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _prepare(devices: int):
    try:
        base = load_settings()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    local = LocalStack(base.data_dir)
    try:
        for note in local.up(database=DEMO_DB):
            click.echo(note)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    state = local.state()
    client = InfluxClient(state["influx_url"], DEMO_DB)
    client.query(f"DROP DATABASE {quote_ident(DEMO_DB)}")
    client.ensure_database()
    demo_dir = base.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    api_port = base.api_port if port_is_free(base.api_port) else free_port()
    return load_settings(None, mqtt_url=state["mqtt_url"], influx_url=state["influx_url"], influx_db=DEMO_DB,
                         data_dir=demo_dir, database_url="", api_port=api_port, mqtt_client_id="faultline-demo")


def _publish(settings, scenario: str, devices: int, duration: str, seed: int, result: dict) -> None:
    from simulators.fleet import Simulation
    from simulators.scenario import load_scenario
    from simulators.timespan import parse_span

    try:
        sim = Simulation(load_scenario(scenario), devices=devices, seed=seed, duration_s=parse_span(duration))
        result["truth"] = sim.truth()
        from simulators.publisher import publish

        result["summary"] = publish(sim, settings.mqtt_url, progress=lambda p: result.__setitem__("sent", p.messages))
        result["sent"] = result["summary"].messages
    except Exception as exc:  # noqa: BLE001 - reported by the main thread
        result["error"] = exc


@click.command()
@click.option("--scenario", default="firmware-regression", show_default=True)
@click.option("--devices", default=100, show_default=True)
@click.option("--duration", default="2d", show_default=True, help="Simulated span")
@click.option("--seed", default=0, show_default=True)
@click.option("--exit", "exit_after", is_flag=True, help="Exit after printing the tickets instead of serving the API")
def demo(scenario, devices, duration, seed, exit_after):
    """Run the local stack and the service, play a scenario, print the tickets it opens."""
    from faultline.run import Faultline
    from ingest.cli import configure_logging, wait_for_signal

    settings = _prepare(devices)
    configure_logging("WARNING")
    service = Faultline(settings)
    service.start()
    service.ingest.subscriber.wait_connected(30)
    click.echo(f"Faultline is running: broker {settings.mqtt_url}, InfluxDB {settings.influx_url} "
               f"(database {DEMO_DB}), API http://{settings.api_host}:{settings.api_port}/docs")
    click.echo(f"Playing '{scenario}': {devices} devices, {duration} of simulated time, seed {seed} ...")
    result: dict = {"sent": 0}
    publisher = threading.Thread(target=_publish, args=(settings, scenario, devices, duration, seed, result), daemon=True)
    publisher.start()
    _watch(service, publisher, result)
    _report(service, settings, result)
    if not exit_after:
        click.echo("\nThe API keeps serving; press Ctrl-C to stop (the local stack stays up: faultline stack down).")
        wait_for_signal()
    service.stop()


def _counts(service, result) -> str:
    from tickets.store import count_tickets

    return (f"sent {result.get('sent', 0):>9,}  stored {service.ingest.stats.total('stored'):>9,}  "
            f"dead letters {sum(n for (s, _, _), n in service.ingest.stats.totals.items() if s in ('decode', 'validate', 'write')):>5,}  "
            f"anomalies {service.anomaly_count:>4}  open tickets {count_tickets(service.engine, state=('open', 'reopened', 'acknowledged')):>3}")


def _watch(service, publisher: threading.Thread, result: dict) -> None:
    while publisher.is_alive():
        _line(_counts(service, result))
        publisher.join(0.5)
    if "error" in result:
        raise click.ClickException(f"the simulator failed: {result['error']}")
    sent = result["summary"].messages
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and service.ingest.acked < sent:
        _line(_counts(service, result))
        time.sleep(0.5)
    settle = time.monotonic() + 15  # the last windows close, alerts fire, tickets open
    while time.monotonic() < settle:
        _line(_counts(service, result))
        time.sleep(0.5)
    _last_plain[0] = 0.0
    _line(_counts(service, result))
    sys.stderr.write("\n" if sys.stderr.isatty() else "")


def _report(service, settings, result: dict) -> None:
    from tickets.render import ticket_text
    from tickets.store import list_tickets

    tickets = list_tickets(service.engine, limit=20)
    truth = result.get("truth")
    if truth is not None:
        for incident in truth.incidents:
            click.echo(f"\nInjected: {incident.kind} {incident.id}, attribution {incident.attribution or '-'}, "
                       f"codes {', '.join(incident.fault_codes)}")
    click.echo(f"\n{len(tickets)} ticket(s) opened:\n")
    for ticket in tickets:
        click.echo(ticket_text(ticket))
        click.echo("")
    click.echo(f"API docs:  http://{settings.api_host}:{settings.api_port}/docs  "
               f"(create a key: FAULTLINE_DATA_DIR={settings.data_dir} faultline apikey create --role viewer --name me)")
    click.echo(f"Tickets:   GET http://{settings.api_host}:{settings.api_port}/api/v1/tickets")
    click.echo("Grafana:   docker-compose up (see README, 'Deploy'), dashboards 'Fleet overview' and 'Device'")
