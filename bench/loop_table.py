"""`python -m bench.loop_table`: the closed loop on the shipped incident scenarios, as a table for docs/detection.md.

Each run is ``faultline eval --scenario … --loop`` (simulator → detectors →
alert and ticket stages → simulated technicians resolving with the truth's
root cause → after-sales KPIs), three seeds, the technicians seeded alike.
Localisation accuracy and detector precision are pooled over the seeds
(confirmed ÷ judged, 1 − no-fault-found ÷ classified); times are per seed,
minutes. One run at a time; about ten minutes on two cores.
"""

from __future__ import annotations

import argparse

from faultline.evaluation.tables import NO_TELEMETRY, Run

RUNS = (
    Run("firmware-regression", (0, 1, 2), 1000, telemetry=False),
    Run("firmware-regression-site", (0, 1, 2), telemetry=False),
    Run("site-fault", (0, 1, 2), telemetry=False),
    Run("hw-batch", (0, 1, 2), telemetry=False),
    Run("device-degradation", (0, 1, 2)),
    Run("stuck-sensor", (0, 1, 2)),
    Run("flapping", (0, 1, 2)),
    Run("offline", (0, 1, 2)),
    Run("mixed-incidents", (0, 1, 2), 100, 1.0),
)
HEAD = ("| scenario | fleet | seeds | localisation accuracy | detector precision | time to detect (min) "
        "| handling time (min) | MTTR per cycle (min) |\n|---|---|---|---|---|---|---|---|")


def _minutes(values) -> str:
    return ", ".join("–" if v is None else f"{v / 60:.0f}" for v in values)


def loop_row(run: Run, nff_share: float = 0.0, wrong_share: float = 0.0) -> tuple[str, int, int]:
    """The table row of one scenario, and its pooled confirmed and judged counts."""
    from faultline.evaluation.scenario import evaluate_scenario
    from faultline.evaluation.technicians import TechnicianModel

    loops = []
    for seed in run.seeds:
        result = evaluate_scenario(run.scenario, devices=run.devices, seed=seed,
                                   duration_s=run.days * 86400 if run.days else None,
                                   topics=None if run.telemetry else NO_TELEMETRY,
                                   technicians=TechnicianModel(seed=seed, nff_share=nff_share,
                                                               wrong_share=wrong_share))[0]
        loops.append(result.tickets.loop)
    confirmed, judged = sum(x.kpis.confirmed for x in loops), sum(x.kpis.judged for x in loops)
    nff, classified = sum(x.kpis.no_fault_found for x in loops), sum(x.kpis.classified for x in loops)
    fleet = f"{result.devices:,} × {result.days:g} d" + ("" if run.telemetry else ", no telemetry")
    acc = f"{confirmed / judged:.0%} ({confirmed}/{judged})" if judged else "–"
    prec = f"{1 - nff / classified:.0%} ({classified - nff}/{classified})" if classified else "–"
    row = (f"| {run.scenario} | {fleet} | {', '.join(map(str, run.seeds))} | {acc} | {prec} "
           f"| {_minutes(x.time_to_detect_s for x in loops)} | {_minutes(x.kpis.handling_s for x in loops)} "
           f"| {_minutes(x.mttr_s for x in loops)} |")
    return row, confirmed, judged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nff-share", type=float, default=0.0)
    parser.add_argument("--wrong-share", type=float, default=0.0)
    args = parser.parse_args()
    print(HEAD, flush=True)
    confirmed = judged = 0
    for run in RUNS:
        row, c, j = loop_row(run, args.nff_share, args.wrong_share)
        confirmed, judged = confirmed + c, judged + j
        print(row, flush=True)
    print(f"\nall scenarios: localisation accuracy {confirmed / max(judged, 1):.1%} ({confirmed}/{judged})")


if __name__ == "__main__":
    main()
