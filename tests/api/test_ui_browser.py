"""The workspace in a real headless Chromium (Playwright's Python API driving Debian's /usr/bin/chromium).

One module-scoped world: the simulator's firmware regression (60 devices,
events, logs, meta) goes over the session's real Mosquitto through the real
ingest into InfluxDB; the real detectors, alert and ticket stages turn it
into tickets (with evidence from InfluxDB) on the simulated clock; one
uvicorn server and one browser serve every test. Screenshots of the queue
and the ticket page go to a temporary folder (printed), not the checkout.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

import pytest

from support.incidents import SIM_TOPICS, expected_records, messages_of, stored_count
from support.publishing import publish_all
from support.waiting import wait_until

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "a long enough password"
DEVICES, SEED = 60, 0


def _open_tickets(settings, engine, client):
    """Detect the scenario and drive the real alert and ticket stages on its clock (evidence from InfluxDB)."""
    from alerts.config import AlertConfig
    from alerts.manager import AlertManager
    from alerts.store import SqlAlertStore
    from detectors.engine import EngineConfig
    from detectors.eval_sim import grace_ms, run_simulation
    from faultline.evaluation.tickets import _drive, _KeptLines
    from faultline.pipeline import Pipeline
    from simulators.fleet import Simulation
    from faultline.wiring import ticket_service

    sim = Simulation("firmware-regression", devices=DEVICES, seed=SEED, topics=SIM_TOPICS)
    anomalies = run_simulation(sim, EngineConfig())[0]
    truth = sim.truth()
    clock = [truth.start_ms]
    manager = AlertManager(AlertConfig(), SqlAlertStore(engine), _KeptLines(), now=lambda: clock[0])
    stage = Pipeline(alerts=manager, tickets=ticket_service(settings, engine, now=lambda: clock[0], influx=client))
    _drive(stage, clock, sorted(anomalies, key=lambda a: a.ts_ms), truth.end_ms + grace_ms(EngineConfig()), 30_000)
    return truth


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    import uvicorn

    from faultline.wiring import api_app
    from api.users import UserStore
    from database import make_engine, migrate
    from faultline.settings import load_settings
    from faultline.stack import free_port
    from influx.client import InfluxClient
    from faultline.wiring import ingest_service

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (make test-system-deps installs it)")
    tmp = tmp_path_factory.mktemp("ui")
    prefix = f"ui{uuid.uuid4().hex[:8]}/devices"
    settings = load_settings({
        "FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_MQTT_CLIENT_ID": f"faultline-ui-{uuid.uuid4().hex[:8]}",
        "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": stack.new_database("ui"),
        "FAULTLINE_DATA_DIR": str(tmp / "data"), "FAULTLINE_MQTT_TOPIC_PREFIX": prefix,
        "FAULTLINE_TICKETS_AUTO_RESOLVE": "false"})  # the ticket waits for the technician
    migrate(settings.sql_url)
    engine = make_engine(settings.sql_url)
    client = InfluxClient(settings.influx_url, settings.influx_db)
    msgs, _ = messages_of("firmware-regression", DEVICES, SEED, prefix)
    ingest = ingest_service(settings, engine=engine)
    ingest.client.ensure_database()
    ingest.start()
    try:
        assert ingest.subscriber.wait_connected(20)
        publish_all(stack.mqtt_url, msgs)
        wait_until(lambda: stored_count(client) >= expected_records(msgs), 120, what="every record stored")
    finally:
        ingest.stop()
    truth = _open_tickets(settings, engine, client)
    users = UserStore(engine)
    users.create("tech", "technician", PASSWORD)
    users.create("viv", "viewer", PASSWORD)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api_app(settings, engine=engine, influx=client), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 20, what="the server")
    shots = tmp / "screenshots"
    shots.mkdir()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield {"url": f"http://127.0.0.1:{port}", "browser": browser, "engine": engine, "truth": truth,
               "shots": shots, "app": server.config.app}
        browser.close()
    print(f"\nscreenshots of the workspace: {shots}")
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def _page(world, user: str, width: int = 1200):
    page = world["browser"].new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(world["url"] + "/ui/tickets")
    assert "/ui/login" in page.url  # not signed in yet
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/tickets$"))
    return page


def _cohort_ticket(world):
    from tickets.store import list_tickets

    found = [t for t in list_tickets(world["engine"], limit=1000) if t.scope == "cohort"]
    assert len(found) == 1, [t.title for t in found]
    return found[0]


def test_sign_in_and_the_queue_lists_the_regression_ticket(world):
    page = _page(world, "tech")
    ticket = _cohort_ticket(world)
    assert "firmware=2.1.0" in ticket.subject
    row = page.locator(f'#queue tr[data-id="{ticket.id}"]')
    assert "firmware=2.1.0" in row.inner_text()
    assert page.locator('.count[data-state="open"] b').inner_text() != "0"
    page.screenshot(path=str(world["shots"] / "queue.png"), full_page=True)
    page.context.close()


def test_the_queue_search_finds_the_ticket_by_words_of_its_subject(world):
    page = _page(world, "tech")
    ticket = _cohort_ticket(world)
    page.fill("input[name=q]", "FIRMWARE=2.1 px-200")  # any case, any part of a word
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r".*q=FIRMWARE"))
    assert page.locator(f'#queue tr[data-id="{ticket.id}"]').count() == 1
    assert page.locator("input[name=q]").input_value() == "FIRMWARE=2.1 px-200"
    page.screenshot(path=str(world["shots"] / "queue-search.png"), full_page=True)
    page.fill("input[name=q]", "firmware=2.1 no-such-device")  # every word must be found
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r".*no-such-device"))
    assert page.locator("#queue tr[data-id]").count() == 0
    assert "0 tickets" in page.locator("nav.pager").inner_text()
    page.context.close()


def test_the_ticket_page_shows_the_chart_the_cohort_table_and_the_root_cause_line(world):
    page = _page(world, "tech")
    ticket = _cohort_ticket(world)
    page.goto(f"{world['url']}/ui/tickets/{ticket.id}")
    assert "firmware=2.1.0" in page.locator("#explanation").inner_text()
    assert page.locator("#cohort svg.chart rect.bar.flagged").count() == 1
    flagged = page.locator("#cohort table tr.flagged").inner_text()
    assert "firmware=2.1.0" in flagged
    highlighted = page.locator("#logs tr.rootcause")
    markers = world["truth"].incidents[0].root_cause_markers
    assert highlighted.count() >= 1
    assert any(m in highlighted.first.inner_text() for m in markers)
    assert page.locator("#logs tbody tr").first.get_attribute("class").startswith(("level-error", "level-fatal"))
    assert page.locator("#children a[href^='/ui/devices/']").count() == len(ticket.devices)
    page.screenshot(path=str(world["shots"] / "ticket.png"), full_page=True)
    page.screenshot(path=str(world["shots"] / "ticket-top.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1200, "height": 1500})
    page.context.close()


def test_a_customer_report_for_a_device_of_the_cohort_lands_as_its_child(world):
    page = _page(world, "tech")
    ticket = _cohort_ticket(world)
    device = ticket.devices[0]
    page.goto(f"{world['url']}/ui/report?device={device}")
    page.fill("input[name=customer]", "acme")
    page.fill("input[name=reported_at]", time.strftime("%Y-%m-%dT%H:%M", time.gmtime(ticket.onset_ms / 1000)))
    page.fill("textarea[name=symptom]", "the pump stops after a minute")
    page.select_option("select[name=impact]", "down")
    page.fill("input[name=contact]", "ann@acme.example")
    page.click("#submit-report")
    page.wait_for_url(re.compile(rf".*/ui/tickets/{ticket.id}\?done=.*"))
    assert f"linked to ticket {ticket.id}" in page.locator("#done").inner_text()
    assert "the pump stops after a minute" in page.locator("#reports").inner_text()
    page.context.close()


def test_new_tickets_appear_in_the_queue_without_reload(world):
    from tickets.reports import CustomerReport, open_report

    page = _page(world, "viv")
    quiet = [d for d in (f"dev-{i:04d}" for i in range(DEVICES)) if d not in _cohort_ticket(world).devices]
    ctx = world["app"].state.ctx
    from ingest.registry import list_devices
    outside = [r.device for r in list_devices(world["engine"]) if r.firmware != "2.1.0"] or quiet
    report = open_report(ctx.tickets, CustomerReport(outside[0], "acme", ctx.now() - 60_000, "rattles", "once",
                                                     "degraded", "ann@acme.example"))
    assert report.merged_into is None
    page.wait_for_selector(f'#queue tr[data-id="{report.id}"]', timeout=20_000)  # the page polls, no reload
    page.context.close()


def test_a_viewer_sees_no_actions_and_a_forged_post_is_403(world):
    page = _page(world, "viv")
    ticket = _cohort_ticket(world)
    page.goto(f"{world['url']}/ui/tickets/{ticket.id}")
    assert page.locator("#actions").count() == 0 and page.locator("button#ack").count() == 0
    csrf = page.locator("form.logout input[name=csrf]").get_attribute("value")
    forged = page.request.post(f"{world['url']}/ui/tickets/{ticket.id}/ack", form={"csrf": csrf})
    assert forged.status == 403 and "needs technician" in forged.text()
    page.context.close()


def test_a_post_without_the_csrf_token_is_refused(world):
    page = _page(world, "tech")
    ticket = _cohort_ticket(world)
    refused = page.request.post(f"{world['url']}/ui/tickets/{ticket.id}/ack", form={"text": "x"})
    assert refused.status == 403 and "CSRF" in refused.text()
    assert _cohort_ticket(world).state == "open"
    page.context.close()


def test_a_technician_acknowledges_comments_and_resolves_and_the_figures_move(world):
    page = _page(world, "tech")
    before = page.locator("#kpi-resolved").inner_text()
    assert page.locator("#kpi-mttr").inner_text() == "—"
    ticket = _cohort_ticket(world)
    page.goto(f"{world['url']}/ui/tickets/{ticket.id}")
    page.click("button#ack")
    page.wait_for_selector("#state:has-text('acknowledged')")
    page.fill("textarea[name=text]", "rolling back 2.1.0 on the affected pumps")
    page.click("button#comment")
    page.wait_for_selector("#done:has-text('comment added')")
    page.select_option("select[name=category]", "firmware")
    page.check("input[name=attribution][value=confirmed]")
    page.fill("textarea[name=root_cause]", "2.1.0 drives phase B past its current limit")
    page.fill("textarea[name=resolution]", "rolled back to 2.0.4")
    page.click("button#resolve")
    page.wait_for_selector("#state:has-text('resolved')")
    assert "firmware: 2.1.0 drives phase B" in page.locator("#root-cause").inner_text()
    history = page.locator("#history").inner_text()
    assert all(k in history for k in ("acknowledged by tech", "commented by tech", "resolved by tech"))
    again = page.request.post(f"{world['url']}/ui/tickets/{ticket.id}/ack",
                              form={"csrf": page.locator("form.logout input[name=csrf]").get_attribute("value")})
    assert again.status == 409 and "cannot acknowledge" in again.text() and "Traceback" not in again.text()
    page.goto(world["url"] + "/ui/tickets")
    assert int(page.locator("#kpi-resolved").inner_text()) == int(before) + 1
    assert page.locator("#kpi-mttr").inner_text().endswith(" s")
    stored = _cohort_ticket(world)
    assert (stored.root_cause_category, stored.attribution, stored.confirmed_attribute) == (
        "firmware", "confirmed", ticket.detector_attribution)
    page.context.close()


@pytest.mark.parametrize("path", ["/ui/tickets", "/ui/tickets/{id}", "/ui/report"])
def test_a_phone_wide_screen_has_no_horizontal_scroll(world, path):
    page = _page(world, "tech", width=390)
    page.goto(world["url"] + path.format(id=_cohort_ticket(world).id))
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    page.context.close()
