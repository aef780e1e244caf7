"""`faultline eval` scores tickets: the real alert and ticket stages replayed on the simulated clock."""

from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from faultline.commands.detect import evaluate
from faultline.evaluation.scenario import evaluate_scenario
from faultline.evaluation.tickets import _belongs

DEVICE_INCIDENTS = """
description: one degrading, one flapping and one stuck device, one outage
base: healthy
duration: 2d
incidents:
  - {kind: device-degradation, id: degr, start: 40%}
  - {kind: flapping, id: flap, start: 50%, end: 75%}
  - {kind: stuck-sensor, id: stuck, start: 60%}
  - {kind: offline, id: out, count: 1, via: will, start: 70%}
"""


@pytest.fixture(scope="module")
def device_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenarios") / "device-tickets.yaml"
    path.write_text(DEVICE_INCIDENTS)
    return evaluate_scenario(str(path), devices=40, seed=3, tickets=True)[0]


def test_every_device_incident_opens_exactly_one_ticket(device_run):
    by_id = {t.id: t for t in device_run.tickets.incidents}
    assert set(by_id) == {"degr", "flap", "stuck", "out"}
    for outcome in by_id.values():
        assert outcome.opened and outcome.tickets == 1, outcome
        assert 0 <= outcome.delay_s
    assert device_run.tickets.false_tickets == 0


def test_telemetry_incidents_reach_a_ticket_with_their_single_report(device_run):
    by_id = {t.id: t for t in device_run.tickets.incidents}
    detected = {i.id: i for i in device_run.incidents}
    assert "telemetry" in detected["stuck"].detectors
    assert by_id["stuck"].delay_s <= detected["stuck"].delay_s + 60  # the first report fires


def test_a_flapping_device_gets_one_ticket_marked_flapping(device_run):
    by_id = {t.id: t for t in device_run.tickets.incidents}
    assert by_id["flap"].flapping
    assert not by_id["degr"].flapping and not by_id["stuck"].flapping


def test_a_cohort_incident_is_one_ticket_with_the_devices_folded_in():
    result, _ = evaluate_scenario("firmware-regression", devices=300, seed=2, tickets=True,
                                  topics=("logs", "events", "meta", "status"))
    (outcome,) = result.tickets.incidents
    assert outcome.opened and outcome.tickets == 1 and not outcome.flapping
    assert result.tickets.false_tickets == 0


def test_a_rollout_whose_faults_fall_on_one_hardware_revision_is_one_ticket_for_the_firmware():
    # seed 2: the updated pumps that fault are mostly of revision B, whose own test then shows an excess too;
    # the rollout found, that excess is its devices', not a second incident
    result, anomalies = evaluate_scenario("firmware-regression", devices=100, seed=2, tickets=True,
                                          topics=("logs", "events", "meta", "status"))
    (outcome,) = result.tickets.incidents
    assert outcome.opened and outcome.tickets == 1
    assert {a.attribution for a in anomalies if a.scope == "cohort"} == {"firmware=2.1.0"}


def test_eval_cli_prints_ticket_lines():
    out = CliRunner().invoke(evaluate, ["--scenario", "stuck-sensor", "--devices", "20", "--duration", "12h"])
    assert out.exit_code == 0, out.output
    assert "ticket" in out.output and "opened" in out.output and "tickets: 1 opened, 0 false" in out.output


def test_a_cohort_ticket_listing_a_device_with_an_incident_of_its_own_is_not_that_incident_s_ticket():
    pump = SimpleNamespace(scope="device", device="px200-0007", affected_devices=())
    rollout = SimpleNamespace(scope="cohort", device="", affected_devices=("px200-0007", "px200-0010"))
    cohort_ticket = SimpleNamespace(scope="cohort", subject="model=PX-200,hw_rev=B",
                                    devices=("px200-0007", "px200-0013"))
    device_ticket = SimpleNamespace(scope="device", subject="px200-0007", devices=())
    assert _belongs(cohort_ticket, rollout) and not _belongs(cohort_ticket, pump)
    assert _belongs(device_ticket, pump) and _belongs(device_ticket, rollout)
