"""Scenario evaluation: the simulator's messages through the detectors, scored against ground truth.

Fast path, no broker: ``Simulation.messages()`` → ``decode_message`` (the
same decoder as ingest) → `DetectorEngine`. Then every anomaly is matched:

* an incident's *detection span* is ``[start_ms, end_ms + grace]`` with
  ``grace = 2 windows + lateness`` (window detectors report when a window
  closes); an anomaly's *evidence span* is ``[onset_ms, ts_ms]`` (for a
  fault-rate anomaly, the horizon whose counts it reports);
* an anomaly is in time for an incident when it is reported at or after the
  incident's start and its evidence span overlaps the detection span (a
  device that flapped until noon still has those faults in its 24-hour count
  at 6 pm: that anomaly is about the incident, not a new false alarm);
* a device-scope anomaly matches an incident when its subject is one of the
  incident's affected devices and it is in time;
* a cohort-scope anomaly matches a cohort incident when its affected devices
  overlap the incident's and it is in time;
* an incident is *detected* when any anomaly matches it; the *delay* is the
  first match's time minus ``start_ms``; *attribution* is correct when a
  matching cohort anomaly names the incident's attribution (cohort
  incidents) or a matching anomaly names the device (device incidents);
* offline incidents are found by the connectivity detector; several devices
  of one site going together expect a cohort report naming ``site=…``;
* incidents the detectors do not target (storms, malformed payloads, clock
  skew) are listed as not scored, and anomalies matching them are not false
  alarms; every other unmatched anomaly is a false alarm, reported per
  1,000 device-days (devices x simulated days).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from detectors.anomaly import Anomaly
from detectors.engine import DetectorEngine, EngineConfig
from ingest.decode import DecodeError, decode_message

TARGETS = frozenset({"firmware-regression", "site-fault", "hw-batch", "device-degradation", "flapping",
                     "stuck-sensor", "offline"})
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class IncidentResult:
    id: str
    kind: str
    scope: str
    subject: str
    detected: bool
    delay_s: float | None
    attribution_expected: str
    attribution_found: str
    attribution_correct: bool
    detectors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: str
    seed: int
    devices: int
    days: float
    records: int
    rejected: int
    anomalies: int
    incidents: tuple[IncidentResult, ...]
    false_alarms: int
    false_alarms_per_1000_device_days: float
    false_alarm_detectors: dict
    not_scored: tuple[tuple[str, str], ...] = ()  # (id, kind) of the truth's incidents no detector targets
    tickets: object | None = None  # faultline.evaluation.tickets.TicketReport: the alert and ticket stages replayed


SCENARIO_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: where scenario evaluations start unless told


def run_simulation(sim, config: EngineConfig = EngineConfig()) -> tuple[list[Anomaly], int, int, DetectorEngine]:
    """Feed a simulation through a fresh engine; returns (anomalies, records, rejected, engine)."""
    engine = DetectorEngine(config)
    prefix = sim.scenario.topic_prefix
    anomalies: list[Anomaly] = []
    records = rejected = 0
    for msg in sim.messages():
        try:
            decoded = decode_message(msg.topic, msg.payload, msg.ts_ms, prefix=prefix, cohort_of=engine.cohort_of)
        except DecodeError:
            rejected += 1
            continue
        for record in decoded:
            records += 1
            anomalies += engine.process(record)
    anomalies += engine.tick(sim.end_ms + int(config.lateness_s * 1000) + 2 * engine.window_ms)
    return anomalies, records, rejected, engine


def matches(anomaly: Anomaly, incident, grace_ms: int) -> bool:
    if anomaly.ts_ms < incident.start_ms or anomaly.onset_ms > incident.end_ms + grace_ms:
        return False
    affected = set(incident.affected_devices) or {incident.device}
    if anomaly.scope == "device":
        return anomaly.subject in affected
    return incident.scope == "cohort" and bool(affected.intersection(anomaly.devices))


def score_run(truth, anomalies: list[Anomaly], config: EngineConfig, records: int = 0,
              rejected: int = 0) -> ScenarioResult:
    grace = grace_ms(config)
    results, explained, skipped = [], set(), []
    for inc in truth.incidents:
        hits = [a for a in anomalies if matches(a, inc, grace)]
        explained.update(id(a) for a in hits)
        if inc.kind not in TARGETS:
            skipped.append((inc.id, inc.kind))
            continue
        results.append(_incident_result(inc, sorted(hits, key=lambda a: a.ts_ms)))
    false = [a for a in anomalies if id(a) not in explained]
    days = (truth.end_ms - truth.start_ms) / DAY_MS
    return ScenarioResult(
        truth.scenario, truth.seed, truth.devices, round(days, 3), records, rejected, len(anomalies),
        tuple(results), len(false), round(len(false) / max(truth.devices * days, 1e-9) * 1000, 3),
        dict(Counter(a.detector for a in false)), tuple(skipped))


def _incident_result(inc, hits: list[Anomaly]) -> IncidentResult:
    if inc.scope == "cohort":
        expected = inc.attribution
        named = [a.attribution for a in hits if a.scope == "cohort"]
        subject = ",".join(f"{k}={v}" for k, v in inc.cohort.items())
    else:
        expected = f"device={inc.device}"
        named = [f"device={a.subject}" for a in hits if a.scope == "device"]
        subject = inc.device
    found = named[0] if named else ""
    return IncidentResult(
        inc.id, inc.kind, inc.scope, subject, bool(hits),
        (hits[0].ts_ms - inc.start_ms) / 1000 if hits else None,
        expected, found, expected in named, tuple(sorted({a.detector for a in hits})))


def evaluate_scenario(scenario, devices: int | None = None, duration_s: float | None = None, seed: int = 0,
                      config: EngineConfig = EngineConfig(), topics=None, start_ms: int = SCENARIO_START_MS):
    """Simulate, detect, score; returns (result, anomalies). ``topics`` restricts the simulated topics.

    The alert and ticket stages on the same run: `faultline.evaluation.scenario`.
    """
    result, anomalies, _ = detect_scenario(scenario, devices, duration_s, seed, config, topics, start_ms)
    return result, anomalies


def detect_scenario(scenario, devices: int | None = None, duration_s: float | None = None, seed: int = 0,
                    config: EngineConfig = EngineConfig(), topics=None, start_ms: int = SCENARIO_START_MS):
    """`evaluate_scenario`, with the simulation's ground truth: (result, anomalies, truth)."""
    from simulators.fleet import Simulation

    sim = Simulation(scenario, devices=devices, seed=seed, duration_s=duration_s, start_ms=start_ms,
                     topics=topics)
    anomalies, records, rejected, _ = run_simulation(sim, config)
    truth = sim.truth()
    return score_run(truth, anomalies, config, records, rejected), anomalies, truth


def grace_ms(config: EngineConfig) -> int:
    """How long after an incident's end a report still belongs to it (window detectors report late)."""
    return int(2 * config.window_s * 1000 + config.lateness_s * 1000)
