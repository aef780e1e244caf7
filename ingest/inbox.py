"""The hand-over from paho's network thread to the pipeline thread, bounded in bytes.

MQTT 5's receive maximum bounds the unacknowledged QoS 1 messages, but not
their size, and QoS 0 messages are outside flow control altogether. So the
inbox counts bytes: when it holds ``max_bytes``, `put` blocks paho's network
thread, which stops reading the socket, and TCP pushes back on the broker --
for every QoS. A message larger than the bound is let in alone (when the inbox
is empty), so nothing deadlocks.

The pipeline takes what has arrived in one go (`get_many`), and each side
wakes the other only when it is waiting: per message, one append under a
lock, without a notification the other thread does not need.

>>> box = Inbox(max_bytes=1000)
>>> box.put("a", 600), box.put("b", 10), box.bytes
(True, True, 610)
>>> box.get(0.1), box.bytes
('a', 10)
>>> box.put("c", 5), box.get_many(0.1, 10), box.get_many(0, 10)
(True, ['b', 'c'], [])
>>> box.put("x", 300), box.put("y", 300), box.put("z", 300), box.get_many(0, 10, most_bytes=700), box.bytes
(True, True, True, ['x', 'y'], 300)
>>> box.get_many(0, 10, most_bytes=100)  # the first item whatever its size
['z']
>>> box.put("d", 1); box.close(); box.get(0.1), box.get(0.1) is CLOSED, box.put("e", 1)
True
('d', True, False)
"""

from __future__ import annotations

import collections
import threading
import time

CLOSED = object()  # what `get` returns once the inbox is closed and empty


class Inbox:
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._getters = 0  # threads waiting in `get_many` for an item
        self._putters = 0  # threads waiting in `put` for room

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item, size: int) -> bool:
        """Queue `item`, waiting for room; False (not queued) once the inbox is closed."""
        with self._lock:
            while self._items and self.bytes + size > self.max_bytes and not self._closed:
                self._putters += 1
                try:
                    self._cond.wait()
                finally:
                    self._putters -= 1
            if self._closed:
                return False
            self._items.append((item, size))
            self.bytes += size
            if self._getters:
                self._cond.notify_all()
            return True

    def get_many(self, timeout: float, most: int, most_bytes: int | None = None):
        """Up to `most` of the oldest items, in order, and no more than `most_bytes` of them but for the first
        (what the caller holds outside the bound stays small); [] after `timeout` seconds without one;
        `CLOSED` when closed and empty."""
        with self._lock:
            if not self._items:
                deadline = time.monotonic() + timeout
                while not self._items:
                    if self._closed:
                        return CLOSED
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return []
                    self._getters += 1
                    try:
                        self._cond.wait(left)
                    finally:
                        self._getters -= 1
            items = self._items
            limit = self.max_bytes if most_bytes is None else most_bytes  # the inbox never holds more
            taken = [items.popleft()]
            held = taken[0][1]
            while items and len(taken) < most and held + items[0][1] <= limit:
                taken.append(items.popleft())
                held += taken[-1][1]
            self.bytes -= held
            if self._putters:
                self._cond.notify_all()
            return [item for item, _ in taken]

    def get(self, timeout: float):
        """The oldest item; None after `timeout` seconds without one; `CLOSED` when closed and empty."""
        items = self.get_many(timeout, 1)
        return items if items is CLOSED else (items[0] if items else None)

    def close(self) -> None:
        """Refuse further items and wake every waiter; queued items can still be taken."""
        with self._lock:
            self._closed = True
            self._cond.notify_all()
