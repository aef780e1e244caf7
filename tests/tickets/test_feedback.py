"""What technicians confirm flows back: known issues link later tickets to a fix; repeated no-fault-found
raises a detector's threshold for the cohort (audited, reversible) and a replay then opens fewer tickets."""

from __future__ import annotations

import json

from alerts.config import AlertConfig
from alerts.manager import AlertManager
from alerts.store import SqlAlertStore
from detectors.anomaly import Anomaly
from faultline.pipeline import Pipeline
from support.tickets import make_alert
from tickets import known_issues, store, threshold_feedback as tf
from tickets.service import TicketService
from tickets.workflow import Workflow

DAY = 86_400_000


def _cohort(site: str, firmware: str = "2.1.0"):
    return make_alert(f"model=PX-200,firmware={firmware},site={site}", scope="cohort", detector="cohort_fault_rate",
                      firmware=firmware, site=site, attribution=f"firmware={firmware}")


def test_a_second_rollout_of_the_same_firmware_links_to_the_first_fix(engine, clock):
    svc, flow = TicketService(engine, None, None, None, now=clock), Workflow(engine, now=clock)
    first = svc.apply(_cohort("sh-01"))
    flow.ack(first.id, "ann")
    flow.resolve(first.id, "ann", "2.1.0 motor control loop overshoots", "roll back to 2.0.3, then 2.1.1",
                 category="firmware", confirmed_attribute="firmware=2.1.0", attribution="confirmed")
    clock.ms += 20 * DAY  # weeks later the same firmware is rolled out at another site
    second = store.get_ticket(engine, svc.apply(_cohort("sh-05")).id)
    issue = known_issues.get(engine, second.known_issue_id)
    assert (issue.code, issue.attribute, issue.ticket_id, issue.fix) == (
        "E214", "firmware=2.1.0", first.id, "roll back to 2.0.3, then 2.1.1")
    (linked,) = [e for e in store.history(engine, second.id) if e.kind == "known_issue_linked"]
    assert linked.detail["fix"] == issue.fix and linked.detail["first_ticket"] == first.id
    # another firmware at that site, or another fault code on 2.1.0, is not this issue
    assert store.get_ticket(engine, svc.apply(_cohort("sh-05", "2.0.3")).id).known_issue_id is None
    other = make_alert("pump-9", code="E777", firmware="2.1.0", site="sh-05")
    assert store.get_ticket(engine, svc.apply(other).id).known_issue_id is None
    assert known_issues.fix_record(engine, issue) == (0, 0)
    flow.ack(second.id, "bob")
    flow.resolve(second.id, "bob", "same loop", "rolled back", category="firmware",
                 confirmed_attribute="firmware=2.1.0", attribution="confirmed")
    assert known_issues.fix_record(engine, issue) == (1, 1)  # the fix worked once of once


def test_device_findings_and_no_fault_found_make_no_known_issue(engine, clock):
    svc, flow = TicketService(engine, None, None, None, now=clock), Workflow(engine, now=clock)
    a, b, c = svc.apply(make_alert("pump-1")), svc.apply(make_alert("pump-2")), svc.apply(_cohort("sh-03"))
    flow.resolve(a.id, "ann", "worn bearing", "replaced", category="hardware", confirmed_attribute="device=pump-1",
                 attribution="corrected")
    flow.resolve(b.id, "ann", "site power", "fixed", category="environment", confirmed_attribute="site=sh-03",
                 attribution="corrected")  # one device's finding is not a cohort's known issue
    flow.resolve(c.id, "ann", "nothing", "none", category="no_fault_found", attribution="rejected")
    clock.ms += DAY
    assert store.get_ticket(engine, svc.apply(make_alert("pump-3")).id).known_issue_id is None


def _anomaly(device: str, score: float, ts_ms: int) -> Anomaly:
    return Anomaly("device_fault_rate", "device", device, "E214", ts_ms, ts_ms - 60_000, score, score, 1.0, 5.0,
                   600.0, f"E214 score {score} against 5", "", (), "PX-200", "2.0.3", "sh-02")


