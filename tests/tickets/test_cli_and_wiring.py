"""`faultline tickets ...` and the stage wired from settings (real InfluxDB, SQLite file, routing file, webhook)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from faultline.cli import main
from database import make_engine, migrate
from faultline.settings import load_settings
from support.clock import Clock
from support.tickets import ALERT_MS, make_alert
from tickets.models import OutboxRow
from faultline.wiring import ticket_service

EXAMPLE = Path(__file__).resolve().parents[2] / "tickets" / "routing.example.yaml"


def _wired(settings_env, **extra):
    env = {**settings_env, "FAULTLINE_TICKETS_ROUTING_FILE": str(EXAMPLE),
           "FAULTLINE_TICKETS_WEBHOOK_URL": "http://127.0.0.1:9/hook", "FAULTLINE_TICKETS_WEBHOOK_SECRET": "s",
           **extra}
    settings = load_settings(env)
    migrate(settings.sql_url)
    return env, settings, make_engine(settings.sql_url)


def test_service_wired_from_settings_routes_queues_and_gathers(settings_env):
    env, settings, engine = _wired(settings_env)
    clock = Clock(ALERT_MS)
    t = ticket_service(settings, engine, now=clock).apply(make_alert("pump-1", code="E500", site="de-01"))
    assert (t.team, t.assignee) == ("noc", "oncall")
    assert t.evidence.complete, t.evidence.errors  # the session's InfluxDB answered (empty database)
    assert t.evidence.grafana_url.startswith("http://127.0.0.1:3000/d/faultline-device/device?orgId=1&var-device=pump-1")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OutboxRow)).scalar_one() == 1
    engine.dispose()


def test_cli_lists_shows_and_works_a_ticket(settings_env):
    env, settings, engine = _wired(settings_env, FAULTLINE_TICKETS_WEBHOOK_URL="")
    t = ticket_service(settings, engine).apply(make_alert("pump-1"))
    engine.dispose()
    run = CliRunner().invoke
    listed = run(main, ["tickets", "list"], env=env)
    assert listed.exit_code == 0 and f"{t.id:>6}  open" in listed.output
    assert listed.output.splitlines()[0].split()[:4] == ["id", "state", "severity", "assignee"]
    assert "last anomaly (event time)" in listed.output
    as_json = json.loads(run(main, ["tickets", "list", "--format", "json"], env=env).output)
    assert [x["id"] for x in as_json] == [t.id]
    shown = run(main, ["tickets", "show", str(t.id)], env=env)
    assert shown.exit_code == 0 and "Evidence (complete" in shown.output and "v1" in shown.output
    assert "(wall clock)" in shown.output and "(event time)" in shown.output
    assert json.loads(run(main, ["tickets", "show", str(t.id), "--format", "json"], env=env).output)["id"] == t.id
    assigned = run(main, ["tickets", "assign", str(t.id), "--user", "ann", "--assignee", "bob"], env=env)
    assert assigned.exit_code == 0, assigned.output
    early = run(main, ["tickets", "close", str(t.id), "--user", "ann"], env=env)
    assert early.exit_code == 1 and f"ticket {t.id} is open: cannot close (allowed from resolved)" in early.output
    assert run(main, ["tickets", "ack", str(t.id), "--user", "ann"], env=env).output.strip() \
        == f"ticket {t.id} is acknowledged (version 3)"  # after the assignment
    blank = run(main, ["tickets", "resolve", str(t.id), "--user", "ann", "--root-cause", " ", "--resolution", "x"],
                env=env)
    assert blank.exit_code == 1 and "root_cause: is required" in blank.output
    unknown = run(main, ["tickets", "resolve", str(t.id), "--user", "ann", "--root-cause", "cable",
                         "--resolution", "replaced", "--category", "bad-luck"], env=env)
    assert unknown.exit_code == 2 and "'bad-luck' is not one of" in unknown.output
    uncorrected = run(main, ["tickets", "resolve", str(t.id), "--user", "ann", "--root-cause", "cable",
                             "--resolution", "replaced", "--attribution", "corrected"], env=env)
    assert uncorrected.exit_code == 1 and "confirmed_attribute: is required" in uncorrected.output
    done = run(main, ["tickets", "resolve", str(t.id), "--user", "ann", "--root-cause", "cable",
                      "--resolution", "replaced", "--category", "hardware", "--confirmed-attribute", "hw_rev=B",
                      "--attribution", "corrected"], env=env)
    assert "is resolved" in done.output
    found = json.loads(run(main, ["tickets", "show", str(t.id), "--format", "json"], env=env).output)
    assert (found["root_cause_category"], found["confirmed_attribute"], found["attribution"]) == (
        "hardware", "hw_rev=B", "corrected")
    report = json.loads(run(main, ["tickets", "kpis", "--by", "model", "--format", "json"], env=env).output)
    assert report["overall"]["tickets"] == 1 and report["groups"][0][0] == "PX-200"
    table = run(main, ["tickets", "kpis", "--by", "model"], env=env).output.splitlines()
    assert table[0].split()[:3] == ["model", "tickets", "open"] and "MTTA" in table[0]
    assert table[2].startswith("PX-200") and not any(" s " in line and "." in line for line in table)
    after = table[table.index("") + 1:]  # the after-sales table: the corrected attribution is a miss
    assert "loc acc" in after[0] and after[1].split()[:2] == ["all", "1"] and " 0% " in after[1]
    assert report["after_sales"]["overall"]["localisation_accuracy"] == 0.0
    missing = run(main, ["tickets", "show", "999"], env=env)
    assert missing.exit_code == 1 and "no ticket with id 999" in missing.output


def test_scheduled_jobs_deliver_and_retry(settings_env):
    from faultline.wiring import ticket_jobs

    env, settings, engine = _wired(settings_env)
    service = ticket_service(settings, engine)
    jobs = {j.name: j for j in ticket_jobs(settings, service)}
    assert set(jobs) == {"tickets-evidence-retry", "tickets-webhook-deliver", "tickets-webhook-prune"}
    service.apply(make_alert("pump-1"))
    assert jobs["tickets-webhook-deliver"].run().retrying == 1  # nothing listens on port 9
    assert jobs["tickets-evidence-retry"].run() == 0  # the evidence was complete
    engine.dispose()


def test_wired_service_reads_customer_tier_from_the_device_registry(settings_env):
    from ingest.records import DeviceMeta
    from ingest.registry import DeviceRegistry

    env, settings, engine = _wired(settings_env, FAULTLINE_TICKETS_WEBHOOK_URL="")
    DeviceRegistry(engine).persist([DeviceMeta("pump-7", 1, "PX-200", "2.1.0", "de-01", "B", "acme", "gold")], [])
    t = ticket_service(settings, engine).apply(make_alert("pump-7", code="E214", site=""))
    assert (t.customer, t.tier, t.site, t.team, t.severity) == ("acme", "gold", "de-01", "field-service", "critical")
    engine.dispose()
