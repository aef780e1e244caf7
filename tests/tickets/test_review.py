"""The review (复盘) of a simulated month: the data, HTML, Markdown and a PDF opened with poppler's pdftoppm,
the scheduled job announcing through a real HTTP webhook receiver, and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from PIL import Image

from database import make_engine, migrate
from faultline.evaluation.ticket_month import simulate_month
from tickets.review import ReviewJob, parse_time, webhook_announcer
from tickets.review_charts import NOW
from tickets.review_data import gather
from tickets.review_render import write
from tickets.webhook import SIGNATURE_HEADER, verify

JAN, FEB = parse_time("2026-01-01"), parse_time("2026-02-01")


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('month') / 'tickets.db'}"
    migrate(url)
    engine = make_engine(url)
    simulate_month(engine, JAN, seed=0)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def review(month):
    return gather(month, JAN, FEB)


def test_the_review_holds_what_the_month_did(review):
    assert review.tickets > 50 and len(review.per_day) >= 20  # days with tickets
    fw, accuracy, vibration = review.suggestions[:3]
    assert fw.startswith("firmware=2.1.0 caused") and "PX-200" in fw and 'known fix: "roll back to 2.0.3"' in fw
    assert "per day fell by" in fw  # at sh-01, once the fix was known
    assert accuracy.startswith("Localisation accuracy") and "under the 95% target" in accuracy
    assert vibration.startswith("rule:vibration: 6 of 6") and "model=FX-10,firmware=1.4.0,site=sh-02 (×1.5)" in vibration
    (raised,) = review.adjustments
    assert raised.detector == "rule:vibration" and raised.factor == 1.5
    assert review.codes[0].name == "E214" and review.after.satisfaction is not None
    assert any(cause == "firmware" for cause, _ in review.root_causes) and review.reopened


def test_the_months_second_rollout_started_from_the_first_sites_fix(month):
    from tickets import known_issues, store

    (second,) = [t for t in store.list_tickets(month, limit=500) if t.subject.endswith("site=sh-03")]
    issue = known_issues.get(month, second.known_issue_id)
    assert (issue.attribute, issue.fix) == ("firmware=2.1.0", "roll back to 2.0.3")
    first = store.get_ticket(month, issue.ticket_id)
    assert first.site == "sh-01" and first.opened_ms < second.opened_ms
    assert any(e.kind == "known_issue_linked" and e.detail["fix"] == issue.fix for e in store.history(month, second.id))


def _blue_share(path) -> float:
    img = Image.open(path).convert("RGB").resize((200, 280))
    target = tuple(int(NOW[i:i + 2], 16) for i in (1, 3, 5))
    raw = img.tobytes()
    blue = sum(1 for i in range(0, len(raw), 3) if all(abs(raw[i + j] - target[j]) < 40 for j in range(3)))
    return blue / (200 * 280)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed: make test-system-deps")
def test_the_pdf_has_its_pages_and_charts(review, tmp_path):
    (pdf,) = write(review, "pdf", tmp_path / "review.pdf")
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 10  # summary, four charts, six tables (the incidents over two pages)
    charts = pages[1:5]
    assert all(_blue_share(p) > 0.01 for p in charts), [_blue_share(p) for p in charts]  # bars drawn
    assert _blue_share(pages[0]) < 0.01  # the summary page is text and a table
    text = subprocess.run(["pdftotext", "-l", "5", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for needed in ("Faultline review 2026-01-01", "Suggestions", "localisation accuracy", "Tickets opened per day",
                   "Fault codes: tickets vs expected", "Root causes found"):
        assert needed in text, needed


def test_html_embeds_the_charts_and_markdown_links_them(review, tmp_path):
    (html,) = write(review, "html", tmp_path / "review.html")
    text = html.read_text()
    assert text.count("src='data:image/png;base64,") == 4 and "rule:vibration" in text and "<h2>Incidents</h2>" in text
    md, *charts = write(review, "md", tmp_path / "review.md")
    body = md.read_text()
    assert len(charts) == 4 and all(f"]({c.name})" in body and c.read_bytes()[:4] == b"\x89PNG" for c in charts)
    assert "## Threshold changes (no-fault-found feedback)" in body and "| firmware=2.1.0 | 11 | 0 | +11 |" in body


class _Receiver(BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.got.append((body, self.headers.get(SIGNATURE_HEADER)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_monthly_job_writes_once_and_announces_signed(month, tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        job = ReviewJob(month, tmp_path / "reports", ("monthly",), "html", announce=webhook_announcer(url, "s3"),
                        now=lambda: FEB + 3 * 3_600_000)
        written = job.run()
        assert [p.name for p in written] == ["review-2026-01-01-2026-02-01.html"]
        assert job.run() == [] and len(_Receiver.got) == 1  # rendered and announced once
    finally:
        server.shutdown()
    body, signature = _Receiver.got[0]
    assert verify("s3", body, signature, now_s=time.time())
    sent = json.loads(body)
    assert (sent["event"], sent["period"], sent["from"], sent["to"]) == ("review", "monthly", "2026-01-01", "2026-02-01")
    assert sent["files"] == [str(written[0])] and sent["suggestions"][0].startswith("firmware=2.1.0")


def test_report_cli(settings_env, tmp_path):
    from click.testing import CliRunner

    from faultline.cli import main
    from faultline.settings import load_settings

    settings = load_settings(settings_env)
    migrate(settings.sql_url)
    engine = make_engine(settings.sql_url)
    simulate_month(engine, JAN, seed=1)
    engine.dispose()
    out = tmp_path / "jan.md"
    done = CliRunner().invoke(main, ["report", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "md",
                                     "--out", str(out)], env=settings_env)
    assert done.exit_code == 0, done.output
    assert "written to" in done.output and out.read_text().startswith("# Faultline review 2026-01-01 – 2026-01-31")
    bad = CliRunner().invoke(main, ["report", "--from", "2026-02-01", "--to", "2026-01-01"], env=settings_env)
    assert bad.exit_code == 2 and "--to must be after --from" in bad.output
