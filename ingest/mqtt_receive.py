"""paho's client, receiving faster: the socket read in large chunks, PUBLISH parsed in one step.

paho-mqtt 2.2 reads every packet with at least three ``recv`` calls (the
type byte, each byte of the remaining length, the rest), waits in
``select`` before each packet, builds an MQTT 5 ``Properties`` object for
every PUBLISH (most carry none) and looks up per-topic callbacks for it.
For a subscriber draining a backlog that is most of its Python time.

`FastReceiveClient` changes three things and nothing else:

- the socket is wrapped in `BufferedSocket`, which reads up to 64 KiB at a
  time and serves paho's small reads from that buffer; its ``pending()``
  (the bytes buffered, which paho already asks a TLS socket for) keeps
  paho's loop from waiting in ``select`` while packets are buffered;
- ``loop_read`` handles up to `BURST` buffered packets per turn of paho's
  loop (then the loop's writes, PUBACKs and PINGREQs, go out);
- a QoS 0 or QoS 1 PUBLISH without properties, under manual
  acknowledgement, goes straight to ``on_publish_received(topic, payload,
  mid, qos, dup, retain)``; anything else (properties present, QoS 2, no
  such callback) takes paho's own path unchanged.

These override private methods of paho (``_create_socket``,
``_handle_publish``, ``_in_packet``); `compatible()` checks that the
installed paho is a 2.x release with them, and the subscriber uses plain
paho otherwise (paho-mqtt 2.1.0 and 2.2.0 pass the tests below).
Tested against the real broker in tests/ingest/test_mqtt_receive.py
(packets split at every byte, TLS, properties, reconnects).
"""

from __future__ import annotations

import struct
from typing import Callable

import paho.mqtt.client as paho
from paho.mqtt import __version__ as PAHO_VERSION

READ_SIZE = 65536
BURST = 1000  # packets handled per turn of paho's loop before it writes and checks keepalive
_H = struct.Struct("!H")


class BufferedSocket:
    """A socket (plain or TLS) whose ``recv`` serves from a buffer filled ``READ_SIZE`` bytes at a time."""

    __slots__ = ("sock", "_buf", "_pos")

    def __init__(self, sock):
        self.sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        pos = self._pos
        if pos >= len(self._buf):
            data = self.sock.recv(READ_SIZE)  # BlockingIOError, SSL errors and b"" (closed) reach paho as before
            if len(data) <= bufsize:
                self._buf, self._pos = b"", 0
                return data
            self._buf, pos = data, 0
        end = min(pos + bufsize, len(self._buf))
        self._pos = end
        return self._buf[pos:end]

    def buffered(self) -> int:
        """Bytes read from the socket and not handed out yet."""
        return len(self._buf) - self._pos

    def pending(self) -> int:
        inner = getattr(self.sock, "pending", None)
        return self.buffered() + (inner() if inner is not None else 0)

    def __getattr__(self, name):  # send, fileno, close, setblocking, do_handshake, ...: the socket's own
        return getattr(self.sock, name)


class FastReceiveClient(paho.Client):
    """paho's client with the receive path above; ``on_publish_received`` set turns the PUBLISH shortcut on."""

    on_publish_received: Callable[[bytes, bytes, int, int, bool, bool], None] | None = None

    def _create_socket(self):
        return BufferedSocket(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> paho.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        sock = self._sock
        burst = BURST
        while rc == paho.MQTTErrorCode.MQTT_ERR_SUCCESS and burst and isinstance(sock, BufferedSocket) \
                and sock.buffered() and sock is self._sock:
            rc = super().loop_read(1)
            burst -= 1
        return rc

    def _handle_publish(self) -> paho.MQTTErrorCode:
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        handler = self.on_publish_received
        if handler is None or qos > 1 or not self._manual_ack:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        (topic_len,) = _H.unpack_from(packet)
        pos = 2 + topic_len
        mid = 0
        if qos:
            (mid,) = _H.unpack_from(packet, pos)
            pos += 2
        if self._protocol == paho.MQTTv5:
            if packet[pos] != 0:  # properties present: paho parses them
                return super()._handle_publish()
            pos += 1
        elif topic_len == 0:
            return super()._handle_publish()  # paho's error for it
        view = memoryview(packet)  # paho's packet is a bytearray; the payload is handed on as bytes, as paho does
        handler(bytes(view[2:2 + topic_len]), bytes(view[pos:]), mid, qos, bool(header & 0x08), bool(header & 0x01))
        return paho.MQTTErrorCode.MQTT_ERR_SUCCESS


def compatible() -> bool:
    """Whether the installed paho is one `FastReceiveClient` was written against (2.x: tested with 2.1 and 2.2)
    and has what it overrides."""
    client = paho.Client
    return PAHO_VERSION.split(".")[0] == "2" \
        and all(callable(getattr(client, name, None)) for name in ("_create_socket", "_handle_publish", "loop_read",
                                                                   "_packet_read", "_sock_recv")) \
        and hasattr(paho.Client(paho.CallbackAPIVersion.VERSION2), "_in_packet")
