"""The closed loop: detection → alert and ticket stages → simulated technicians → after-sales KPIs."""

import pytest
from click.testing import CliRunner

from faultline.commands.detect import evaluate
from detectors.eval_sim import TARGETS, grace_ms, run_simulation
from faultline.evaluation.tickets import replay_tickets
from detectors.engine import EngineConfig
from simulators.fleet import Simulation
from faultline.evaluation.technicians import TechnicianModel

SCENARIO = """
description: a firmware regression, a power sag at one site and outages
base: firmware-regression
include: [offline]
incidents:
  - {kind: site-fault, id: sag, cause: power, start: 25%, multiplier: 8}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One simulated run (200 devices, 1 day, no telemetry); the loops below replay its anomalies."""
    path = tmp_path_factory.mktemp("scenarios") / "loop.yaml"
    path.write_text(SCENARIO)
    sim = Simulation(str(path), devices=200, seed=1, start_ms=1_767_225_600_000, duration_s=86_400,
                     topics=("logs", "events", "meta", "status"))
    anomalies = run_simulation(sim, EngineConfig())[0]
    return sim.truth(), anomalies


def _loop(run, **model):
    truth, anomalies = run  # a sweep every 5 simulated minutes (30 s live) keeps the replay short
    return replay_tickets(truth, anomalies, TARGETS, grace_ms(EngineConfig()), tick_s=300,
                          technicians=TechnicianModel(**model))


def test_technicians_with_the_truth_confirm_every_right_attribution(run):
    report = _loop(run)
    k = report.loop.kpis
    assert report.false_tickets == 0 and all(o.opened for o in report.incidents)
    assert k.judged >= 3 and k.localisation_accuracy == 1.0  # the cohort, the site and the outage tickets
    assert k.detector_precision == 1.0 and k.no_fault_found == 0
    assert k.handled >= 3 and k.first_response_s is not None and 120 <= k.first_response_s <= 1800
    assert report.loop.mttr_s is not None and report.loop.time_to_detect_s is not None


def test_technicians_errors_show_in_the_kpis(run):
    k = _loop(run, nff_share=0.5, wrong_share=0.5, seed=3).loop.kpis  # every resolution is one or the other
    assert k.no_fault_found >= 1 and k.detector_precision == round(1 - k.no_fault_found / k.classified, 4) < 1
    assert k.judged == k.classified - k.no_fault_found >= 1 and k.localisation_accuracy == 0.0
    with pytest.raises(ValueError, match="shares"):
        TechnicianModel(wrong_share=0.6, nff_share=0.6)


def test_eval_loop_prints_the_after_sales_kpis():
    out = CliRunner().invoke(evaluate, ["--scenario", "offline", "--devices", "30", "--duration", "6h",
                                        "--no-telemetry", "--loop"])
    assert out.exit_code == 0, out.output
    assert "loop: localisation accuracy 100.0%" in out.output and "detector precision 100.0%" in out.output
    assert "handling time" in out.output and "time to detect" in out.output
    bad = CliRunner().invoke(evaluate, ["--scenario", "offline", "--loop", "--nff-share", "0.7", "--wrong-share", "0.7"])
    assert bad.exit_code == 2 and "shares" in bad.output