class _Lines:
    def write_lines(self, lines) -> None:
        pass


def _replay(engine, clock, svc, gate, devices: dict[str, float]) -> set[str]:
    """Ten minutes of the devices' anomalies (one a minute) through the real alert and ticket stages."""
    stage = Pipeline(alerts=AlertManager(AlertConfig(), SqlAlertStore(engine), _Lines(), now=clock), tickets=svc, gate=gate)
    for _ in range(10):
        clock.ms += 60_000
        stage.alert([_anomaly(d, score, clock.ms) for d, score in devices.items()])
        stage.sweep()
    return {t.subject for t in store.list_tickets(engine, limit=1000) if t.subject in devices}


def test_five_no_fault_found_in_a_week_raise_the_threshold_and_a_replay_opens_fewer_tickets(engine, clock):
    svc, flow = TicketService(engine, None, None, None, now=clock), Workflow(engine, now=clock)
    gate = tf.ThresholdGate(engine, refresh_s=0)
    false_alarms = [svc.apply(make_alert(f"pump-{i}", firmware="2.0.3", site="sh-02")) for i in range(1, 6)]
    for i, t in enumerate(false_alarms):
        clock.ms += DAY  # one a day: five within the week
        flow.resolve(t.id, "ann", "nothing found on site", "none", category="no_fault_found", attribution="rejected")
        if i < 4:
            assert tf.adjustments(engine) == []  # four are not enough
    (raised,) = tf.adjustments(engine)
    assert (raised.detector, raised.cohort, raised.factor) == ("device_fault_rate",
                                                               "model=PX-200,firmware=2.0.3,site=sh-02", 1.5)
    assert raised.tickets == tuple(t.id for t in false_alarms)
    (audit,) = [e for e in store.history(engine, false_alarms[-1].id) if e.kind == "threshold_raised"]
    assert audit.detail["factor"] == [1.0, 1.5] and audit.detail["no_fault_found_tickets"] == list(raised.tickets)

    marginal = {f"pump-{i}": 6.0 for i in range(6, 10)}  # above the detector's 5, below 5 x 1.5
    opened = _replay(engine, clock, svc, gate, {**marginal, "pump-10": 12.0})
    assert opened == {"pump-10"} and gate.held == 40  # the real fault still opens its ticket

    tf.revert(engine, raised.id, "lead", clock())  # reversible: the marginal ones come back
    assert tf.active_factors(engine) == {}
    assert _replay(engine, clock, svc, gate, marginal) == set(marginal)
    (undo,) = [e for e in store.history(engine, false_alarms[-1].id) if e.kind == "threshold_reverted"]
    assert undo.user == "lead" and undo.detail["adjustment"] == raised.id


def test_thresholds_cli_lists_and_reverts(settings_env):
    from click.testing import CliRunner

    from faultline.cli import main
    from database import make_engine, migrate
    from faultline.settings import load_settings

    settings = load_settings(settings_env)
    migrate(settings.sql_url)
    engine = make_engine(settings.sql_url)
    svc, flow = TicketService(engine, None, None, None), Workflow(engine)
    for i in range(5):
        t = svc.apply(make_alert(f"fan-{i}", model="FX-10", firmware="1.0.0", site="sh-04"))
        flow.resolve(t.id, "ann", "nothing", "none", category="no_fault_found", attribution="rejected")
    engine.dispose()
    runner = CliRunner()
    listed = runner.invoke(main, ["tickets", "thresholds", "list"], env=settings_env)
    assert "#1 " in listed.output and "model=FX-10,firmware=1.0.0,site=sh-04 x1.5 (in force)" in listed.output
    undone = runner.invoke(main, ["tickets", "thresholds", "revert", "1", "--user", "lead"], env=settings_env)
    assert undone.exit_code == 0 and "undone" in undone.output
    again = runner.invoke(main, ["tickets", "thresholds", "revert", "1", "--user", "lead"], env=settings_env)
    assert again.exit_code == 1 and "no active threshold adjustment 1" in again.output
    assert "(undone by lead)" in runner.invoke(main, ["tickets", "thresholds", "list"], env=settings_env).output
