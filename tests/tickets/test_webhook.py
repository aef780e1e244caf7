"""Webhook: a real local receiver checks the signature; retries from the SQL outbox; stable idempotency keys."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from support.tickets import make_alert
from tickets.models import OutboxRow
from tickets.service import TicketService
from tickets.webhook import SIGNATURE_HEADER, Outbox, backoff_ms, verify
from tickets.workflow import Workflow

SECRET = "hook-secret"


class Receiver:
    """A stdlib HTTP server on 127.0.0.1 that answers each POST with the next scripted status."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        self.location = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: bytes):
                receiver.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                self._answer(self.rfile.read(int(self.headers["Content-Length"])))

            def do_GET(self):
                self._answer(b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def make_outbox(engine, url, clock, **kw):
    return Outbox(engine, url, SECRET, now=clock, base_delay_s=10, max_delay_s=600, **kw)


def test_each_change_is_delivered_signed_with_a_key_per_version(engine, clock, receiver):
    outbox = make_outbox(engine, receiver.url, clock)
    service = TicketService(engine, None, None, outbox, now=clock)
    t = service.apply(make_alert())
    Workflow(engine, outbox, now=clock).ack(t.id, "bob")
    report = outbox.deliver_due()
    assert (report.delivered, report.retrying, report.dead) == (2, 0, 0)
    assert len(receiver.requests) == 2
    for req in receiver.requests:
        assert verify(SECRET, req["body"], req["headers"][SIGNATURE_HEADER], clock() / 1000)
        assert not verify("wrong", req["body"], req["headers"][SIGNATURE_HEADER], clock() / 1000)
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert [b["event"] for b in bodies] == ["opened", "acknowledged"]
    keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
    assert keys == [f"{t.key}#1@v1", f"{t.key}#1@v2"]
    assert [b["ticket"]["version"] for b in bodies] == [1, 2]
    assert outbox.deliver_due().delivered == 0  # nothing left
    clock.advance(7 * 86_400)
    assert outbox.prune(keep_days=7) == 0  # exactly seven days: kept
    clock.advance(1)
    assert outbox.prune(keep_days=7) == 2


def test_failing_receiver_is_retried_with_backoff_and_the_same_key(engine, clock, receiver):
    receiver.statuses = [500, 503]
    outbox = make_outbox(engine, receiver.url, clock)
    TicketService(engine, None, None, outbox, now=clock).apply(make_alert())
    assert outbox.deliver_due().retrying == 1
    assert outbox.deliver_due().retrying == 0 and len(receiver.requests) == 1  # not yet due
    clock.advance(backoff_ms(1, 10, 600) / 1000)
    assert outbox.deliver_due().retrying == 1
    clock.advance(backoff_ms(2, 10, 600) / 1000 - 1)
    assert outbox.deliver_due().delivered == 0  # one second early
    clock.advance(1)
    assert outbox.deliver_due().delivered == 1
    assert len(receiver.requests) == 3
    assert len({r["headers"]["Idempotency-Key"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1
    assert all(verify(SECRET, r["body"], r["headers"][SIGNATURE_HEADER], clock() / 1000, tolerance_s=3600)
               for r in receiver.requests)
    stamps = [r["headers"][SIGNATURE_HEADER].split(",")[0] for r in receiver.requests]
    assert len(set(stamps)) == 3  # each attempt is signed at its own time


def test_unreachable_receiver_never_blocks_the_ticket(engine, clock):
    dead_port = Receiver()
    url = dead_port.url
    dead_port.close()  # nothing listens there any more
    outbox = make_outbox(engine, url, clock, timeout=2)
    t = TicketService(engine, None, None, outbox, now=clock).apply(make_alert())
    assert t.state == "open"
    report = outbox.deliver_due()
    assert report.retrying == 1


def test_a_client_error_is_not_retried_until_requeued(engine, clock, receiver):
    receiver.statuses = [401]
    outbox = make_outbox(engine, receiver.url, clock)
    TicketService(engine, None, None, outbox, now=clock).apply(make_alert())
    assert outbox.deliver_due().dead == 1
    clock.advance(3600)
    assert outbox.deliver_due().delivered == 0
    assert outbox.requeue_dead() == 1
    assert outbox.deliver_due().delivered == 1


def test_gives_up_after_max_attempts(engine, clock, receiver):
    receiver.statuses = [500] * 3
    outbox = make_outbox(engine, receiver.url, clock, max_attempts=3)
    TicketService(engine, None, None, outbox, now=clock).apply(make_alert())
    outcomes = []
    for _ in range(3):
        r = outbox.deliver_due()
        outcomes.append((r.retrying, r.dead))
        clock.advance(600)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_nor_counted_delivered(engine, clock, receiver, status):
    receiver.statuses = [status]
    receiver.location = "/elsewhere"
    outbox = make_outbox(engine, receiver.url, clock)
    TicketService(engine, None, None, outbox, now=clock).apply(make_alert())
    report = outbox.deliver_due()
    assert (report.delivered, report.dead) == (0, 1)
    assert [(r["method"], r["path"]) for r in receiver.requests] == [("POST", "/hook")]  # no second request
    with engine.connect() as conn:
        error = conn.execute(select(OutboxRow.last_error)).scalar_one()
    assert f"HTTP {status}" in error and "redirect" in error


def test_a_replayed_delivery_fails_verification_after_the_window(engine, clock, receiver):
    outbox = make_outbox(engine, receiver.url, clock)
    TicketService(engine, None, None, outbox, now=clock).apply(make_alert())
    outbox.deliver_due()
    captured = receiver.requests[0]
    header, body = captured["headers"][SIGNATURE_HEADER], captured["body"]
    sent_s = clock() / 1000
    assert header.startswith(f"t={int(sent_s)},sha256=")
    assert verify(SECRET, body, header, sent_s + 60)
    assert not verify(SECRET, body, header, sent_s + 301)  # the same bytes replayed six minutes later
    forged = header.replace(f"t={int(sent_s)}", f"t={int(sent_s) + 400}")
    assert not verify(SECRET, body, forged, sent_s + 400)  # a fresh timestamp does not fit the signature


def test_the_documented_recipe_verifies_a_real_delivery(engine, clock, receiver):
    """The receiving-side snippet of tickets/README.md, run as written against a real delivery."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "tickets" / "README.md").read_text()
    recipe = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    outbox = make_outbox(engine, receiver.url, clock)
    TicketService(engine, None, None, outbox, now=clock).apply(make_alert())
    outbox.deliver_due()
    captured = receiver.requests[0]
    for now, expected in ((clock() / 1000 + 5, True), (clock() / 1000 + 900, False)):
        scope = {"secret": SECRET, "body": captured["body"], "headers": captured["headers"], "now": now}
        exec(recipe, scope)
        assert scope["ok"] is expected


def test_a_webhook_without_a_secret_is_refused(engine, clock, settings_env):
    from faultline.settings import SettingsError, load_settings

    with pytest.raises(ValueError, match="secret"):
        Outbox(engine, "http://127.0.0.1:9/hook", "", now=clock)
    with pytest.raises(SettingsError, match="FAULTLINE_TICKETS_WEBHOOK_SECRET"):
        load_settings(dict(settings_env, FAULTLINE_TICKETS_WEBHOOK_URL="http://127.0.0.1:9/hook"))
