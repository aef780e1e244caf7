"""`faultline demo`: a firmware regression in a healthy fleet becomes one ticket.

Starts the local stack (Mosquitto and InfluxDB as child processes) and the
whole service, plays the ``firmware-regression`` scenario as fast as the
broker takes it, shows live counts, and ends by printing the ticket(s) with
their evidence and the URLs to look at.

Isolated and repeatable: the demo keeps its own data (``<data dir>/demo``:
SQL file, spool, detector state) and InfluxDB database (``faultline_demo``),
both wiped at its start; it publishes under a topic prefix of its own
(``demo/devices``), whose retained messages it deletes first, and reads with
a clean MQTT session that ends with the connection, so nothing published to
the broker between two demos (other simulations, garbage, old experiments)
reaches it. With ``--exit`` it stops after the report, with exit status 1
when an injected incident did not become a ticket (what CI checks).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click

from faultline.cli import command_settings
from faultline.settings import load_settings
from faultline.stack import LocalStack, StackError, free_port, port_is_free
from influx.client import InfluxClient
from influx.query import quote_ident
from simulators.publisher import PublishError, clear_retained
from simulators.timespan import parse_span

DEMO_DB = "faultline_demo"
DEMO_PREFIX = "demo/devices"
DEMO_CLIENT_ID = "faultline-demo"
QUIET_S = 5.0  # the pipeline counts as settled when nothing changed for this long
SETTLE_LIMIT_S = 90.0


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived while the demo was playing."""


@dataclass(frozen=True, slots=True)
class DemoSetup:
    settings: object  # faultline.settings.Settings of the demo
    notes: tuple[str, ...]  # what the operator should know (ports moved)


def _prepare() -> DemoSetup:
    base = command_settings()
    local = LocalStack(base.data_dir)
    try:
        notes = [n for n in local.up(database=DEMO_DB) if n]
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    state = local.state()
    try:  # what earlier runs or other experiments left retained under the demo's topics never reaches it
        clear_retained(state["mqtt_url"], f"{DEMO_PREFIX}/#")
    except PublishError as exc:
        raise click.ClickException(str(exc)) from None
    client = InfluxClient(state["influx_url"], DEMO_DB)
    client.query(f"DROP DATABASE {quote_ident(DEMO_DB)}")
    client.ensure_database()
    demo_dir = base.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    api_port = base.api_port
    if not port_is_free(api_port):
        api_port = free_port()
        notes.append(f"API: port {base.api_port} is taken; the demo serves on {api_port}")
    settings = load_settings(None, mqtt_url=state["mqtt_url"], influx_url=state["influx_url"], influx_db=DEMO_DB,
                             data_dir=demo_dir, database_url="", api_port=api_port, mqtt_client_id=DEMO_CLIENT_ID,
                             mqtt_topic_prefix=DEMO_PREFIX, mqtt_shared_group="", log_summary_s=0)
    return DemoSetup(settings, tuple(notes))


def _publish(settings, scenario: str, devices: int, duration_s: float, start_ms: int, seed: int, topics,
             result: dict) -> None:
    from simulators.fleet import Simulation
    from simulators.publisher import publish
    from simulators.scenario import load_scenario

    try:
        plan = load_scenario(scenario).model_copy(update={"topic_prefix": DEMO_PREFIX})
        sim = Simulation(plan, devices=devices, seed=seed, duration_s=duration_s, start_ms=start_ms, topics=topics)
        result["truth"] = sim.truth()
        result["summary"] = publish(sim, settings.mqtt_url, progress=lambda p: result.__setitem__("sent", p.messages))
        result["sent"] = result["summary"].messages
    except Exception as exc:  # noqa: BLE001 - reported by the main thread
        result["error"] = exc


@click.command()
@click.option("--scenario", default="firmware-regression", show_default=True)
@click.option("--devices", default=100, show_default=True)
@click.option("--duration", default="2d", show_default=True, help="Simulated span")
@click.option("--seed", default=0, show_default=True)
@click.option("--no-telemetry", is_flag=True, help="Play events, logs, meta and status only (faster)")
@click.option("--exit", "exit_after", is_flag=True,
              help="Exit after the report instead of serving the API; exit status 1 if an injected "
                   "incident did not become a ticket")
