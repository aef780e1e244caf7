"""`faultline simulate`: run a scenario against a broker and write its ground truth."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from simulators.timespan import parse_span


def _span(ctx, param, value):
    if value is None:
        return None
    try:
        seconds = parse_span(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter(f"{value!r} is not a positive span")
    return seconds


def _when(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class ProgressLine:
    """One status line on stderr, rewritten in place (at most as often as publish reports)."""

    def __init__(self, start_ms: int, end_ms: int, stream=sys.stderr):
        self.start_ms, self.end_ms, self.stream = start_ms, end_ms, stream
        self.drawn = False

    def __call__(self, p) -> None:
        self.drawn = True
        done = (p.sim_ms - self.start_ms) / max(self.end_ms - self.start_ms, 1)
        self.stream.write(f"\rsim {_when(p.sim_ms)} UTC  {done:6.1%}  {p.messages:>12,} msgs  "
                          f"{p.rate:>9,.0f} msg/s  ")
        self.stream.flush()

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * 78 + "\r")
            self.stream.flush()


@click.command("simulate")
@click.option("--scenario", "scenario_ref", default="healthy", show_default=True,
              help="Scenario name (see --list) or path to a scenario YAML file.")
@click.option("--devices", type=click.IntRange(1, 1_000_000), help="Fleet size (default: the scenario's).")
@click.option("--duration", callback=_span, help="Simulated span, e.g. 2h or 30d (default: the scenario's).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Same seed, same messages.")
@click.option("--speed", type=float, default=0.0, show_default=True,
              help="Simulated seconds per wall second; 0 or inf: as fast as the broker acknowledges.")
@click.option("--realtime", is_flag=True, help="Speed 1 on wall-clock timestamps, starting now.")
@click.option("--truth", "truth_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the ground truth (JSON) here before publishing.")
@click.option("--mqtt-url", help="Broker URL (default: FAULTLINE_MQTT_URL).")
@click.option("--topic-prefix", help="Topic prefix (default: the scenario's, normally 'devices').")
@click.option("--topics", help="Comma-separated subset of telemetry,logs,events,meta,status.")
@click.option("--list", "list_only", is_flag=True, help="List the shipped scenarios and exit.")
@click.option("--quiet", is_flag=True, help="No progress line.")
@click.option("--credentials", "credentials_file", type=click.File("r"),
              help="CSV of device,password (as `faultline devices import` prints): each device publishes "
                   "logged in as itself, as a broker with authorisation requires.")
@click.option("--ca-file", help="CA that verifies the broker on mqtts:// (default: FAULTLINE_MQTT_CA_FILE).")
def simulate(scenario_ref, devices, duration, seed, speed, realtime, truth_file, mqtt_url, topic_prefix, topics,
             list_only, quiet, credentials_file, ca_file):
    """Publish a seeded fleet running a scenario, faster than real time with explicit timestamps."""
    from simulators.planner import PlanError
    from simulators.publisher import PublishError, publish
    from simulators.scenario import ScenarioError, load_scenario, scenario_names

    if list_only:
        for name in scenario_names():
            click.echo(f"{name:22} {load_scenario(name).description}")
        return
    try:
        sim = _simulation(scenario_ref, devices, duration, seed, realtime, topic_prefix, topics)
        truth = sim.truth()
    except (ScenarioError, PlanError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if truth_file is not None:
        truth_file.parent.mkdir(parents=True, exist_ok=True)
        truth_file.write_text(truth.to_json())
    url = mqtt_url or _default_url()
    if not realtime:
        _warn_if_late(sim, scenario_ref)
    line = None if quiet else ProgressLine(sim.start_ms, sim.end_ms)
    try:
        summary = publish(sim, url, speed=speed, realtime=realtime, progress=line,
                          credentials=_credentials(credentials_file), ca_file=ca_file or _default_ca_file())
    except PublishError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if line is not None:
            line.clear()
    click.echo(f"{sim.scenario.name}: {summary.messages:,} messages from {sim.devices} devices in "
               f"{summary.elapsed_s:.1f} s ({summary.rate:,.0f} msg/s); simulated {_when(sim.start_ms)} to "
               f"{_when(sim.end_ms)} UTC ({sim.duration_s / 3600:g} h), seed {seed}, "
               f"{len(truth.incidents)} incident(s)" + (f", truth in {truth_file}" if truth_file else ""))


def _simulation(scenario_ref, devices, duration, seed, realtime, topic_prefix, topics):
    from simulators.fleet import Simulation
    from simulators.scenario import load_scenario

    scenario = load_scenario(scenario_ref)
    if topic_prefix:
        scenario = scenario.model_copy(update={"topic_prefix": topic_prefix.strip("/")})
    span = duration if duration is not None else parse_span(scenario.duration)
    start_ms = round(time.time()) * 1000 if realtime else None
    return Simulation(scenario, devices=devices, seed=seed, duration_s=span, start_ms=start_ms,
                      topics=topics.split(",") if topics else None)


def _warn_if_late(sim, scenario_ref: str) -> None:
    """Say so when the scenario's event times start before data already stored.

    A running service has closed its detector windows up to about the newest
    event time it has seen; records older than its open windows are counted
    as late and never alert (README, "Late data").
    """
    newest = _stored_until()
    if newest is None or sim.start_ms >= newest:
        return
    click.echo(f"warning: this run's event times start at {_when(sim.start_ms)} UTC, before data already stored up "
               f"to {_when(newest)} UTC. A running Faultline service has already evaluated those hours: it counts "
               "such records as late (stored, never alerting), so this run can open no ticket for them. "
               f"To see its incidents as tickets, play it into a fresh service (`faultline demo --scenario "
               f"{scenario_ref}`, or a new FAULTLINE_INFLUX_DB and FAULTLINE_DATA_DIR), use --realtime, "
               f"or score it offline: `faultline eval --scenario {scenario_ref}`.", err=True)


def _stored_until() -> int | None:
    """The newest event time stored in the configured database (logs and events), or None."""
    from faultline.settings import SettingsError, load_settings
    from faultline.wiring import influx_client
    from influx.errors import InfluxError

    try:
        settings = load_settings()
        client = influx_client(settings.model_copy(update={"influx_timeout_s": 5.0}))  # a quick look only
        rows = client.rows('SELECT last("code") FROM "device_logs", "device_events"')
    except (SettingsError, InfluxError):
        return None  # nothing to compare with: no warning
    return max((int(r["time"]) for r in rows), default=None)


def _credentials(handle) -> dict[str, str] | None:
    """device -> password from a ``device,password`` CSV, or None without one."""
    import csv

    if handle is None:
        return None
    rows = list(csv.DictReader(handle))
    if not rows or not {"device", "password"} <= set(rows[0]):
        raise click.UsageError("--credentials: expected a CSV with a header row device,password")
    return {row["device"]: row["password"] for row in rows}


def _default_ca_file() -> str:
    from faultline.settings import SettingsError, load_settings

    try:
        return load_settings().mqtt_ca_file
    except SettingsError:
        return ""


def _default_url() -> str:
    from faultline.cli import command_settings

    return command_settings().mqtt_url
