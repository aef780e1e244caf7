"""InfluxDB refusing points for good: bisection keeps the good ones; replay after a fix."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from faultline.cli import main
from faultline.settings import load_settings
from influx.client import InfluxClient
from ingest import deadletters
from faultline.wiring import ingest_service
from support.publishing import publish_all
from support.waiting import wait_until


def test_type_conflict_dead_letters_only_the_bad_points(stack, env, prefix):
    client = InfluxClient(stack.influx_url, env["FAULTLINE_INFLUX_DB"])
    ts = int(time.time()) - 600
    client.write(f"telemetry,device=old temp_c=1i {ts * 1000}", precision="ms")  # temp_c exists as an integer
    service = ingest_service(load_settings({**env, "FAULTLINE_LINGER_MS": "300"}))
    service.start()
    try:
        assert service.subscriber.wait_connected(20)
        msgs = [(f"{prefix}/conf-{i}/telemetry",
                 json.dumps({"ts": ts + i, "seq": 1, "metrics": {"temp_c" if i % 3 == 0 else "pressure": 1.5}}))
                for i in range(12)]
        publish_all(stack.mqtt_url, msgs)
        wait_until(lambda: deadletters.count(service.engine) == 4, 60, what="four conflicting points dead-lettered")
        stored = client.rows('SELECT count("pressure") FROM "telemetry"')
        assert stored[0]["count"] == 8
        rows = deadletters.query(service.engine)
        assert {r.device for r in rows} == {"conf-0", "conf-3", "conf-6", "conf-9"}
        assert all(r.stage == "write" and "conflict" in r.reason for r in rows)
    finally:
        service.stop()


def test_replay_stores_what_the_current_settings_accept(stack, env, prefix):
    service = ingest_service(load_settings({**env, "FAULTLINE_MAX_PAYLOAD_BYTES": "100"}))
    service.start()
    try:
        assert service.subscriber.wait_connected(20)
        big = json.dumps({"seq": 1, "level": "ERROR", "component": "psu", "msg": "x" * 200})
        publish_all(stack.mqtt_url, [(f"{prefix}/big-1/logs", big), (f"{prefix}/big-1/logs", b"{broken")])
        wait_until(lambda: deadletters.count(service.engine) == 2, 60, what="two dead letters")
    finally:
        service.stop()
    runner = CliRunner()
    env = {**env, "FAULTLINE_MAX_PAYLOAD_BYTES": "4096"}
    listed = runner.invoke(main, ["deadletters", "list", "--format", "json"], env=env)
    assert listed.exit_code == 0 and {d["reason_kind"] for d in json.loads(listed.output)} == {"size", "json"}
    result = runner.invoke(main, ["deadletters", "replay", "--all"], env=env)
    assert result.exit_code == 0, result.output
    assert "replayed 1, still failing 1" in result.output
    client = InfluxClient(stack.influx_url, env["FAULTLINE_INFLUX_DB"])
    assert client.rows('SELECT count("msg") FROM "device_logs"')[0]["count"] == 1
    purged = runner.invoke(main, ["deadletters", "purge", "--older-than", "0s"], env=env)
    assert "purged 1" in purged.output


def test_ledger_cli_reports_gaps_and_duplicates(stack, env, prefix):
    service = ingest_service(load_settings(env))
    service.start()
    try:
        assert service.subscriber.wait_connected(20)
        seqs = [1, 2, 3, 6, 6, 7]
        publish_all(stack.mqtt_url, [(f"{prefix}/led-1/telemetry", json.dumps({"seq": s, "metrics": {"a": s}}))
                                     for s in seqs])
        wait_until(lambda: sum(e.received for e in service.ledger.entries("led-1")) == 6, 30, what="six received")
    finally:
        service.stop()
    result = CliRunner().invoke(main, ["ledger", "--device", "led-1", "--format", "json"], env=env)
    entry = json.loads(result.output)[0]
    assert (entry["received"], entry["missing"], entry["duplicates"]) == (6, [[4, 5]], 1)