def demo(scenario, devices, duration, seed, no_telemetry, exit_after):
    """Run the local stack and the service, play a scenario, print the tickets it opens."""
    from api.serve import ApiPortError
    from faultline.run import Faultline
    from faultline.process import configure_logging, stop_on_signals

    try:
        duration_s = parse_span(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--duration") from None
    stop = stop_on_signals()
    setup = _prepare()
    settings = setup.settings
    configure_logging("WARNING")
    service = Faultline(settings, persistent_session=False)
    try:
        service.start()
    except ApiPortError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        ok = _play(service, setup, scenario, devices, duration, duration_s, seed, no_telemetry, stop)
    except Interrupted:
        click.echo("\ndemo interrupted; stopping", err=True)
        service.stop()
        sys.exit(130)
    if not exit_after:
        _api_lines(settings)
        click.echo("\nThe API keeps serving; press Ctrl-C to stop (the local stack stays up: faultline stack down).")
        while not stop.wait(1.0):
            pass
    service.stop()
    if exit_after and not ok:
        sys.exit(1)


def _play(service, setup: DemoSetup, scenario, devices, duration, duration_s, seed, no_telemetry, stop) -> bool:
    from faultline.commands.silence import format_time

    settings = setup.settings
    if not service.ingest.subscriber.wait_connected(30):
        raise click.ClickException(f"could not connect to the broker at {settings.mqtt_url}; "
                                   f"see {settings.data_dir.parent / 'stack' / 'mosquitto.log'}")
    for note in setup.notes:
        click.echo(note)
    click.echo(f"Faultline is running: broker {settings.mqtt_url} (topics {DEMO_PREFIX}/#), InfluxDB "
               f"{settings.influx_url} (database {DEMO_DB}), API http://{settings.api_host}:{settings.api_port}/docs")
    topics = ("logs", "events", "meta", "status") if no_telemetry else None
    start_ms = round(time.time() - duration_s) * 1000  # the simulated span ends now
    start = format_time(start_ms)
    click.echo(f"Playing '{scenario}': {devices} devices, {duration} of simulated time from {start}, seed {seed}"
               f"{' (no telemetry)' if no_telemetry else ''} ...")
    click.echo(f"  the same run without the services: faultline eval --scenario {scenario} --devices {devices} "
               f"--duration {duration} --seed {seed} --start {start}{' --no-telemetry' if no_telemetry else ''}")
    result: dict = {"sent": 0}
    publisher = threading.Thread(target=_publish, daemon=True,
                                 args=(settings, scenario, devices, duration_s, start_ms, seed, topics, result))
    publisher.start()
    _watch(service, publisher, result, stop)
    return _report(service, settings, result)


_last_plain = [0.0]


def _line(text: str) -> None:
    """A live status line: rewritten in place on a terminal, every 5 s otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write("\r" + text.ljust(110))
    elif time.monotonic() - _last_plain[0] >= 5:
        _last_plain[0] = time.monotonic()
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _counts(service, result) -> str:
    c = service.counters()
    return (f"sent {result.get('sent', 0):>9,}  stored {c.stored:>9,}  dead letters {c.dead_letters:>5,}  "
            f"anomalies {c.anomalies:>4}  open tickets {c.open_tickets:>3}")


def _watch(service, publisher: threading.Thread, result: dict, stop: threading.Event) -> None:
    """Show counts while the scenario plays, then until every message is stored and the pipeline settled."""
    while publisher.is_alive():
        _tick(service, result, stop)
        publisher.join(0.5)
    if "error" in result:
        raise click.ClickException(f"the simulator failed: {result['error']}")
    sent = result["summary"].messages
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and service.ingest.acked < sent:
        _tick(service, result, stop)
    last, since, deadline = _progress(service), time.monotonic(), time.monotonic() + SETTLE_LIMIT_S
    while time.monotonic() - since < QUIET_S and time.monotonic() < deadline:
        _tick(service, result, stop)
        now = _progress(service)
        # a ticket may be on its way: records queued, the alert or ticket stage at work, or an alert with its
        # reports in, waiting out its pending time (on the event clock: after the stream, at wall-clock speed)
        if now != last or not service.records.empty() or service.pipeline.busy or now[-1]:
            last, since = now, time.monotonic()
    _last_plain[0] = 0.0
    _line(_counts(service, result))
    sys.stderr.write("\n" if sys.stderr.isatty() else "")


def _tick(service, result: dict, stop: threading.Event) -> None:
    _line(_counts(service, result))
    if stop.wait(0.5):
        raise Interrupted


def _progress(service) -> tuple:
    """What changes while records still flow towards tickets."""
    from sqlalchemy import text

    with service.engine.connect() as conn:
        alerts = tuple(conn.execute(text("SELECT coalesce(sum(version), 0), count(*) FROM alert_states")).one())
        bodies = conn.execute(text("SELECT body FROM alert_states WHERE state = 'pending'")).scalars().all()
    due = sum(json.loads(b).get("count", 0) >= service.settings.alert_min_count for b in bodies)
    return service.ingest.acked, service.pipeline.anomaly_count, alerts, due


def _report(service, settings, result: dict) -> bool:
    """Print the injected incidents, the tickets and where to look; True when every incident has its ticket."""
    from detectors.eval_sim import TARGETS as DETECTED_KINDS
    from tickets.render import ticket_text
    from tickets.store import list_tickets

    tickets = list_tickets(service.engine, limit=20)
    truth = result.get("truth")
    missing = []
    for incident in (truth.incidents if truth is not None else ()):
        found = _ticket_for(incident, tickets)
        click.echo(f"\nInjected: {incident.kind} {incident.id}, attribution {incident.attribution or '-'}, "
                   f"codes {', '.join(incident.fault_codes)} -> "
                   + (f"ticket {found.id}" if found else "NO TICKET" if incident.kind in DETECTED_KINDS
                      else "not a detector target"))
        if found is None and incident.kind in DETECTED_KINDS:
            missing.append(incident.id)
    click.echo(f"\n{len(tickets)} ticket(s) opened:\n")
    for ticket in tickets:
        click.echo(ticket_text(ticket))
        click.echo("")
    _where(settings)
    if missing:
        click.echo(f"\nNot detected in this run: {', '.join(missing)}", err=True)
    return not missing


def _ticket_for(incident, tickets):
    for t in tickets:
        if incident.scope == "cohort" and t.scope == "cohort" and incident.attribution \
                and incident.attribution in (t.subject + " " + t.explanation):
            return t
        if incident.scope == "device" and incident.device in (t.subject, *t.devices):
            return t
    return None


def _executable() -> str:
    """How the user called `faultline` (relative when under the current folder)."""
    exe = sys.argv[0] if Path(sys.argv[0]).name == "faultline" else "faultline"
    if os.path.isabs(exe) and Path(exe).is_relative_to(Path.cwd()):
        exe = os.path.relpath(exe)
    return exe


def _where(settings) -> None:
    click.echo(f"Demo data: {settings.data_dir} (tickets, spool, detector state) and InfluxDB database {DEMO_DB}; "
               "the next demo starts them afresh.")
    click.echo(f"Its tickets later: FAULTLINE_DATA_DIR={settings.data_dir} {_executable()} tickets list   "
               "(or tickets show ID)")
    click.echo("Grafana:   docker-compose up (see README, 'Deploy'), dashboards 'Fleet overview' and 'Device'")


def _api_lines(settings) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    click.echo(f"API docs:  {api}/docs  (a key: FAULTLINE_DATA_DIR={settings.data_dir} {_executable()} apikey create "
               "--role viewer --name me)")
    click.echo(f"Tickets:   GET {api}/api/v1/tickets")
