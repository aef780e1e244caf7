"""What is wrong is said by name: a shared client id, a broker that does not answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultline.stack import free_port
from ingest.mqtt import Subscriber
from support.processes import IngestProcess
from support.waiting import wait_until


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])  # MQTT 3.1.1 has no reason codes at all
def test_two_processes_with_one_client_id_are_told_which_setting_to_change(env, tmp_path, protocol):
    """Mosquitto 2.0 closes the older connection without reason 0x8E: the pattern gives it away."""
    env = {**env, "FAULTLINE_MQTT_PROTOCOL": protocol}
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    # One process each (--workers 1): the take-over of one client id by another process is the point here;
    # a pool's workers would each carry their own id (<client id>-<i>).
    first = IngestProcess(env, logs[0], args=("--workers", "1")).start()
    second = None
    try:
        # (a data dir of its own: a spool is one process's at a time, `ingest.spool`)
        second = IngestProcess({**env, "FAULTLINE_DATA_DIR": str(tmp_path / "second")}, logs[1],
                               args=("--workers", "1")).start()
        said = "probably uses the same client id"
        # the one whose connections keep being taken says why and backs off to minutes; the other holds
        text = wait_until(lambda: next((p.read_text() for p in logs if said in p.read_text()), None), 60,
                          what="a process names the cause")
        assert f"same client id {env['FAULTLINE_MQTT_CLIENT_ID']!r}" in text
        assert "Give each process its own FAULTLINE_MQTT_CLIENT_ID" in text and "Reconnecting in" in text
        assert first.proc.poll() is None and second.proc.poll() is None  # reading goes on, backing off
    finally:
        codes = [p.terminate() for p in (first, second) if p is not None]
    assert codes == [0, 0]


def test_session_taken_over_with_reason_0x8e_stops_reconnecting():
    """A broker that sends reason 0x8E (MQTT 5 session taken over) ends it at once."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    said = []
    subscriber = Subscriber("mqtt://127.0.0.1:1", "faultline-x", "devices/#", lambda m: None,
                            on_taken_over=lambda: said.append(True))
    subscriber._on_disconnect(subscriber.client, None, None, ReasonCode(PacketTypes.DISCONNECT, identifier=0x8E),
                              None)
    assert subscriber.taken_over.is_set() and said == [True]


def test_unreachable_broker_is_logged_with_backoff(env, tmp_path):
    dead = {**env, "FAULTLINE_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}"}
    service = IngestProcess(dead, tmp_path / "ingest.log")
    service.ready = b"attempt 4,"
    service.start(timeout=90)  # attempts 1, 2 and 4 are logged, 3 is not
    try:
        log = Path(tmp_path / "ingest.log").read_text()
        assert "attempt 1," in log and "attempt 2," in log and "attempt 3," not in log
        assert "retrying with backoff" in log
    finally:
        assert service.terminate() == 0
