"""The durable writer's logic on a real spool in a temp dir: straight writes, spooling, order, bisection.

InfluxDB is replaced at its transport seam (`LineWriter.write`) by a recorder
that can refuse lines or be down; the integration tests prove the same
against a real InfluxDB (tests/ingest/test_write_failures.py).
"""

from __future__ import annotations

import threading

import pytest

from influx.errors import InfluxError
from ingest.batch import SourceMessage, SpooledBatch
from ingest.spool import Spool
from ingest.writer import DurableWriter, Stopped
from support.waiting import wait_until


class InfluxAtTheSeam:
    """A `LineWriter` keeping what it accepted; refuses lines containing "bad" (400) or everything (`down`)."""

    def __init__(self, max_lines: int | None = None):
        self.stored: list[str] = []
        self.down: InfluxError | None = None
        self.max_lines = max_lines
        self.requests = 0

    def write(self, body, precision="ms", gzip=False) -> None:
        self.requests += 1
        lines = body.decode().splitlines()
        if self.down is not None:
            raise self.down
        if self.max_lines is not None and len(lines) > self.max_lines:
            raise InfluxError("request entity too large", status=413)
        bad = [line for line in lines if "bad" in line]
        if bad:
            raise InfluxError(f'partial write: unable to parse "{bad[0]}"', status=400, partial=True)
        self.stored.extend(lines)


def spooled(*messages: list[str]) -> SpooledBatch:
    """A batch of messages, each a list of lines."""
    lines, sources = [], []
    for n, msg_lines in enumerate(messages):
        sources.append(SourceMessage(f"devices/d{n}/telemetry", b"payload %d" % n, 1000 + n, f"d{n}", "2.1.0",
                                     len(lines), len(msg_lines)))
        lines.extend(msg_lines)
    return SpooledBatch(lines, sources)


@pytest.fixture
def influx():
    return InfluxAtTheSeam()


@pytest.fixture
def dead():
    return []


@pytest.fixture
def writer(tmp_path, influx, dead):
    return DurableWriter(influx, Spool(tmp_path / "spool", 1 << 20), dead.extend, threading.Event())


def test_an_empty_batch_is_no_request(writer, influx):
    assert writer.commit(SpooledBatch([], [])) == [] and influx.requests == 0


def test_a_batch_goes_straight_to_influxdb_while_the_spool_is_empty(writer, influx):
    assert writer.commit(spooled(["m a=1", "m a=2"], ["m a=3"])) == []
    assert influx.stored == ["m a=1", "m a=2", "m a=3"] and len(writer.spool) == 0


@pytest.mark.parametrize("messages, refused_topics, stored", [
    ([["m a=1"], ["bad"]], ["devices/d1/telemetry"], ["m a=1"]),
    ([["bad", "m a=2"], ["m a=3"], ["m a=4", "bad too"]],
     ["devices/d0/telemetry", "devices/d2/telemetry"], ["m a=2", "m a=3", "m a=4"]),
    ([["bad", "bad again"]], ["devices/d0/telemetry"], []),  # one letter per message, not per line
    ([["m a=1"]] * 7 + [["bad"]], ["devices/d7/telemetry"], ["m a=1"] * 7),
])
def test_refused_points_are_isolated_and_their_messages_dead_lettered(writer, influx, dead, messages,
                                                                      refused_topics, stored):
    letters = writer.commit(spooled(*messages))
    assert [d.topic for d in letters] == refused_topics and dead == letters
    assert {(d.stage, d.reason_kind) for d in letters} <= {("write", "influx_rejected")}
    assert all("unable to parse" in d.reason and d.firmware == "2.1.0" for d in letters)
    assert influx.stored == stored and len(writer.spool) == 0


def test_a_batch_too_large_for_one_request_is_split(tmp_path, dead):
    influx = InfluxAtTheSeam(max_lines=2)
    writer = DurableWriter(influx, Spool(tmp_path, 1 << 20), dead.extend, threading.Event())
    writer.commit(spooled([f"m a={n}" for n in range(7)]))
    assert influx.stored == [f"m a={n}" for n in range(7)] and dead == []


@pytest.mark.parametrize("failure", [
    InfluxError("connection refused", status=None, retryable=True),
    InfluxError("service unavailable", status=503, retryable=True),
    InfluxError("too many requests", status=429, retryable=True, retry_after=1.0),
    InfluxError("unauthorized", status=401),  # configuration: no point is at fault
    InfluxError("database not found", status=404),
])
def test_a_failure_no_point_caused_spools_the_batch(writer, influx, dead, failure):
    influx.down = failure
    assert writer.commit(spooled(["m a=1"])) == []
    assert (len(writer.spool), writer.spooled, dead) == (1, 1, [])
    assert writer.last_error == str(failure)


def test_once_anything_is_spooled_later_batches_queue_behind_it(writer, influx):
    influx.down = InfluxError("down", retryable=True)
    writer.commit(spooled(["m a=1"]))
    influx.down = None
    writer.commit(spooled(["m a=2"]))  # InfluxDB answers again, but order comes first
    assert influx.stored == [] and len(writer.spool) == 2


def test_the_drainer_writes_the_spool_oldest_first_then_clears_the_error(writer, influx, dead):
    influx.down = InfluxError("down", retryable=True)
    writer.commit(spooled(["m a=1"]))
    writer.commit(spooled(["m a=2"], ["bad"]))
    influx.down = None
    drainer = threading.Thread(target=writer.drain_forever)
    drainer.start()
    try:
        wait_until(lambda: len(writer.spool) == 0, timeout=10, what="the spool drained")
    finally:
        writer.stop.set()
        drainer.join(10)
    assert influx.stored == ["m a=1", "m a=2"]
    assert [d.topic for d in dead] == ["devices/d1/telemetry"] and writer.last_error is None


def test_a_full_spool_blocks_commit_until_stopped(tmp_path, influx):
    writer = DurableWriter(influx, Spool(tmp_path, 1), lambda letters: None, threading.Event())
    influx.down = InfluxError("down", retryable=True)
    writer.commit(spooled(["m a=1"]))  # an empty spool always takes one batch
    threading.Timer(0.2, writer.stop.set).start()
    with pytest.raises(Stopped):
        writer.commit(spooled(["m a=2"]))
    assert len(writer.spool) == 1
