"""The tables of docs/detection.md, from real runs (the command is `python -m bench.detection_tables`).

Runs `faultline eval`'s fast path (simulator → decoder → detectors → alert
and ticket stages on the simulated clock) over the shipped scenarios, three
seeds each (the scenario's own defaults included), SKAB and NAB with the
shipped telemetry defaults when their data is present
(``SKAB_DIR``;
``NAB_DIR``), and rewrites the part of docs/detection.md between
its ``tables`` markers. One run at a time (the machine is shared); about
twenty minutes on two cores.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "detection.md"
BEGIN, END = "<!-- tables:begin (python -m bench.detection_tables) -->", "<!-- tables:end -->"
NO_TELEMETRY = ("logs", "events", "meta", "status")


@dataclass(frozen=True)
class Run:
    scenario: str
    seeds: tuple[int, ...]
    devices: int | None = None  # None: the scenario's own
    days: float | None = None
    telemetry: bool = True


RUNS = (
    Run("firmware-regression", (0, 1, 2), 1000, telemetry=False),
    Run("firmware-regression", (0, 1, 2)),
    Run("firmware-regression-site", (0, 1, 2), telemetry=False),
    Run("site-fault", (0, 1, 2), telemetry=False),
    Run("site-fault", (0, 1, 2), 300, telemetry=False),
    Run("hw-batch", (0, 1, 2), telemetry=False),
    Run("hw-batch", (0, 1, 2), 300, telemetry=False),
    Run("device-degradation", (0, 1, 2)),
    Run("stuck-sensor", (0, 1, 2)),
    Run("flapping", (0, 1, 2)),
    Run("offline", (0, 1, 2)),
    Run("mixed-incidents", (0, 1, 2), 100, 1.0),
    Run("healthy", (0, 1, 2)),
    Run("healthy", (5, 6, 7, 8), 300, 3.0),  # telemetry past a device's first day, when it is no longer young
    Run("healthy", (7, 11, 21), 1000, 30.0, telemetry=False),
)


def _fleet(run: Run, result) -> str:
    return f"{result.devices:,} × {result.days:g} d" + ("" if run.telemetry else ", no telemetry")


def _minutes(values) -> str:
    return ", ".join("–" if v is None else f"{v / 60:.0f}" for v in values) or "–"


def scenario_row(run: Run) -> str:
    from faultline.evaluation.scenario import evaluate_scenario

    results = [evaluate_scenario(run.scenario, devices=run.devices, seed=s, tickets=True,
                                 duration_s=run.days * 86400 if run.days else None,
                                 topics=None if run.telemetry else NO_TELEMETRY)[0] for s in run.seeds]
    incidents = [i for r in results for i in r.incidents]
    outcomes = [t for r in results for t in r.tickets.incidents]
    device_days = sum(r.devices * r.days for r in results)
    false = sum(r.false_alarms for r in results)
    seeds = ", ".join(str(s) for s in run.seeds)
    if not incidents:
        return (f"| {run.scenario} | {_fleet(run, results[0])} | {seeds} | – | – | – | – | – | "
                f"{false} ({1000 * false / device_days:.2g}) in {device_days:,.0f} | "
                f"{sum(r.tickets.false_tickets for r in results)} |")
    attributions = sorted({i.attribution_found or "–" for i in incidents})
    return (f"| {run.scenario} | {_fleet(run, results[0])} | {seeds} "
            f"| {sum(i.detected for i in incidents)}/{len(incidents)} | {_minutes(i.delay_s for i in incidents)} "
            f"| {sum(i.attribution_correct for i in incidents)}/{len(incidents)} `{'`, `'.join(attributions)}` "
            f"| {sum(t.opened for t in outcomes)}/{len(outcomes)}, "
            f"{sum(t.tickets == 1 for t in outcomes)} with one ticket"
            f"{', ' + str(sum(t.flapping for t in outcomes)) + ' flapping' if any(t.flapping for t in outcomes) else ''} "
            f"| {_minutes(t.delay_s for t in outcomes)} "
            f"| {false} ({1000 * false / device_days:.2g}) | {sum(r.tickets.false_tickets for r in results)} |")


def benchmark_rows() -> list[str]:
    from detectors.eval_nab import REFERENCES, baseline_scores, evaluate_nab
    from detectors.eval_skab import evaluate_skab

    rows = ["| data set | files, rows | result with the shipped defaults | published reference |", "|---|---|---|---|"]
    skab = Path(os.environ["SKAB_DIR"]) if os.environ.get("SKAB_DIR") else None
    if skab is not None and (skab / "valve1").is_dir():
        r = evaluate_skab(skab)
        p = r.point
        rows.append(f"| SKAB | {r.files}, {r.rows:,} scored | changepoint (NAB-style) score **{r.nab:.2f}**; "
                    f"point F1 {p.f1:.3f} (precision {p.precision:.3f}, recall {p.recall:.3f}), FAR {p.far:.1%}, "
                    f"MAR {p.mar:.1%}; anomaly-free FAR {r.free_far:.1%} | changepoint score: best published "
                    f"32.42 (MSCRED); point F1: best 0.78 (Conv-AE, FAR 13.6 %); every row flagged: F1 0.698 |")
    else:
        where = f"no SKAB data at {skab}" if skab is not None else "set SKAB_DIR to SKAB's data/"
        rows.append(f"| SKAB | not run: {where} (valve1/, valve2/, other/, anomaly-free/) | | |")
    nab = os.environ.get("NAB_DIR", "")
    refs = ", ".join(f"{name} {score:g}" for name, score in REFERENCES)
    if nab and (Path(nab) / "labels" / "combined_windows.json").exists():
        r = evaluate_nab(Path(nab))
        if r.partial:
            same = "; ".join(f"{n} {v:.2f}" for n, v in baseline_scores(Path(nab)).items())
            refs = f"same files: {same}. Whole corpus (58 files), published: {refs}"
        rows.append(f"| NAB | {r.files} of {r.labelled} labelled, {r.rows:,} | standard score **{r.score:.2f}**; "
                    f"{r.detected}/{r.windows} windows found, {r.onsets} alarm onsets, {r.false_onsets} outside "
                    f"windows | {refs} |")
    else:
        rows.append(f"| NAB | not run: set NAB_DIR to the corpus (data/, labels/) | | {refs} |")
    return rows


def tables(runs=RUNS) -> str:
    head = ["| scenario | fleet | seeds | detected | delay (min) | attribution | tickets | time to ticket (min) "
            "| false alarms (per 1,000 device-days) | false tickets |", "|---|---|---|---|---|---|---|---|---|---|"]
    started = time.strftime("%Y-%m-%d")
    body = [scenario_row(run) for run in runs]
    return "\n".join([f"Generated {started} by `python -m bench.detection_tables`.", "", *head, *body, "",
                      *benchmark_rows()])


def write(doc: Path, text: str) -> None:
    content = doc.read_text()
    if BEGIN not in content or END not in content:
        raise SystemExit(f"{doc}: the markers {BEGIN!r} and {END!r} are missing")
    before, rest = content.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    doc.write_text(f"{before}{BEGIN}\n{text}\n{END}{after}")
