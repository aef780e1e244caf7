"""The hand-over from paho's network thread to the pipeline thread, bounded in bytes.

MQTT 5's receive maximum bounds the unacknowledged QoS 1 messages, but not
their size, and QoS 0 messages are outside flow control altogether. So the
inbox counts bytes: when it holds ``max_bytes``, `put` blocks paho's network
thread, which stops reading the socket, and TCP pushes back on the broker --
for every QoS. A message larger than the bound is let in alone (when the inbox
is empty), so nothing deadlocks.

>>> box = Inbox(max_bytes=1000)
>>> box.put("a", 600), box.put("b", 10), box.bytes
(True, True, 610)
>>> box.get(0.1), box.bytes
('a', 10)
>>> box.close(); box.get(0.1), box.get(0.1) is CLOSED, box.put("c", 1)
('b', True, False)
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
        self._cond = threading.Condition()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item, size: int) -> bool:
        """Queue `item`, waiting for room; False (not queued) once the inbox is closed."""
        with self._cond:
            while self._items and self.bytes + size > self.max_bytes and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._items.append((item, size))
            self.bytes += size
            self._cond.notify_all()
            return True

    def get(self, timeout: float):
        """The oldest item; None after `timeout` seconds without one; `CLOSED` when closed and empty."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._items:
                if self._closed:
                    return CLOSED
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            item, size = self._items.popleft()
            self.bytes -= size
            self._cond.notify_all()
            return item

    def close(self) -> None:
        """Refuse further items and wake every waiter; queued items can still be taken."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
