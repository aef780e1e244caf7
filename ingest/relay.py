"""`faultline ingest --workers N`: one MQTT session, N writer processes.

One process holds the MQTT session (the same client id and plain, persistent
subscription as one `faultline ingest`) and does nothing but receive: it
hands each message to one of N worker processes over a pipe, and passes on
to the broker the acknowledgements the workers send back once a message is
durable. Each worker is a `faultline ingest` without a broker connection
(`PipeFeed` in place of `ingest.mqtt.Subscriber`): decode, line protocol,
SQL, InfluxDB or its spool, exactly as one process; so what costs CPU runs
on N cores while the broker sees one session.

Why not N sessions on a shared subscription (`ingest.workers`): Mosquitto
2.0 forgets shared subscriptions over its own restart, so what devices
publish between the broker's return and the workers' new SUBSCRIBE reaches
no session; a plain subscription of a persistent session keeps it. And the
session is the one a single process uses: going from one process to N and
back needs no migration.

- **Where a message goes**: by the hash of its device (the topic level
  after the prefix) over the workers alive, so a device's messages go to one
  worker in the order they came, as in one process (a ``meta`` before the
  logs it tags), and each worker's caches hold only its share of the devices.
- **Acknowledgement**: a worker acknowledges a message (by the relay's own
  number for it) only once it is durable; the relay keeps every message it
  handed out until then. A worker that dies (crash, kill -9, OOM) closes its
  pipes: the relay reads the acknowledgements it sent up to its end and
  hands what it had not acknowledged to the workers alive (duplicates land
  on the same InfluxDB points). If the relay itself dies, its session holds
  every unacknowledged message and the broker delivers them again.
- **Backpressure**: a worker's inbox is bounded (``FAULTLINE_INBOX_MAX_MB``);
  a full one stops it reading its pipe, the relay's write waits, the
  relay's own inbox fills, its network thread stops reading the socket and
  TCP pushes back on the broker, as in one process.
- **Stop**: the relay stops taking messages, hands on what it holds and
  closes the pipes; each worker takes the end of its pipe for a stop
  (flush, acknowledge what is durable) and the relay passes the last
  acknowledgements on before it disconnects.

The workers keep no completeness ledger of their own: a device's stream
moves to another worker when one dies, so they feed the pool's one ledger
(`ingest.ledger_keeper`) as the workers of a shared subscription do.

>>> rows = [(7, "devices/d1/telemetry", b"{}", 1000, 1, 3, False, False)]
>>> [decode_rows(encode_rows(rows))[0].mid, decode_rows(encode_rows(rows))[0].topic]
[7, 'devices/d1/telemetry']
"""

from __future__ import annotations

import collections
import logging
import pickle
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from ingest.inbox import CLOSED, Inbox
from ingest.mqtt import Incoming, held_size

log = logging.getLogger("faultline.ingest")
TAKE_AT_ONCE = 500  # messages taken from the relay's inbox at once (then split over the workers)
TAKE_AT_ONCE_BYTES = 1_048_576
PIPE_BYTES = 1_048_576  # asked of the kernel for each pipe (Linux: F_SETPIPE_SZ, up to its pipe-max-size)
NO_WORKER_WAIT_S = 0.2  # while no worker is alive, the relay looks again this often
STUCK_S = 15.0  # an oldest message not durable for this long no longer holds back the durable ones behind it


