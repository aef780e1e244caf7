"""A second replay into a running service: late records are counted, and the user is told why no ticket.

The first `faultline simulate` of a firmware regression opens the cohort
ticket. The second one, a minute later, replays two days that the service
has already evaluated: `simulate` warns before publishing (with what to do),
the service counts the records as late in its log and summary line instead
of folding two days of faults into the current hour, and no other ticket
opens.
"""

from __future__ import annotations

import re
import uuid

import pytest

from database import make_engine
from faultline.stack import free_port
from support.incidents import settled
from support.processes import ServiceProcess, faultline_cli
from support.waiting import wait_until
from tickets.store import list_tickets

SIMULATE = ["simulate", "--scenario", "firmware-regression", "--devices", "100", "--quiet",
            "--topics", "events,logs,meta,status"]


@pytest.fixture
def env(settings_env):
    prefix = f"rp{uuid.uuid4().hex[:8]}/devices"
    return {**settings_env, "FAULTLINE_API_PORT": str(free_port()), "FAULTLINE_MQTT_TOPIC_PREFIX": prefix,
            "FAULTLINE_LOG_SUMMARY_S": "2"}


def test_second_replay_is_late_and_said_so(env, tmp_path):
    args = SIMULATE + ["--topic-prefix", env["FAULTLINE_MQTT_TOPIC_PREFIX"]]
    log = tmp_path / "run.log"
    service = ServiceProcess(env, log).start()
    engine = make_engine(f"sqlite:///{env['FAULTLINE_DATA_DIR']}/database")
    try:
        first = faultline_cli(args, cwd=tmp_path, env=env, timeout=300)
        assert first.returncode == 0 and "warning" not in first.stderr, first.stderr
        wait_until(lambda: list_tickets(engine), 120, what="the first replay's ticket")
        settled(engine)
        second = faultline_cli(args, cwd=tmp_path, env=env, timeout=300)
        assert second.returncode == 0, second.stderr
        assert "before data already stored" in second.stderr and "late" in second.stderr
        assert "faultline demo --scenario firmware-regression" in second.stderr
        assert "faultline eval --scenario firmware-regression" in second.stderr
        wait_until(lambda: _late_in_summaries(log.read_text()) > 10_000, 120, what="the late records counted")
        settled(engine)
        tickets = list_tickets(engine)
        assert service.terminate() == 0
    finally:
        service.stop_if_running()
    assert [t.subject for t in tickets] == ["model=PX-200,firmware=2.1.0"]  # no ticket from misplaced faults
    text = log.read_text()
    assert "late record(s) so far" in text and "are stored but not evaluated" in text


def _late_in_summaries(text: str) -> int:
    return sum(int(n.replace(",", "")) for n in re.findall(r"late records ([\d,]+)", text))
