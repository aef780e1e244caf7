"""JSON payloads of the device contract (DESIGN §2), written by hand for speed."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Sequence

from simulators.models import DeviceModel

TS_STYLES = ("seconds", "millis", "rfc3339")


def format_ts(ts_ms: int, style: str) -> str:
    """The ``ts`` value as a JSON fragment: epoch seconds, epoch ms or RFC 3339.

    >>> format_ts(1764000000123, "seconds"), format_ts(1764000000123, "millis")
    ('1764000000.123', '1764000000123')
    >>> format_ts(1764000000123, "rfc3339")
    '"2025-11-24T16:00:00.123Z"'
    """
    if style == "seconds":
        return f"{ts_ms // 1000}.{ts_ms % 1000:03d}"
    if style == "millis":
        return str(ts_ms)
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc)
    return '"' + moment.strftime("%Y-%m-%dT%H:%M:%S.") + f'{ts_ms % 1000:03d}Z"'


class TelemetryEncoder:
    """Telemetry objects of one model: ``{"ts": T, "seq": N, "metrics": {...}}``.

    >>> from simulators.models import MODELS
    >>> enc = TelemetryEncoder(MODELS["GW-10"])
    >>> enc.encode("12.5", 7, [10.04, 40.0, -70.2, 45.0], None)
    '{"ts":12.5,"seq":7,"metrics":{"cpu_pct":10.0,"mem_pct":40.0,"rssi_dbm":-70,"board_temp_c":45.0}}'
    """

    def __init__(self, model: DeviceModel):
        parts = [f'"{m.name}":%.{m.decimals}f' for m in model.metrics]
        self.template = '{"ts":%s,"seq":%d,"metrics":{' + ",".join(parts)
        self.boolean = model.boolean_metric

    def encode(self, ts: str, seq: int, values: Sequence[float], flag: bool | None) -> str:
        text = self.template % (ts, seq, *values)
        if self.boolean and flag is not None:
            text += f',"{self.boolean}":{"true" if flag else "false"}'
        return text + "}}"


def encode_log(ts: str, seq: int, level: str, component: str, code: str, msg: str) -> str:
    """A log object.

    >>> encode_log("1.0", 3, "ERROR", "motor", "E214", 'phase "B"')
    '{"ts":1.0,"seq":3,"level":"ERROR","component":"motor","code":"E214","msg":"phase \\\\"B\\\\""}'
    """
    return (f'{{"ts":{ts},"seq":{seq},"level":"{level}","component":"{component}",'
            f'"code":"{code}","msg":{json.dumps(msg)}}}')


def encode_event(ts: str, seq: int, type_: str, code: str, severity: str,
                 detail: Sequence[tuple[str, object]]) -> str:
    """An event object.

    >>> encode_event("1.0", 1, "fault", "E214", "major", [("component", "motor")])
    '{"ts":1.0,"seq":1,"type":"fault","code":"E214","severity":"major","detail":{"component":"motor"}}'
    """
    detail_json = json.dumps(dict(detail), separators=(",", ":"))
    return (f'{{"ts":{ts},"seq":{seq},"type":"{type_}","code":"{code}",'
            f'"severity":"{severity}","detail":{detail_json}}}')


def encode_meta(model: str, firmware: str, site: str, hw_rev: str, customer: str, tier: str) -> bytes:
    """The retained meta object.

    >>> encode_meta("PX-200", "2.1.0", "sh-03", "B", "acme", "gold")[:40]
    b'{"model":"PX-200","firmware":"2.1.0","si'
    """
    return json.dumps({"model": model, "firmware": firmware, "site": site, "hw_rev": hw_rev,
                       "customer": customer, "tier": tier}, separators=(",", ":")).encode()


def batch(objects: Sequence[str]) -> bytes:
    """One object as is, several as a JSON array (a batch).

    >>> batch(['{"a":1}']), batch(['{"a":1}', '{"a":2}'])
    (b'{"a":1}', b'[{"a":1},{"a":2}]')
    """
    if len(objects) == 1:
        return objects[0].encode()
    return ("[" + ",".join(objects) + "]").encode()
