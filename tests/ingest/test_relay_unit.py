"""The relay's bookkeeping over real pipes: where a message goes, the order of acknowledgements, a worker's death.

The relay's MQTT session is replaced by a recorder of what it would acknowledge; the broker side is in
`test_relay.py`.
"""

from __future__ import annotations

import os
import threading
import time

from ingest.mqtt import Incoming
from ingest.relay import PipeFeed, Relay
from support.waiting import wait_until


class Recorder:
    """What the relay acknowledges, in order (the session's `ack_all`)."""

    def __init__(self):
        self.acked: list[int] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        pass

    def stop(self, flush_s: float = 5.0) -> None:
        pass

    def ack_all(self, acks) -> None:
        with self.lock:
            self.acked += [mid for mid, _, _ in acks]


class Worker:
    """A worker's end of the pipes: what it received, acknowledged when the test says so."""

    def __init__(self, relay: Relay, index: int):
        messages_in, messages_out = os.pipe()
        acks_in, acks_out = os.pipe()
        relay.attach(index, messages_out, acks_in)
        self.got: list[Incoming] = []
        self.feed = PipeFeed(messages_in, acks_out)
        self.feed.on_message = self.got.append
        self.feed.start()

    def ack(self, msgs: list[Incoming]) -> None:
        self.feed.ack_all([(m.mid, m.qos, m.generation) for m in msgs])

    def die(self) -> None:
        self.feed._in.close()
        self.feed.stop()


def relay_with(workers: int) -> tuple[Relay, Recorder, list[Worker]]:
    recorder = Recorder()
    relay = Relay(recorder, 1 << 20, "devices")
    ends = [Worker(relay, i) for i in range(1, workers + 1)]
    relay.start()
    return relay, recorder, ends


def deliver(relay: Relay, devices: int, each: int) -> None:
    mid = 0
    for k in range(each):
        for d in range(devices):
            mid += 1
            relay.receive(Incoming(f"devices/d{d}/{'meta' if k == 0 else 'telemetry'}", b"{}", 0, mid, 1, 1))


def test_a_device_goes_to_one_worker_in_order_and_acks_go_out_in_delivery_order():
    relay, recorder, (a, b) = relay_with(2)
    deliver(relay, devices=20, each=5)
    wait_until(lambda: len(a.got) + len(b.got) == 100, 10, what="every message handed out")
    for worker in (a, b):
        devices = {m.topic.split("/")[1] for m in worker.got}
        assert devices and not devices & {m.topic.split("/")[1] for m in (b if worker is a else a).got}
        for device in devices:  # its meta first, then its telemetry, as the broker delivered them
            kinds = [m.topic.split("/")[2] for m in worker.got if m.topic.split("/")[1] == device]
            assert kinds == ["meta"] + ["telemetry"] * 4
    first_of_a = min(m.mid for m in a.got)  # (a worker's mid is the relay's number, from 0)
    b.ack(b.got)
    wait_until(lambda: len(recorder.acked) >= first_of_a, 10, what="b's messages before a's first acknowledged")
    time.sleep(0.3)
    with recorder.lock:  # only those: the rest of b's wait for a's
        assert recorder.acked == list(range(1, first_of_a + 1))
    a.ack(a.got)
    wait_until(lambda: len(recorder.acked) == 100, 10, what="every message acknowledged")
    assert recorder.acked == list(range(1, 101)) and relay.out_of_order == 0
    relay.stop(time.monotonic() + 5)


def test_what_a_dead_worker_did_not_acknowledge_goes_to_the_others():
    relay, recorder, (a, b) = relay_with(2)
    deliver(relay, devices=20, each=5)
    wait_until(lambda: len(a.got) + len(b.got) == 100, 10, what="every message handed out")
    a.ack(a.got[:10])
    held = {m.mid for m in a.got[10:]}
    a.die()
    wait_until(lambda: held <= {m.mid for m in b.got}, 10, what="the dead worker's messages at the other")
    assert relay.handed_on == len(held)
    b.ack(b.got)
    wait_until(lambda: len(recorder.acked) == 100, 10, what="every message acknowledged")
    assert sorted(recorder.acked) == list(range(1, 101))
    deliver(relay, devices=3, each=1)  # new messages go to the worker alive
    wait_until(lambda: len(b.got) == 100 - 10 + 3, 10, what="new messages at the worker alive")
    relay.stop(time.monotonic() + 5)


def test_stop_hands_on_what_was_received_and_ends_the_workers_pipes():
    relay, recorder, (a,) = relay_with(1)
    deliver(relay, devices=5, each=2)
    ended = threading.Event()
    a.feed.on_end = ended.set
    wait_until(lambda: len(a.got) == 10, 10, what="handed out")
    a.ack(a.got)
    threading.Thread(target=relay.stop, args=(time.monotonic() + 5,), daemon=True).start()
    assert ended.wait(5), "the worker's pipe did not end"
    a.feed.stop()
    wait_until(lambda: len(recorder.acked) == 10, 10, what="acknowledged")
