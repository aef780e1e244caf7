"""The benchmark sections, each measuring Faultline and its limit in the same run.

Every section appends its figures to the `Report`; a section that fails is
reported as failed and the others still run.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from bench.ingest_drain import drain_once
from bench.plan import Plan
from bench.report import Report
from bench.services import Services
from bench.summary import Summary, paired_ratios


def _log(msg: str) -> None:
    import sys
    import time

    print(f"# {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def ingest(report: Report, services: Services, work: Path, plan: Plan) -> None:
    """The drain over MQTT 5 and, from its own copy of the same backlog, over MQTT 3.1.1 (which of the two
    Faultline drains goes first alternates), each against the bare paho drain of the same repetition."""
    runs = []
    for rep in range(plan.reps):
        run = drain_once(services, work, plan.drain_n, raw=True, v311=True, v311_first=rep % 2 == 1)
        _log(f"drain {rep + 1}/{plan.reps}: ingest {run.rate or 0:,.0f}/s (3.1.1 {run.v311_rate or 0:,.0f}/s), "
             f"raw {run.raw_rate or 0:,.0f}/s (3.1.1 {run.raw_v311_rate or 0:,.0f}/s)")
        runs.append(run)
    rates, raws = [r.rate for r in runs], [r.raw_rate for r in runs]
    rates311, raws311 = [r.v311_rate for r in runs], [r.raw_v311_rate for r in runs]
    n = f"N={plan.drain_n:,}, 1k devices"
    report.figure("ingest_rate", "ingest drain → InfluxDB (default settings)", Summary.of(rates), "msg/s", n,
                  0, "ingest")
    report.figure("raw_drain_rate", "raw limit: bare paho subscriber, MQTT 5", Summary.of(raws), "msg/s", n,
                  0, "ingest")
    report.figure("raw_drain_rate_v311", "bare paho subscriber, MQTT 3.1.1", Summary.of(raws311), "msg/s", n, 0,
                  "ingest")
    report.figure("ingest_ratio", "ingest / raw (paired per repetition)", paired_ratios(rates, raws), "", "", 3,
                  "ingest")
    fast = [r.raw_fast_rate for r in runs]
    report.figure("raw_drain_rate_fast", "bare subscriber on ingest's receive path, MQTT 5", Summary.of(fast),
                  "msg/s", n, 0, "ingest")
    report.figure("ingest_ratio_fast", "ingest / that subscriber (what storing costs)", paired_ratios(rates, fast),
                  "", "", 3, "ingest")
    report.figure("ingest_rate_v311", "ingest drain, FAULTLINE_MQTT_PROTOCOL=3.1.1", Summary.of(rates311), "msg/s",
                  "same backlog, own copy", 0, "ingest")
    report.figure("ingest_ratio_v311", "ingest 3.1.1 / raw 3.1.1 (paired)", paired_ratios(rates311, raws311), "", "",
                  3, "ingest")
    report.figure("ingest_ratio_v311_raw5", "ingest 3.1.1 / raw MQTT 5 (paired)", paired_ratios(rates311, raws), "",
                  "", 3, "ingest")
    report.figure("ingest_v311_speedup", "ingest 3.1.1 / ingest MQTT 5 (paired)", paired_ratios(rates311, rates), "",
                  "", 3, "ingest")
    report.figure("ingest_cpu_pct_v311", "ingest process CPU while draining, 3.1.1",
                  Summary.of(r.v311_cpu_pct for r in runs), "% of a core", "", 0, "ingest")
    report.figure("ingest_cpu_pct", "ingest process CPU while draining", Summary.of(r.ingest_cpu_pct for r in runs),
                  "% of a core", "", 0, "ingest")
    report.figure("ingest_rss_mb_1k", "ingest RSS after the drain, 1k devices", Summary.of(r.rss_mb for r in runs),
                  "MB", "", 1, "memory")
    report.figure(None, "prefill publisher (QoS 1)", Summary.of(r.prefill_rate for r in runs), "msg/s", "", 0)
    report.note("ingest", runs=[r.to_json() for r in runs])
    _sweep(report, services, work, plan)


def _sweep(report: Report, services: Services, work: Path, plan: Plan) -> None:
    """Each repetition runs every configuration once (interleaved), so a busy minute hits all of them alike;
    each configuration is also reported relative to the first one (the default) of the same repetition."""
    if not plan.sweep:
        return
    labels = [f"{inflight}/{batch}" for inflight, batch in plan.sweep]
    runs: dict[str, list] = {label: [] for label in labels}
    for rep in range(plan.reps):
        for label, (inflight, batch) in zip(labels, plan.sweep):
            runs[label].append(drain_once(services, work, plan.sweep_n, inflight=inflight, batch_size=batch))
        _log(f"sweep {rep + 1}/{plan.reps}: " + ", ".join(f"{k} {v[-1].rate or 0:,.0f}/s" for k, v in runs.items()))
    base = [r.rate for r in runs[labels[0]]]
    results = {}
    for label in labels:
        rates = [r.rate for r in runs[label]]
        results[label] = Summary.of(rates)
        report.figure(None, f"ingest drain, max_inflight/batch {label}", results[label], "msg/s",
                      f"N={plan.sweep_n:,}", 0)
        rel = paired_ratios(rates, base)
        if label != labels[0]:
            report.figure(None, f"  {label} relative to {labels[0]} (paired)", rel, "", "", 2)
        report.note("sweep", **{label: {**results[label].to_json(), "relative_to_first": rel.to_json(),
                                        "runs": [r.to_json() for r in runs[label]]}})
    best = max(results, key=lambda k: results[k].median or 0)
    report.note("sweep", best=best)
    report.rows.append(("best FAULTLINE_MQTT_MAX_INFLIGHT/BATCH_SIZE", best, "", "", 0))


def shared(report: Report, services: Services, work: Path, plan: Plan) -> None:
    ones, twos = [], []
    for _ in range(plan.shared_reps):
        ones.append(drain_once(services, work, plan.shared_n, processes=1, shared=True).rate)
        twos.append(drain_once(services, work, plan.shared_n, processes=2, shared=True).rate)
        _log(f"shared: 1 process {ones[-1] or 0:,.0f}/s, 2 processes {twos[-1] or 0:,.0f}/s")
    note = f"$share/<group>/devices/#, N={plan.shared_n:,}"
    report.figure(None, "shared subscription, 1 ingest process", Summary.of(ones), "msg/s", note, 0, "shared")
    report.figure(None, "shared subscription, 2 ingest processes", Summary.of(twos), "msg/s", note, 0, "shared")
    report.figure("shared_sub_scaling", "shared_sub_scaling (2 / 1, paired)", paired_ratios(twos, ones), "", "", 2,
                  "shared")


def workers(report: Report, services: Services, work: Path, plan: Plan) -> None:
    """`faultline ingest --workers 2` (two writers fed by one session, and two sessions on a shared subscription)
    against one process and the bare paho drains, interleaved per repetition."""
    ones, twos, pools, raws, raws311 = [], [], [], [], []
    for _ in range(plan.shared_reps):
        one = drain_once(services, work, plan.shared_n, raw=True)
        ones.append(one.rate)
        raws.append(one.raw_rate)
        raws311.append(one.raw_v311_rate)
        twos.append(drain_once(services, work, plan.shared_n, workers=2).rate)
        pools.append(drain_once(services, work, plan.shared_n, workers=2, shared_pool=True).rate)
        _log(f"workers: raw {raws[-1] or 0:,.0f}/s (3.1.1 {raws311[-1] or 0:,.0f}/s), "
             f"1 process {ones[-1] or 0:,.0f}/s, --workers 2 {twos[-1] or 0:,.0f}/s, "
             f"shared pool of 2 {pools[-1] or 0:,.0f}/s")
    note = f"N={plan.shared_n:,}, 1k devices"
    report.figure(None, "bare paho drain, MQTT 5", Summary.of(raws), "msg/s", note, 0, "workers")
    report.figure(None, "bare paho drain, MQTT 3.1.1", Summary.of(raws311), "msg/s", note, 0, "workers")
    report.figure(None, "faultline ingest, 1 process", Summary.of(ones), "msg/s", note, 0, "workers")
    report.figure(None, "faultline ingest --workers 2 (one session)", Summary.of(twos), "msg/s", note, 0, "workers")
    report.figure(None, "faultline ingest --workers 2, shared subscription", Summary.of(pools), "msg/s", note, 0,
                  "workers")
    report.figure("workers_scaling", "--workers 2 / 1 process, paired", paired_ratios(twos, ones), "", "", 2, "workers")
    report.figure("shared_pool_scaling", "shared pool of 2 / 1 process, paired", paired_ratios(pools, ones), "", "",
                  2, "workers")
    report.figure("workers_ratio", "--workers 2 / bare paho MQTT 5, paired", paired_ratios(twos, raws), "", "", 2,
                  "workers")


def worker_kill(report: Report, services: Services, work: Path, plan: Plan) -> None:
    """kill -9 of one worker of `faultline ingest --workers 2` under load (bench/workers_kill.py): lost and
    duplicated points counted in InfluxDB."""
    from bench.workers_kill import kill_one_worker

    runs = []
    for _ in range(plan.kill_reps):
        runs.append(kill_one_worker(services, work, plan.kill_n, plan.kill_rate))
        r = runs[-1]
        _log(f"worker kill -9: {r.lost} lost, {r.duplicates} duplicates of {r.n} (stored at kill {r.stored_at_kill}, "
             f"worker back after {r.back_s or 0:.1f} s)")
    note = f"--workers 2, N={plan.kill_n:,} at {plan.kill_rate:,.0f} msg/s, worker 1 killed at 30 % stored"
    report.figure("kill9_one_worker_lost", "kill -9 of one worker under load: lost", Summary.of(r.lost for r in runs),
                  "msgs", note, 0, "worker_kill")
    report.figure("kill9_one_worker_duplicates", "  duplicates (points − distinct seqs)",
                  Summary.of(r.duplicates for r in runs), "points", "", 0, "worker_kill")
    report.figure(None, "  killed worker started again after", Summary.of(r.back_s for r in runs), "s",
                  "", 1, "worker_kill")
    report.figure(None, "  last publish → all stored", Summary.of(r.lag_s for r in runs), "s", "", 2,
                  "worker_kill")
    report.note("worker_kill", runs=[r.to_json() for r in runs])
    errors = [r.error for r in runs if r.error] + ["worker 1 not restarted" for r in runs if not r.restarted]
    if errors:
        raise RuntimeError("; ".join(errors))


def memory(report: Report, services: Services, work: Path, plan: Plan) -> None:
    runs = [drain_once(services, work, plan.rss_n, devices=10_000) for _ in range(plan.rss_reps)]
    report.figure("ingest_rss_mb_10k", "ingest RSS after the drain, 10k devices", Summary.of(r.rss_mb for r in runs),
                  "MB", f"N={plan.rss_n:,}", 1, "memory")
    report.figure(None, "ingest drain, 10k devices", Summary.of(r.rate for r in runs), "msg/s", "", 0, "memory")
    report.note("memory", runs_10k=[r.to_json() for r in runs])


def live(report: Report, services: Services, work: Path, plan: Plan) -> None:
    from bench.ingest_live import live_once

    runs = [live_once(services, work, plan.live_n) for _ in range(plan.live_reps)]
    for r in runs:
        _log(f"live: publish {r.publish_rate or 0:,.0f}/s, lag {r.lag_s}")
    note = f"simulator, 1k devices, {plan.live_n:,} msgs, as fast as possible"
    report.figure("live_publish_rate", "live: simulator publish rate", Summary.of(r.publish_rate for r in runs),
                  "msg/s", note, 0, "live")
    report.figure("live_lag_s", "live: last publish → all stored", Summary.of(r.lag_s for r in runs), "s", "", 2,
                  "live")
    report.note("live", runs=[r.to_json() for r in runs])


def detectors(report: Report, plan: Plan) -> None:
    import pickle

    from bench.bench_detectors import CONFIG, GROWN, fault_records, simulated_records, telemetry_records, timed

    (sd, sdays), (fd, fh), (td, tr) = plan.detector_sizes
    simulated, faults, rows = simulated_records(sd, sdays), fault_records(fd, fh), telemetry_records(td, tr)
    eps, heavy, rps, grown_rps, state = [], [], [], [], []
    for _ in range(plan.reps):
        eps.append(timed(simulated, CONFIG)[0])
        rate, engine = timed(faults, CONFIG)
        heavy.append(rate)
        rate, tele = timed(rows, CONFIG)
        rps.append(rate)
        grown_rps.append(timed(rows, GROWN)[0])
        state.append(len(pickle.dumps(tele.devices)) / len(tele.devices)
                     + len(pickle.dumps(engine.devices)) / len(engine.devices))
    src = "bench/bench_detectors.py"
    report.figure("detector_fault_rate_eps", "detectors: fault-rate records/s (simulated)", Summary.of(eps),
                  "records/s", f"{len(simulated):,} records, {sd} devices; {src}", 0, "detectors")
    report.figure(None, "detectors: fault-rate records/s (25x faults)", Summary.of(heavy), "records/s",
                  f"{len(faults):,} records", 0, "detectors")
    report.figure("detector_telemetry_rps", "detectors: telemetry rows/s (8 metrics)", Summary.of(rps), "rows/s",
                  f"{len(rows):,} rows", 0, "detectors")
    report.figure("detector_telemetry_rps_grown", "detectors: telemetry rows/s, grown devices", Summary.of(grown_rps),
                  "rows/s", "same rows, devices grown after 60 readings (level scored)", 0, "detectors")
    report.figure("detector_state_bytes_per_device", "detector state per device (pickled)", Summary.of(state),
                  "bytes", "telemetry + fault-rate state", 0, "detectors")


def latency(report: Report, services: Services, work: Path, plan: Plan) -> None:
    from bench.fault_latency import LATENESS_S, WINDOW_S, latency_run

    run = latency_run(services, work, plan.latency_incidents)
    if run.error:
        raise RuntimeError(run.error)
    lat = sorted(run.latencies_s)
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] if lat else None
    note = f"{len(lat)} incidents, window {WINDOW_S}s + lateness {LATENESS_S}s subtracted"
    report.figure(None, "fault → ticket after window close", Summary.of(lat), "s", note, 2, "latency")
    report.headline["fault_to_ticket_p50_s"] = None if not lat else round(statistics.median(lat), 3)
    report.headline["fault_to_ticket_p95_s"] = None if p95 is None else round(p95, 3)
    report.rows.append(("fault → ticket p95 (after window close)", f"{p95:.2f} s" if p95 is not None else "n/a",
                        "", "", 0))
    report.figure(None, "fault → ticket, from the first fault message", Summary.of(run.raw_s), "s",
                  "includes the wait for the window to close", 1, "latency")
    report.note("latency", latencies_s=[round(x, 3) for x in run.latencies_s], raw_s=[round(x, 3) for x in run.raw_s],
                missing=run.missing, p95_s=p95)


def api(report: Report, work: Path, plan: Plan) -> None:
    from bench.api_latency import api_runs

    out = api_runs(work, plan.api_tickets, plan.api_reps, plan.api_seconds)
    note = f"{plan.api_tickets:,} tickets, SQLite, 8 concurrent"
    for name in ("tickets", "kpis"):
        runs = out["runs"][name]
        report.figure(f"api_{name}_p50_ms", f"API {name}: p50", Summary.of(r.p50_ms for r in runs), "ms", note, 1, "api")
        report.figure(f"api_{name}_p99_ms", f"API {name}: p99", Summary.of(r.p99_ms for r in runs), "ms", "", 1, "api")
        report.figure(None, f"API {name}: requests/s", Summary.of(r.rps for r in runs), "req/s", "", 1, "api")
        report.note("api", **{f"{name}_requests": [r.requests for r in runs], f"{name}_errors": [r.errors for r in runs]})
    report.note("api", fill_s=round(out["fill_s"], 2))


def workspace(report: Report, work: Path, plan: Plan) -> None:
    """Pages and API at fleet size (bench/workspace_latency.py): SQLite with `api_tickets`, PostgreSQL with ten
    times as many (1,000,000 in full mode) when one answers on 127.0.0.1:5432."""
    from bench.workspace_latency import GOALS, measure

    stores = [("sqlite", plan.api_tickets)]
    try:
        import psycopg

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
        stores.append(("postgresql", 10 * plan.api_tickets))
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: say so, measure SQLite
        report.note("workspace", postgresql_skipped=f"{type(exc).__name__}: {exc}"[:200])
    for kind, n in stores:
        out = measure(kind, n, work, plan.api_seconds, plan.api_reps)
        note = f"{n:,} tickets, {kind}, 8 in flight"
        for name, runs in out["runs"].items():
            which, limit = GOALS[name]
            key = f"ws_{kind}_{name.split('?')[0].replace('GET /api/v1/', 'api_').replace(' ', '_')}_{which}"
            short = {"GET /api/v1/tickets?limit=50": "list ?limit=50", "GET /api/v1/kpis": "KPIs"}.get(name, name)
            report.figure(key, f"{short}, {kind}: {which[:3]} (goal ≤ {limit} ms)",
                          Summary.of(getattr(r, which) for r in runs), "ms", note, 1, "workspace")
        report.note("workspace", **{f"{kind}_fill_s": out["fill_s"]})


def simulator(report: Report, plan: Plan) -> None:
    from bench.bench_simulator import publish_rate
    from faultline.stack import Mosquitto, free_port

    with tempfile.TemporaryDirectory(prefix="faultline-bench-sim-") as tmp:
        broker = Mosquitto(Path(tmp), free_port())
        broker.start()
        try:
            rates = [publish_rate(broker.url, 1000, plan.sim_messages) for _ in range(plan.reps)]
        finally:
            broker.stop()
    report.figure("simulator_publish_rate", "simulator publish, 1k devices, QoS 1", Summary.of(rates), "msg/s",
                  f"{plan.sim_messages:,} msgs; bench/bench_simulator.py", 0, "simulator")


def peer(report: Report, work: Path, plan: Plan) -> None:
    """The peer's scenarios (bench/peer.py): Node-RED's tuned flow, Faultline as a user starts it (the default:
    one writer per core fed by one session, the headline) and as one process (`--workers 1`), each against the
    raw paho drain of its own pass; kill -9 and InfluxDB stopped 15 s for both Faultline deployments."""
    from bench.peer import ONE_PROCESS, POOL, run_peer

    result = run_peer(work / "peer", n=plan.peer_n, reps=plan.reps, inflight=plan.peer_inflight)
    for error in result.errors:
        report.errors.append(f"peer: {error}")
        report.rows.append(("peer: FAILED", error[:90], "", "", 0))
    nr = result.of("A_drain", "flows-join.json")
    nr_rate = Summary.of(r.get("nr_msg_s") for r in nr)
    note = f"peer scenario A, {plan.peer_n // 1000}k QoS 1 backlog, first point → all"
    report.figure("nodered_tuned_rate", "Node-RED tuned (join) drain", nr_rate, "msg/s", note, 0, "peer")
    report.figure(None, "Node-RED tuned: points never stored", Summary.of(r.get("nr_missing") for r in nr), "msgs",
                  "", 0, "peer")
    everyone = list(nr)
    for label, suffix, what in ((POOL, "", "the default (one writer per core, one session)"),
                                (ONE_PROCESS, "_one_process", "one process (--workers 1)")):
        fl = result.of("A_drain", label)
        everyone += fl
        fl_rate = Summary.of(r.get("nr_msg_s") for r in fl)
        report.figure(f"peer_faultline_rate{suffix}", f"Faultline, {what}", fl_rate, "msg/s",
                      f"same scenario; FAULTLINE_MQTT_MAX_INFLIGHT={plan.peer_inflight}", 0, "peer")
        report.figure(None, "  points never stored", Summary.of(r.get("nr_missing") for r in fl),
                      "msgs", "", 0, "peer")
        if nr_rate.median and fl_rate.median:
            report.headline[f"faultline_vs_nodered{suffix}"] = round(fl_rate.median / nr_rate.median, 3)
            report.rows.append((f"faultline_vs_nodered{suffix} (median / median)",
                                f"{fl_rate.median / nr_rate.median:.3f}", "", "", 0))
        _peer_faults(report, result, label, suffix)
    report.figure(None, "peer raw paho limit (every pass)", Summary.of(r.get("raw_msg_s") for r in everyone),
                  "msg/s", "", 0, "peer")
    report.note("peer", rows=result.rows)


def _peer_faults(report: Report, result, label: str, suffix: str) -> None:
    """Scenario C of one Faultline deployment: lost of sent, as rows and headline keys."""
    for bench, key, what in (("C_kill9_nodered", "kill9_process_lost", "kill -9 mid-stream"),
                             ("C_stop_influxd", "influx_down_15s_lost", "InfluxDB stopped 15 s")):
        for r in result.of(bench, label):
            report.rows.append((f"{label} C, {what}: lost", f"{r.get('missing')} of {r.get('sent')} "
                                f"(at {r.get('target_rate')}/s; all stored {r.get('lag_after_last_publish_s')} s "
                                "after the last publish)", "", "", 0))
            report.headline[f"{key}{suffix}"] = r.get("missing")
            report.headline.setdefault("peer_c_lost", {}).setdefault(label, {})[bench] = {
                "lost": r.get("missing"), "sent": r.get("sent")}
