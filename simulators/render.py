"""Rendering one device: its plan plus routine telemetry and chatter, as MQTT messages.

A renderer is fed consecutive spans of simulated time and appends finished
messages ``(ts_ms, device index, n, topic, payload, retain, will)``; within a
device and topic, ``seq`` follows time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter

import numpy as np

from simulators.models import MODELS
from simulators.payloads import TelemetryEncoder, batch, encode_event, encode_log, encode_meta, format_ts
from simulators.plan import (DevicePlan, EventAction, FirmwareAction, LogAction, RawAction, StatusAction,
                             TelemetryAction)
from simulators.signals import DeviceSignals

TOPICS = ("telemetry", "logs", "events", "meta", "status")
HOUR_MS = 3_600_000
TELEMETRY, CHATTER, ACTION, STATUS, META = range(5)  # kinds of pending output
_ORDER = itemgetter(0, 1)


@dataclass(frozen=True, slots=True)
class RenderConfig:
    seed: int
    start_ms: int
    end_ms: int
    prefix: str
    topics: frozenset[str]
    ts_style: str  # seconds | millis | rfc3339 | mixed
    interval_ms: int
    batch: int
    chatter_scale: float


class DeviceRenderer:
    def __init__(self, dp: DevicePlan, config: RenderConfig):
        self.dp = dp
        self.config = config
        device = dp.device.device
        self.model = MODELS[dp.device.model]
        self.topic = {t: f"{config.prefix}/{device}/{t}" for t in TOPICS}
        self.seq = dict.fromkeys(TOPICS, 0)
        self.firmware = dp.device.firmware
        styles = ("seconds", "millis", "rfc3339")
        self.ts_style = styles[dp.index % 3] if config.ts_style == "mixed" else config.ts_style
        self.signals = DeviceSignals(self.model, np.random.default_rng([config.seed, dp.index, 0]), config.start_ms)
        self.noise_rng = np.random.default_rng([config.seed, dp.index, 1])
        self.chatter_rng = random.Random(f"{config.seed}:chatter:{device}")
        self.phase_ms = random.Random(f"{config.seed}:phase:{device}").randrange(config.interval_ms)
        self.encoder = TelemetryEncoder(self.model)
        self.next_action = 0
        self.next_batch = 0
        self.next_chatter: float | None = None
        self.chatter_weights = list(accumulate(c.weight for c in self.model.chatter))
        self.n = 0

    def render(self, a: int, b: int, out: list) -> None:
        """Append the messages of ``[a, b)`` to ``out``."""
        pending: list[tuple] = []
        if a == self.config.start_ms:
            pending.append((a, 0, STATUS, (True, False)))
            pending.append((a, 1, META, None))
        self._actions(b, pending)
        if "telemetry" in self.config.topics:
            self._telemetry(b, pending)
        if "logs" in self.config.topics:
            self._chatter(a, b, pending)
        pending.sort(key=_ORDER)
        for ts, _, kind, data in pending:
            if kind == TELEMETRY:
                self._emit_telemetry(ts, data, out)
            elif kind == CHATTER:
                self._log(out, ts, *data)
            elif kind == STATUS:
                self._put(out, ts, "status", b"online" if data[0] else b"offline", True, data[1])
            elif kind == META:
                self._meta(out, ts)
            else:
                self._action(out, data)

    def _actions(self, b: int, pending: list) -> None:
        actions = self.dp.actions
        while self.next_action < len(actions) and actions[self.next_action].ts_ms < b:
            action = actions[self.next_action]
            pending.append((action.ts_ms, 2 + self.next_action, ACTION, action))
            self.next_action += 1

    def _telemetry(self, b: int, pending: list) -> None:
        """Queue the batches published before ``b``; each goes out with its last sample.

        The batch cut by the end of the run goes out at the end; samples taken
        while the device is offline, and batches due while it is, are lost.
        """
        step, size, end = self.config.interval_ms, self.config.batch, self.config.end_ms
        first = self.config.start_ms + self.phase_ms
        if b >= end:
            last = (end - 1 - first) // (step * size)
        else:
            last = ((b - 1 - first) // step - (size - 1)) // size
        if last < self.next_batch:
            return
        k = np.arange(self.next_batch * size, (last + 1) * size, dtype=np.int64)
        self.next_batch = last + 1
        times = first + k * step
        due = np.minimum(first + ((k // size) * size + size - 1) * step, end - 1)
        keep = times < end
        if self.dp.silent:
            keep &= np.array([not (self.dp.is_silent(int(t)) or self.dp.is_silent(int(d)))
                              for t, d in zip(times, due)], dtype=bool)
        times, due = times[keep], due[keep]
        if len(times) == 0:
            return
        values, load = self.signals.sample(times, self.noise_rng, self.dp.ramps, self.dp.stuck)
        t_list, rows, due_list = times.tolist(), values.tolist(), due.tolist()
        flags = (load > 0.2).tolist() if self.model.boolean_metric else [None] * len(t_list)
        i = 0
        while i < len(t_list):
            j = i + 1
            while j < len(t_list) and due_list[j] == due_list[i]:
                j += 1
            pending.append((due_list[i], 1 << 40, TELEMETRY, (t_list[i:j], rows[i:j], flags[i:j])))
            i = j

    def _chatter(self, a: int, b: int, pending: list) -> None:
        rate_per_ms = self.model.chatter_per_hour * self.config.chatter_scale / HOUR_MS
        if rate_per_ms <= 0:
            return
        rng, chatter, weights = self.chatter_rng, self.model.chatter, self.chatter_weights
        if self.next_chatter is None:
            self.next_chatter = a + rng.expovariate(rate_per_ms)
        end_ms, silent = self.config.end_ms, self.dp.silent
        while self.next_chatter < b:
            ts = int(self.next_chatter)
            self.next_chatter += rng.expovariate(rate_per_ms)
            spec = rng.choices(chatter, cum_weights=weights)[0]
            value = rng.uniform(spec.lo, spec.hi)
            shown = f"{value:.0f}" if spec.hi - spec.lo >= 20 else f"{value:.2f}"
            if ts < end_ms and not (silent and self.dp.is_silent(ts)):
                pending.append((ts, 1 << 41, CHATTER,
                                (spec.level, spec.component, spec.code, spec.template.format(value=shown))))

    def _ts(self, ts_ms: int) -> str:
        if self.dp.skew:
            ts_ms += self.dp.skew_ms(ts_ms)
        if self.ts_style == "seconds":
            return "%d.%03d" % divmod(ts_ms, 1000)
        return format_ts(ts_ms, self.ts_style)

    def _next_seq(self, topic: str) -> int:
        self.seq[topic] += 1
        return self.seq[topic]

    def _put(self, out: list, ts: int, topic: str, payload: bytes, retain: bool = False, will: bool = False):
        if topic in self.config.topics:
            self.n += 1
            out.append((ts, self.dp.index, self.n, self.topic[topic], payload, retain, will))

    def _emit_telemetry(self, ts: int, data: tuple, out: list) -> None:
        encode, stamp, seq = self.encoder.encode, self._ts, self.seq
        objs = []
        for t, row, flag in zip(*data):
            seq["telemetry"] += 1
            objs.append(encode(stamp(t), seq["telemetry"], row, flag))
        self._put(out, ts, "telemetry", batch(objs))

    def _action(self, out: list, action) -> None:
        ts = action.ts_ms
        if isinstance(action, LogAction):
            self._log(out, ts, action.level, action.component, action.code, action.msg)
        elif isinstance(action, EventAction):
            self._event(out, action)
        elif isinstance(action, FirmwareAction):
            self._log(out, ts, "INFO", "system", "I010", f"firmware updated to {action.firmware}")
            self._event(out, EventAction(ts, "firmware_update", "", "minor",
                                         (("from", action.previous), ("to", action.firmware))))
            self.firmware = action.firmware
            self._meta(out, ts)
        elif isinstance(action, StatusAction):
            self._put(out, ts, "status", b"online" if action.online else b"offline", True, action.will)
            if action.online:
                self._meta(out, ts)
        elif isinstance(action, RawAction):
            last = action.subtopic.rsplit("/", 1)[-1]
            if last in self.config.topics or (last not in TOPICS and "telemetry" in self.config.topics):
                self.n += 1
                out.append((ts, self.dp.index, self.n, f"{self.config.prefix}/{action.subtopic}",
                            action.payload, False, False))
        elif isinstance(action, TelemetryAction) and "telemetry" in self.config.topics:
            times = np.array([ts], dtype=np.int64)
            values, load = self.signals.sample(times, self.noise_rng, self.dp.ramps, self.dp.stuck)
            flag = bool(load[0] > 0.2) if self.model.boolean_metric else None
            text = self.encoder.encode(self._ts(ts), self._next_seq("telemetry"), values[0].tolist(), flag)
            self._put(out, ts, "telemetry", text.encode())

    def _log(self, out: list, ts: int, level: str, component: str, code: str, msg: str) -> None:
        if "logs" in self.config.topics:
            text = encode_log(self._ts(ts), self._next_seq("logs"), level, component, code, msg)
            self._put(out, ts, "logs", text.encode())

    def _event(self, out: list, e: EventAction) -> None:
        if "events" in self.config.topics:
            text = encode_event(self._ts(e.ts_ms), self._next_seq("events"), e.type, e.code, e.severity, e.detail)
            self._put(out, e.ts_ms, "events", text.encode())

    def _meta(self, out: list, ts: int) -> None:
        d = self.dp.device
        self._put(out, ts, "meta", encode_meta(d.model, self.firmware, d.site, d.hw_rev, d.customer, d.tier), True)
