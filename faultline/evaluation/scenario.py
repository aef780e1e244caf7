"""A simulator scenario through the detectors and on through the alert and ticket stages, scored.

`detectors.eval_sim` scores what the detectors found; with ``tickets`` the
same anomalies are replayed through the alert and ticket stages on the
simulated clock (`faultline.evaluation.tickets`) and the tickets are scored
per incident too; with ``technicians`` simulated technicians work them.
"""

from __future__ import annotations

from dataclasses import replace

from detectors.engine import EngineConfig
from detectors.eval_sim import SCENARIO_START_MS, TARGETS, detect_scenario, grace_ms
from faultline.evaluation.tickets import replay_tickets


def evaluate_scenario(scenario, devices: int | None = None, duration_s: float | None = None, seed: int = 0,
                      config: EngineConfig = EngineConfig(), topics=None, start_ms: int = SCENARIO_START_MS,
                      tickets: bool = False, alert_config=None, technicians=None):
    """Simulate, detect, score; returns (result, anomalies). ``topics`` restricts the simulated topics.

    ``tickets``: also replay the anomalies through the alert and ticket
    stages and score the tickets per incident (``result.tickets``);
    ``technicians`` (a `faultline.evaluation.technicians.TechnicianModel`,
    implies ``tickets``): simulated technicians work them, and
    ``result.tickets.loop`` holds the after-sales KPIs.
    """
    result, anomalies, truth = detect_scenario(scenario, devices, duration_s, seed, config, topics, start_ms)
    if tickets or technicians is not None:
        report = replay_tickets(truth, anomalies, TARGETS, grace_ms(config), alert_config, technicians=technicians)
        result = replace(result, tickets=report)
    return result, anomalies
