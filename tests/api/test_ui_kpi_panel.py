"""The queue's after-sales panel: the figures of the last 30 days, over HTTP and drawn in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.users import UserStore

PASSWORD = "a long enough password"
CHROMIUM = Path("/usr/bin/chromium")
CSS = Path(__file__).resolve().parents[2] / "api" / "ui" / "static" / "ui.css"


@pytest.fixture
def queue_html(client, engine, clock, auth, open_ticket):
    UserStore(engine, clock).create("ana", "viewer", PASSWORD)
    tech = auth("technician")
    right, wrong = open_ticket("pump-1"), open_ticket("pump-2")
    clock.ms += 600_000
    for ticket, verdict, attribute in ((right, "confirmed", None), (wrong, "corrected", "hw_rev=B")):
        assert client.post(f"/api/v1/tickets/{ticket}/ack", headers=tech).status_code == 200
        body = {"root_cause": "bearing", "resolution": "replaced", "root_cause_category": "hardware",
                "attribution": verdict, **({"confirmed_attribute": attribute} if attribute else {})}
        assert client.post(f"/api/v1/tickets/{ticket}/resolve", json=body, headers=tech).status_code == 200
    form = client.get("/ui/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    client.post("/ui/login", data={"name": "ana", "password": PASSWORD, "csrf": csrf, "next": "/ui/tickets"})
    page = client.get("/ui/tickets")
    assert page.status_code == 200
    return page.text


def test_the_panel_shows_the_after_sales_figures(queue_html):
    panel = re.search(r'<section class="kpis" aria-label="after-sales, last 30 days".*?</section>', queue_html, re.S)
    assert panel, "no after-sales panel"
    text = re.sub(r"<[^>]+>", " ", panel.group(0))
    assert re.search(r"50 %\s+localisation accuracy \(30 d\)", text)  # one confirmed, one corrected
    assert re.search(r"100 %\s+detector precision", text) and re.search(r"10 min\s+first response", text)
    assert re.search(r"—\s+customer satisfaction", text)  # nobody rated: a dash, not 0


def test_the_panel_in_chromium_at_phone_width(queue_html, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (make test-system-deps installs it)")
    html = queue_html.replace("</head>", f"<style>{CSS.read_text()}</style></head>")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.set_content(html)
            boxes = [page.locator(f"#{i}").bounding_box() for i in
                     ("kpi-accuracy", "kpi-precision", "kpi-first-response", "kpi-satisfaction")]
            assert all(b is not None and b["width"] > 0 and b["x"] + b["width"] <= 390 for b in boxes), boxes
            assert page.locator("#kpi-accuracy").inner_text() == "50 %"
            shot = tmp_path / "queue-kpis.png"
            page.locator("#after-sales").screenshot(path=str(shot))
            print(f"screenshot: {shot}")
        finally:
            browser.close()
