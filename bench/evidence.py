"""How much evidence a cohort incident has produced, minute by minute: the floor under any detector's delay.

    python -m bench.evidence firmware-regression --devices 1000 --seeds 0,1,2

For each cohort incident of a scenario (firmware regression, site fault,
hardware batch) and seed: at checkpoints after the incident's start, the
affected devices so far, the fault events they have raised since they were
affected (for a rollout: since each device updated), the count expected at
the rate of the same model's unaffected devices in the same run, and the
Poisson tail P(X >= observed). A test whose false-alarm rate is near 10⁻⁴
cannot report an incident before that tail is well below 10⁻⁴, whatever
its design: where the delay in docs/detection.md is over a target, this
says whether the evidence existed in time.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from detectors.tails import poisson_sf
from ingest.decode import decode_message
from simulators.fleet import Simulation
from simulators.scenario import load_scenario

COHORT_KINDS = ("firmware-regression", "site-fault", "hw-batch")
CHECKPOINTS_MIN = (30, 60, 90, 120, 180, 360, 720)


def fault_times(sim: Simulation) -> dict[str, list[int]]:
    """Per device, the event times of its fault events."""
    out: dict[str, list[int]] = defaultdict(list)
    prefix = sim.scenario.topic_prefix
    for msg in sim.messages():
        for record in decode_message(msg.topic, msg.payload, msg.ts_ms, prefix=prefix):
            if getattr(record, "type", None) == "fault":
                out[record.device].append(record.ts_ms)
    return out


def affected_since(truth, incident) -> dict[str, int]:
    """When each affected device became affected (a rollout: its update to the incident's firmware)."""
    since = {}
    firmware = incident.cohort.get("firmware")
    for device in incident.affected_devices:
        start = incident.start_ms
        if firmware:
            changes = [c.ts_ms for c in truth.device(device).firmware_changes if c.firmware == firmware]
            start = changes[0] if changes else start
        since[device] = start
    return since


def evidence(scenario: str, devices: int | None, seed: int) -> list[str]:
    sim = Simulation(load_scenario(scenario), devices=devices, seed=seed,
                     topics=frozenset({"events", "meta", "status"}))
    truth = sim.truth()
    faults = fault_times(sim)
    lines = []
    for incident in truth.incidents:
        if incident.kind not in COHORT_KINDS:
            continue
        since = affected_since(truth, incident)
        models = {truth.device(d).model for d in since}
        others = [d for d in truth.fleet if d.model in models and d.device not in since]
        span_ms = truth.end_ms - truth.start_ms
        rate = sum(len(faults.get(d.device, ())) for d in others) / max(1, len(others)) / span_ms  # per device-ms
        lines.append(f"{scenario} seed {seed}: {incident.id} ({incident.attribution}), "
                     f"{len(since)} devices affected, background {rate * 86_400_000:.2f} faults/device-day")
        lines.append("  minutes  affected  faults  expected  P(X >= faults)")
        for minutes in CHECKPOINTS_MIN:
            at = incident.start_ms + minutes * 60_000
            if at > truth.end_ms:
                break
            exposure = sum(at - t for t in since.values() if t < at)
            seen = sum(1 for d, t in since.items() for f in faults.get(d, ()) if t <= f < at)
            expected = rate * exposure
            lines.append(f"  {minutes:7d}  {sum(t < at for t in since.values()):8d}  {seen:6d}  "
                         f"{expected:8.2f}  {poisson_sf(seen, expected):.1e}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--devices", type=int, default=None)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args(argv)
    for seed in (int(s) for s in args.seeds.split(",")):
        print("\n".join(evidence(args.scenario, args.devices, seed)))


if __name__ == "__main__":
    main()