def window(config, count: int) -> int:
    """The unacknowledged messages the relay's session takes (over MQTT 5 its receive maximum: `count` times one
    process's, at most 65,535; over MQTT 3.1.1 the broker's bound), and the messages at which each worker
    flushes a batch: a quarter of its share, so that acknowledgements flow while the rest arrives.

    >>> from ingest.config import IngestConfig
    >>> window(IngestConfig(), 2), window(IngestConfig(), 8), window(IngestConfig(mqtt_protocol="3.1.1"), 2)
    ((40000, 5000), (65535, 2047), (20000, 2500))
    """
    if config.mqtt_protocol == "3.1.1":
        total = config.mqtt_broker_max_inflight
    else:
        total = min(65_535, config.mqtt_max_inflight * count)
    return total, max(1, min(config.batch_size, total // (4 * count)))


def encode_rows(rows: list[tuple]) -> bytes:
    """Messages for a worker: ``(number, topic, payload, received_ms, qos, generation, dup, replayed)``."""
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


def decode_rows(data: bytes) -> list[Incoming]:
    """A worker's messages; ``mid`` is the relay's number, which the worker acknowledges."""
    return [Incoming(topic, payload, received_ms, n, qos, generation, dup, replayed)
            for n, topic, payload, received_ms, qos, generation, dup, replayed in pickle.loads(data)]


def widen(fd: int) -> None:
    """Ask for a larger pipe buffer (fewer wake-ups per batch); keep the default where refused."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (OSError, ImportError):
        pass


@dataclass(eq=False)
class Link:
    """The relay's side of one worker: messages out, acknowledgements in."""

    index: int
    out: Connection
    acks: Connection
    outstanding: dict[int, Incoming] = field(default_factory=dict)  # handed out, not yet acknowledged
    writable: bool = True  # False once a write failed (the worker is gone; its reader hands its messages on)


class Relay:
    """The receiving process: `subscriber` delivers to `receive`; `attach` joins a worker's pipes."""

    def __init__(self, subscriber, inbox_max_bytes: int, prefix: str = "devices"):
        self.subscriber = subscriber  # an `ingest.mqtt.Subscriber` whose on_message is `receive`
        self._device_at = len(prefix.rstrip("/")) + 1  # where a topic's device begins
        self.inbox = Inbox(inbox_max_bytes)
        self.links: dict[int, Link] = {}
        self.acked = 0  # messages acknowledged to the broker
        self.handed_on = 0  # messages of workers that died, handed to others
        self.out_of_order = 0  # acknowledged before an older message (held back too long, or at the stop)
        self._next = 0
        self._retry: list[tuple[int, Incoming]] = []  # a dead worker's messages, handed out again before new ones
        # Acknowledged to the broker in the order it delivered them: Mosquitto looks an acknowledged message up
        # by walking its list of messages in flight from the oldest, so acknowledgements out of order (two
        # workers' batches interleave) cost it a walk past every older one still in flight (measured: the
        # broker's CPU 6 % -> 54 % of a core at the same drain rate).
        self._order: collections.deque[int] = collections.deque()  # numbers handed out, oldest first
        self._durable: dict[int, Incoming] = {}  # acknowledged by a worker, waiting for the older ones
        self._head_since = time.monotonic()  # when the oldest message in flight became the oldest
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._accepting = True
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="relay-dispatch", daemon=True)
        self._readers: list[threading.Thread] = []

    def start(self) -> None:
        self._dispatcher.start()
        self.subscriber.start()

    def receive(self, msg: Incoming) -> None:
        if self._accepting:
            self.inbox.put(msg, held_size(msg))  # blocks while full: the socket waits

    def attach(self, index: int, out_fd: int, ack_fd: int) -> None:
        """Worker `index` reads messages from the pipe `out_fd` is the write end of and writes its
        acknowledgements to the pipe `ack_fd` is the read end of (the relay owns both ends from now)."""
        widen(out_fd)
        link = Link(index, Connection(out_fd, readable=False), Connection(ack_fd, writable=False))
        with self._lock:
            self.links[index] = link
            self._changed.notify_all()
        reader = threading.Thread(target=self._read_acks, args=(link,), name=f"relay-acks-{index}", daemon=True)
        self._readers = [t for t in self._readers if t.is_alive()] + [reader]
        reader.start()

    def outstanding(self) -> int:
        """Messages received and not yet acknowledged to the broker (handed out, waiting, or durable and
        waiting for an older one)."""
        with self._lock:
            return len(self._order)

    def dead(self) -> list[str]:
        return [] if self._dispatcher.is_alive() or not self._accepting else ["relay-dispatch"]

    def stop(self, deadline: float) -> None:
        """Hand on what was received, close the workers' pipes (each then stops and acknowledges what is
        durable), pass the last acknowledgements on; then disconnect (never unsubscribe)."""
        self._accepting = False
        self.inbox.close()
        with self._lock:
            self._changed.notify_all()
        self._dispatcher.join(max(0.1, deadline - time.monotonic()))
        for reader in list(self._readers):
            reader.join(max(0.1, deadline - time.monotonic()))
        with self._lock:  # what is durable behind a message that is not: acknowledged now, out of order
            self._acknowledge(everything=True)
        left = self.outstanding()
        if left:
            log.warning("stop: %d messages handed to workers were not acknowledged; the broker delivers them "
                        "again", left)
        self.subscriber.stop()

    # --- threads --------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while True:
            with self._lock:
                retry, self._retry = self._retry, []
            if not retry:
                msgs = self.inbox.get_many(NO_WORKER_WAIT_S, TAKE_AT_ONCE, TAKE_AT_ONCE_BYTES)
                if msgs is CLOSED:
                    break
                with self._lock:
                    retry = [(self._number(), msg) for msg in msgs]
                    if self._durable and time.monotonic() - self._head_since > STUCK_S:
                        self._acknowledge(everything=True)
            if retry:
                try:
                    self._hand_out(retry)
                except Exception:  # noqa: BLE001 - kept for the next turn: nothing was lost
                    log.exception("relay: handing out %d messages failed; trying again", len(retry))
                    with self._lock:
                        self._retry = retry + self._retry
                    time.sleep(NO_WORKER_WAIT_S)
        with self._lock:
            links = list(self.links.values())
        for link in links:  # the end of the pipe: the worker stops
            link.out.close()

    def _number(self) -> int:
        """The next message's number (under the lock), in the order the broker delivered them."""
        n = self._next
        self._next = n + 1
        if not self._order:
            self._head_since = time.monotonic()
        self._order.append(n)
        return n

    def _hand_out(self, msgs: list[tuple[int, Incoming]]) -> None:
        at = self._device_at
        with self._lock:  # (a link is given messages only while writable: its reader hands on all it was given)
            while True:
                links = [link for link in self.links.values() if link.writable]
                if links or not self._accepting:
                    break
                self._changed.wait(NO_WORKER_WAIT_S)
            if not links:  # stopping with no worker alive: they stay unacknowledged with the broker
                return
            parts: list[list[tuple]] = [[] for _ in links]
            count = len(links)
            for n, msg in msgs:
                topic = msg.topic
                i = hash(topic[at:topic.find("/", at)]) % count
                links[i].outstanding[n] = msg
                parts[i].append((n, msg.topic, msg.payload, msg.received_ms, msg.qos, msg.generation, msg.dup,
                                 msg.replayed))
        for link, rows in zip(links, parts):
            if rows:
                try:
                    link.out.send_bytes(encode_rows(rows))  # waits while the worker is behind
                except OSError:  # the worker is gone; its reader hands on what it held, these too
                    link.writable = False

    def _acknowledge(self, everything: bool = False) -> None:
        """(Under the lock) acknowledge to the broker the durable messages no older one waits before; with
        `everything`, every durable one (a message that does not become durable within `STUCK_S`, e.g. of a
        batch its worker gave up on, must not hold back the rest: the broker delivers it again after a
        reconnect)."""
        order, durable, msgs = self._order, self._durable, []
        while order and order[0] in durable:
            msgs.append(durable.pop(order.popleft()))
        if msgs:
            self._head_since = time.monotonic()
        if everything and durable:
            self.out_of_order += len(durable)
            msgs += durable.values()
            gone = set(durable)
            durable.clear()
            self._order = collections.deque(n for n in order if n not in gone)
        if msgs:
            self.subscriber.ack_all([(m.mid, m.qos, m.generation) for m in msgs])
            self.acked += len(msgs)

    def _read_acks(self, link: Link) -> None:
        try:
            while True:
                numbers = pickle.loads(link.acks.recv_bytes())
                with self._lock:
                    for n in numbers:
                        msg = link.outstanding.pop(n, None)
                        if msg is not None:
                            self._durable[n] = msg
                    self._acknowledge()
        except (EOFError, OSError):
            pass
        except Exception:  # noqa: BLE001 - what it held is handed on below
            log.exception("relay: reading the acknowledgements of worker %d failed", link.index)
        with self._lock:
            link.writable = False
            left = list(link.outstanding.items())
            link.outstanding.clear()
            if self.links.get(link.index) is link:
                del self.links[link.index]
            if left:
                self._retry.extend(left)
                self.handed_on += len(left)
            self._changed.notify_all()
        link.acks.close()
        if self._accepting:
            log.warning("relay: worker %d is gone; %d messages it had not acknowledged go to the others",
                        link.index, len(left))


class PipeFeed:
    """A worker's messages from the relay, in place of an MQTT subscriber (`IngestService(feed=...)`)."""

    def __init__(self, in_fd: int, ack_fd: int, on_end=None):
        self.on_message = None  # set by the service: its `_receive`
        self.on_end = on_end  # called when the relay closes the pipe (stop) or is gone
        self.connected = threading.Event()
        self.taken_over = threading.Event()  # never: there is no session to take over
        self._in = Connection(in_fd, writable=False)
        self._acks = Connection(ack_fd, readable=False)
        self._reader = threading.Thread(target=self._read, name="relay-feed", daemon=True)

    def start(self) -> None:
        self.connected.set()
        self._reader.start()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def ack_all(self, acks: list[tuple[int, int, int]]) -> None:
        """Tell the relay these messages are durable (every QoS: the relay keeps each until then)."""
        if acks:
            self._acks.send_bytes(pickle.dumps([n for n, _, _ in acks], protocol=pickle.HIGHEST_PROTOCOL))

    def publish_then_ack(self, messages, acks) -> None:
        raise RuntimeError("a relay worker publishes nothing (the detector handoff runs with a shared subscription)")

    def stop(self, flush_s: float = 5.0) -> None:
        self.connected.clear()
        self._acks.close()

    def _read(self) -> None:
        try:
            while True:
                for msg in decode_rows(self._in.recv_bytes()):
                    self.on_message(msg)
        except (EOFError, OSError):
            pass
        except Exception:  # noqa: BLE001 - the relay hands the unacknowledged on when this worker ends
            log.exception("reading from the relay failed; stopping")
        self.connected.clear()
        if self.on_end is not None:
            self.on_end()


def leftover_spools(data_dir, count: int) -> list:
    """Spools no worker of this relay drains: one process's (``spool``) and those of workers past `count`.

    >>> import tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("spool", "spool-1", "spool-2", "spool-3", "spooler"): (d / name).mkdir()
    >>> [p.name for p in leftover_spools(d, 2)]
    ['spool', 'spool-3']
    """
    found = []
    for path in sorted(Path(data_dir).glob("spool*")):
        name = path.name
        if path.is_dir() and (name == "spool" or (name[6:].isdigit() and name.startswith("spool-")
                                                  and int(name[6:]) > count)):
            found.append(path)
    return found


def drain_spools(spools: list, client, store_dead, stop: threading.Event) -> None:
    """Write the batches of `spools` (`ingest.spool.Spool`) to InfluxDB through `client`, oldest first, until
    each is empty or `stop`; they were acknowledged when they were spooled. InfluxDB down: tried again with
    backoff; lines it refuses for good go to `store_dead`."""
    from ingest.writer import DurableWriter

    for spool in spools:
        if not len(spool):
            continue
        log.info("draining %d batches an earlier run left in %s", len(spool), spool.directory)
        done = threading.Event()
        writer = DurableWriter(client, spool, store_dead, done)
        drainer = threading.Thread(target=writer.drain_forever, name="leftover-drain", daemon=True)
        drainer.start()
        while len(spool) and not stop.wait(0.5):
            pass
        done.set()
        drainer.join(client.timeout + 5)
        spool.close()  # drained (or stopping): a later run may use it
