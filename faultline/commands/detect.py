"""`faultline detect` (the detectors as their own process) and `faultline eval` (their quality)."""

from __future__ import annotations

import json
import signal
import threading
from dataclasses import asdict
from pathlib import Path

import click

DEFAULT_START = "2026-01-01T00:00:00Z"  # detectors.eval_sim.SCENARIO_START_MS


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` as a pair.

    >>> parse_shard("1/4")
    (1, 4)
    """
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise click.BadParameter(f"expected i/n, e.g. 0/4, got {text!r}") from None
    if not 0 <= i < n:
        raise click.BadParameter(f"shard index must be in 0..{n - 1}, got {i}")
    return i, n


@click.command()
@click.option("--shard", default="0/1", show_default=True, help="i/n: run device detectors for shard i of n")
@click.option("--cohort/--no-cohort", default=None, help="Run the cohort scan and rules (default: on shard 0)")
@click.option("--alerts/--no-alerts", default=True, show_default=True,
              help="Hand anomalies on to the alert and ticket stages (SQL database of FAULTLINE_DATABASE_URL)")
def detect(shard: str, cohort: bool | None, alerts: bool):
    """Run the detectors as their own process: MQTT in, anomalies to InfluxDB."""
    from detectors.engine import EngineConfig
    from detectors.rules import RuleError
    from detectors.service import DetectService
    from faultline import wiring
    from faultline.cli import command_settings
    from influx.ensure import DatabaseKeeper
    from faultline.process import configure_logging, session_taken_over
    from ingest.mqtt import Subscriber
    from runtime.supervisor import Supervisor

    settings = command_settings()
    configure_logging(settings.log_level)
    i, n = parse_shard(shard)
    try:
        config = EngineConfig.from_settings(settings, shard=(i, n), cohort=(i == 0) if cohort is None else cohort)
    except RuleError as exc:
        raise click.ClickException(str(exc)) from None
    client = wiring.influx_client(settings)
    stop = threading.Event()
    DatabaseKeeper(client, stop).start()  # the sink keeps anomalies and retries; detection need not wait

    def subscriber(url, client_id, topic_filter, on_message):
        return Subscriber(url, client_id, topic_filter, on_message, keepalive=settings.mqtt_keepalive_s,
                          receive_maximum=settings.mqtt_max_inflight, max_packet_size=settings.mqtt_max_packet_bytes,
                          client_id_option="FAULTLINE_DETECTOR_MQTT_CLIENT_ID", on_taken_over=stop.set,
                          ca_file=settings.mqtt_ca_file, protocol=settings.mqtt_protocol)

    supervisor = Supervisor("faultline detect")
    pipeline = wiring.pipeline(settings, client, detector_config=config, alerts=alerts, guard=supervisor.guard)
    try:
        service = DetectService(settings, pipeline, subscriber, wiring.decode_limits(settings), supervisor,
                                history=client)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"faultline detect: shard {i}/{n} reading {service.topic_filter}", err=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.run(stop)
    if service.subscriber.taken_over.is_set():
        raise session_taken_over(service.client_id, "FAULTLINE_DETECTOR_MQTT_CLIENT_ID")


@click.command("eval")
@click.option("--scenario", help="Simulator scenario name or YAML path")
@click.option("--devices", type=int, default=None, help="Fleet size (default: the scenario's)")
@click.option("--duration", default=None, help="Simulated span, e.g. 2d (default: the scenario's)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-telemetry", is_flag=True, help="Simulate events, logs, meta and status only (faster)")
@click.option("--start", default=DEFAULT_START, show_default=True,
              help="Simulated start: RFC 3339 (UTC unless it has an offset) or epoch ms; the time of day shifts "
                   "the daily cycles (`faultline demo` prints the start it played)")
@click.option("--tickets/--no-tickets", default=True, show_default=True,
              help="Also run the alert and ticket stages on the simulated clock and score the tickets")
@click.option("--loop", is_flag=True, help="Simulated technicians work the tickets (truth as root cause); "
                                          "print the after-sales KPIs: localisation accuracy, detector precision, "
                                          "time to detect, handling time")
@click.option("--wrong-share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="With --loop: share of tickets whose right attribution the technician disputes")
@click.option("--nff-share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="With --loop: share of real faults the technician resolves as no fault found")
@click.option("--skab", "skab", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="SKAB data directory (valve1/, valve2/, other/, anomaly-free/)")
@click.option("--nab", "nab", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="NAB directory (data/, labels/combined_windows.json): the benchmark's standard score")
@click.option("--csv", "csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Score a CSV series with the telemetry detector")
@click.option("--time-column", default="timestamp", show_default=True)
@click.option("--value-columns", default="", help="Comma-separated; default: every other column")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Scores CSV (with --csv)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def evaluate(scenario, devices, duration, seed, no_telemetry, start, tickets, loop, wrong_share, nff_share, skab, nab,
             csv_file, time_column, value_columns, out, fmt):
    """Measure the detectors on a simulator scenario, on SKAB or NAB, or score a CSV."""
    if sum(x is not None for x in (scenario, skab, nab, csv_file)) != 1:
        raise click.UsageError("give exactly one of --scenario, --skab, --nab, --csv")
    if loop and not scenario:
        raise click.UsageError("--loop needs --scenario")
    if scenario:
        people = None
        if loop:
            from faultline.evaluation.technicians import TechnicianModel
            try:
                people = TechnicianModel(wrong_share=wrong_share, nff_share=nff_share, seed=seed)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
        from tickets.review import parse_time
        try:
            start_ms = parse_time(start)
        except ValueError:
            raise click.BadParameter(f"expected an RFC 3339 time (2026-01-01T00:00:00Z) or epoch milliseconds, "
                                     f"not {start!r}", param_hint="--start") from None
        _eval_scenario(scenario, devices, duration, seed, no_telemetry, tickets, fmt, people, start_ms)
    elif skab:
        from detectors.eval_skab import TelemetryParams, evaluate_skab
        result = evaluate_skab(skab)
        doc = {"params": asdict(TelemetryParams()), **asdict(result)}
        if fmt == "json":
            click.echo(json.dumps(doc, indent=2))
        else:
            p = result.point
            click.echo(f"SKAB ({result.files} files, {result.rows} scored rows): F1 {p.f1:.3f} "
                       f"(precision {p.precision:.3f}, recall {p.recall:.3f}), FAR {p.far:.1%}, MAR {p.mar:.1%}; "
                       f"NAB changepoint score (standard) {result.nab:.2f}; anomaly-free FAR {result.free_far:.1%}")
    elif nab:
        _eval_nab(nab, fmt)
    else:
        if out is None:
            raise click.UsageError("--csv needs --out")
        from detectors.eval_skab import score_csv
        cols = [c for c in value_columns.split(",") if c] or None
        n, clock = score_csv(csv_file, out, time_column, cols)
        click.echo(f"scored {n} rows into {out}, " + {
            "times": f"at the times of column {time_column!r}",
            "rows": f"one row a second (column {time_column!r} does not hold date-times or epoch times in order)",
            "missing": f"one row a second (no column {time_column!r}: --time-column names the time column)"}[clock])


def _eval_scenario(scenario, devices, duration, seed, no_telemetry, tickets, fmt, people, start_ms: int) -> None:
    from faultline.commands.silence import format_time
    from faultline.evaluation.scenario import evaluate_scenario
    from simulators.timespan import parse_span

    topics = ("logs", "events", "meta", "status") if no_telemetry else None
    result, _ = evaluate_scenario(scenario, devices=devices, seed=seed, topics=topics, tickets=tickets,
                                  duration_s=parse_span(duration) if duration else None, technicians=people,
                                  start_ms=start_ms)
    if fmt == "json":
        click.echo(json.dumps(asdict(result), indent=2))
        return
    click.echo(f"scenario {result.scenario} seed {result.seed}: {result.devices} devices x {result.days:g} days "
               f"from {format_time(start_ms)}, "
               f"{result.records} records ({result.rejected} rejected), {result.anomalies} anomalies")
    for inc in result.incidents:
        delay = f"{inc.delay_s / 60:.0f} min" if inc.delay_s is not None else "-"
        click.echo(f"  {inc.id:<28} {inc.kind:<20} {'detected' if inc.detected else 'MISSED':<9} "
                   f"delay {delay:<9} attribution {'ok' if inc.attribution_correct else 'WRONG'} "
                   f"(expected {inc.attribution_expected}, found {inc.attribution_found or '-'})")
    for t in result.tickets.incidents if result.tickets else ():
        delay = f"after {t.delay_s / 60:.0f} min" if t.delay_s is not None else "NONE"
        click.echo(f"  {t.id:<28} {'ticket':<20} {'opened' if t.opened else 'MISSING':<9} {delay:<15} "
                   f"{t.tickets} ticket(s){', flapping' if t.flapping else ''}")
    for iid, kind in result.not_scored:
        click.echo(f"  {iid:<28} {kind:<20} not scored: no detector targets this kind of incident")
    click.echo(f"  false alarms: {result.false_alarms} = {result.false_alarms_per_1000_device_days:g} "
               f"per 1,000 device-days {result.false_alarm_detectors or ''}")
    if result.tickets:
        click.echo(f"  tickets: {result.tickets.tickets} opened, {result.tickets.false_tickets} false")
    if result.tickets and result.tickets.loop is not None:
        for line in loop_lines(result.tickets.loop):
            click.echo(line)


def loop_lines(loop) -> list[str]:
    """The after-sales KPIs of a loop run (`faultline.evaluation.tickets.LoopResult`), as printed by ``eval --loop``."""
    k = loop.kpis

    def pct(v):
        return "-" if v is None else f"{v:.1%}"

    def mins(v):
        return "-" if v is None else f"{v / 60:.0f} min"

    return [f"  loop: localisation accuracy {pct(k.localisation_accuracy)} ({k.confirmed}/{k.judged} confirmed), "
            f"detector precision {pct(k.detector_precision)} ({k.no_fault_found} no fault found of {k.classified})",
            f"        time to detect {mins(loop.time_to_detect_s)} (incident start -> ticket), first response "
            f"{mins(k.first_response_s)}, handling time {mins(k.handling_s)} (MTTR per cycle "
            f"{mins(loop.mttr_s)}); {k.handled} of {k.tickets} tickets resolved by technicians"]


def _eval_nab(root: Path, fmt: str) -> None:
    from detectors.eval_nab import REFERENCES, baseline_scores, evaluate_nab

    result = evaluate_nab(root)
    same = baseline_scores(root) if result.partial else {}
    if fmt == "json":
        click.echo(json.dumps({**asdict(result), "references": dict(REFERENCES), "same_files": same}, indent=2))
        return
    refs = ", ".join(f"{name} {score:g}" for name, score in REFERENCES)
    click.echo(f"NAB ({result.files} files, {result.rows} rows, {result.windows} windows): standard score "
               f"{result.score:.2f}; {result.detected} windows found, {result.onsets} alarm onsets, "
               f"{result.false_onsets} outside windows (published: {refs})")
    if result.partial:
        click.echo(f"  {result.files} of the {result.labelled} labelled files: the published scores are over the "
                   f"whole corpus. On the same files: " + "; ".join(f"{n} {v:.2f}" for n, v in same.items()))
