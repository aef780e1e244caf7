"""The workspace over HTTP: sign-in, sessions, CSRF, roles, escaping, bad input (the browser tests are in test_ui_browser)."""

from __future__ import annotations

import re

import pytest

from api.users import UserStore

PASSWORD = "a long enough password"
EVIL = '<script>alert("x")</script>'


@pytest.fixture
def users(engine, clock):
    store = UserStore(engine, clock)
    for role in ("viewer", "technician"):
        store.create(role, role, PASSWORD)
    return store


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, name: str, password: str = PASSWORD):
    form = client.get("/ui/login")
    return client.post("/ui/login", data={"name": name, "password": password, "csrf": _csrf(form.text),
                                          "next": "/ui/tickets"}, follow_redirects=False)


def test_pages_need_a_sign_in_and_the_session_cookie_is_guarded(client, users):
    assert client.get("/ui/tickets", follow_redirects=False).headers["location"] == "/ui/login?next=/ui/tickets"
    wrong = sign_in(client, "technician", "not the password")
    assert wrong.status_code == 401 and "wrong password" in wrong.text
    done = sign_in(client, "technician")
    assert done.status_code == 303 and done.headers["location"] == "/ui/tickets"
    cookie = done.headers["set-cookie"]
    assert "faultline_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    assert client.get("/ui/tickets").status_code == 200
    page = client.get("/ui/tickets")
    out = client.post("/ui/logout", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("faultline_session", cookie.split(";")[0].split("=", 1)[1])  # the old token is dead
    assert client.get("/ui/tickets", follow_redirects=False).status_code == 303


def test_sign_in_without_the_forms_token_is_refused(client, users):
    response = client.post("/ui/login", data={"name": "technician", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403 and "faultline_session" not in response.headers.get("set-cookie", "")


def test_failed_sign_ins_are_throttled_per_name(client, users, settings):
    for _ in range(settings.ui_signin_attempts):
        assert sign_in(client, "viewer", "guess guess guess").status_code == 401
    blocked = sign_in(client, "viewer")  # even the right password waits now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in blocked.text


def test_csrf_less_and_viewer_posts_are_403_and_change_nothing(client, users, open_ticket, engine):
    from tickets.store import get_ticket

    ticket = open_ticket("pump-1")
    sign_in(client, "technician")
    assert client.post(f"/ui/tickets/{ticket}/ack", data={}).status_code == 403
    assert client.post(f"/ui/tickets/{ticket}/ack", data={"csrf": "forged"}).status_code == 403
    client.cookies.clear()
    sign_in(client, "viewer")
    page = client.get(f"/ui/tickets/{ticket}")
    assert page.status_code == 200 and 'id="actions"' not in page.text
    forged = client.post(f"/ui/tickets/{ticket}/ack", data={"csrf": _csrf(page.text)})
    assert forged.status_code == 403 and "needs technician" in forged.text
    assert get_ticket(engine, ticket).state == "open"


def test_actions_follow_the_workflow_and_409_is_a_message(client, users, open_ticket):
    ticket = open_ticket("pump-1")
    sign_in(client, "technician")
    csrf = _csrf(client.get(f"/ui/tickets/{ticket}").text)
    acked = client.post(f"/ui/tickets/{ticket}/ack", data={"csrf": csrf})
    assert acked.status_code == 200 and '<dd id="state">acknowledged</dd>' in acked.text
    again = client.post(f"/ui/tickets/{ticket}/ack", data={"csrf": csrf})
    assert again.status_code == 409 and f"ticket {ticket} is acknowledged: cannot acknowledge" in again.text
    assert "Traceback" not in again.text
    bad = client.post(f"/ui/tickets/{ticket}/resolve", data={"csrf": csrf, "category": "bad luck",
                                                             "root_cause": "x", "resolution": "y"})
    assert bad.status_code == 422 and "root_cause_category" in bad.text
    empty = client.post(f"/ui/tickets/{ticket}/comment", data={"csrf": csrf, "text": "x" * 10_001})
    assert empty.status_code == 422 and "longer than 10000" in empty.text


def test_script_in_every_text_field_is_escaped(client, users, open_ticket, engine, registered):
    from tickets.reports import CustomerReport, open_report

    registered("pump-9", customer=EVIL, site=EVIL)
    ticket = open_ticket("pump-9", site=EVIL, model=EVIL, firmware=EVIL)
    sign_in(client, "technician")
    csrf = _csrf(client.get(f"/ui/tickets/{ticket}").text)
    for action, data in (("comment", {"text": EVIL}), ("assign", {"assignee": EVIL, "team": EVIL}),
                         ("resolve", {"category": "other", "attribution": "corrected", "confirmed_attribute": EVIL,
                                      "root_cause": EVIL, "resolution": EVIL})):
        assert client.post(f"/ui/tickets/{ticket}/{action}", data={"csrf": csrf, **data}).status_code == 200
    report = open_report(client.app.state.ctx.tickets, CustomerReport(
        "pump-9", EVIL, 1_767_225_000_000, EVIL, "once", "down", EVIL))
    for path in (f"/ui/tickets/{ticket}", f"/ui/tickets/{report.id}", "/ui/tickets?q=script",
                 "/ui/devices/pump-9", f"/ui/tickets?team={EVIL}"):
        html = client.get(path).text
        assert EVIL not in html, path
        assert "&lt;script&gt;" in html, path


def test_bad_filters_and_unknown_pages_are_answered(client, users):
    sign_in(client, "viewer")
    assert client.get("/ui/tickets?state=lost").status_code == 422
    assert client.get("/ui/tickets?page=0").status_code == 422
    assert client.get("/ui/tickets/999999").status_code == 404
    assert client.get("/ui/devices/nobody").status_code == 404


@pytest.mark.parametrize("changes,error", [
    ({"symptom": ""}, "symptom: is required"),
    ({"symptom": "x" * 2001}, "symptom: is longer than 2000 characters"),
    ({"device": "nobody"}, "nobody&#39; is not a registered device"),  # the name is escaped
    ({"reported_at": "yesterday"}, "reported_at: give the date and time"),
    ({"impact": "meh"}, "impact: must be one of"),
])
def test_the_report_form_answers_bad_input_on_the_form(client, users, registered, changes, error):
    registered("pump-1")
    sign_in(client, "technician")
    csrf = _csrf(client.get("/ui/report").text)
    form = {"csrf": csrf, "device": "pump-1", "customer": "acme", "reported_at": "2025-12-31T23:00",
            "symptom": "hums", "frequency": "daily", "impact": "degraded", "contact": "ann", **changes}
    response = client.post("/ui/report", data=form)
    assert response.status_code == 422 and error in response.text
    assert 'name="customer" value="acme"' in response.text  # what was typed is kept


def test_a_report_for_a_device_with_no_data_says_so(client, users, registered):
    registered("pump-3")
    sign_in(client, "technician")
    csrf = _csrf(client.get("/ui/report").text)
    done = client.post("/ui/report", data={"csrf": csrf, "device": "pump-3", "customer": "acme",
                                           "reported_at": "2025-12-31T23:00", "symptom": "hums",
                                           "frequency": "once", "impact": "none", "contact": "ann"})
    assert done.status_code == 200 and "customer report" in done.text and "opened" in done.text
    assert "No log lines around the reported time" in done.text and "<dd>hums</dd>" in done.text
