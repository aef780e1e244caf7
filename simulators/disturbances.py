"""Disturbances: devices going offline, message storms, malformed payloads, clock skew.

Offline devices get a ticket each; the others describe what a perfect ingest
does (dead letters, skew counts, no loss) instead of tickets.
"""

from __future__ import annotations

import json
import random

from simulators.models import MODELS
from simulators.plan import LogAction, Plan, RawAction, StatusAction, TelemetryAction, Window
from simulators.scenario import ClockSkew, Malformed, MessageStorm, Offline, Scenario
from simulators.timespan import parse_span
from simulators.truth import ExpectedTicket, Incident, Occurrence

HOUR_MS = 3_600_000


def plan_offline(spec: Offline, iid: str, plan: Plan, start_ms: int, end_ms: int,
                 scenario: Scenario | None = None) -> Incident:
    rng = plan.rng(iid)
    free = [dp for dp in plan.devices.values() if dp.device.device not in plan.reserved]
    by_site: dict[str, list] = {}
    for dp in free:
        by_site.setdefault(dp.device.site, []).append(dp)
    if spec.site and spec.site not in by_site:
        raise ValueError(f"no free device at site {spec.site!r}")
    roomy = sorted(s for s in by_site if len(by_site[s]) >= spec.count) or sorted(by_site)
    if not roomy:
        raise ValueError("no device left to take offline")
    site = spec.site or rng.choice(roomy)
    chosen = rng.sample(by_site[site], min(spec.count, len(by_site[site])))
    chosen.sort(key=lambda dp: dp.index)
    returns = end_ms < plan.end_ms
    for dp in chosen:
        plan.reserved.add(dp.device.device)
        dp.actions.append(StatusAction(start_ms, online=False, will=spec.via == "will"))
        dp.silent.append(Window(start_ms, end_ms))
        if returns:
            dp.actions.append(StatusAction(end_ms, online=True))
    devices = tuple(dp.device.device for dp in chosen)
    occurrences = [Occurrence(d, start_ms, "status", "offline", "", "") for d in devices]
    occurrences += [Occurrence(d, end_ms, "status", "online", "", "") for d in devices if returns]
    return Incident(
        id=iid, kind=spec.kind, start_ms=start_ms, end_ms=end_ms, scope="device" if len(devices) == 1 else "cohort",
        device=devices[0] if len(devices) == 1 else "", cohort={} if len(devices) == 1 else {"site": site},
        attribution="" if len(devices) == 1 else f"site={site}", fault_codes=("offline",), affected_devices=devices,
        tickets=tuple(ExpectedTicket("device", d, "offline", "major", start_ms) for d in devices),
        expectations={"status": "offline", "via": spec.via, "back_online_ms": end_ms if returns else None,
                      "telemetry_stops_ms": start_ms},
        occurrences=tuple(occurrences),
        description=f"{len(devices)} device(s) at {site} go offline ({'last will' if spec.via == 'will' else 'explicit status'})"
                    + ("" if not returns else " and come back"))


def plan_storm(spec: MessageStorm, iid: str, plan: Plan, start_ms: int, end_ms: int,
               scenario: Scenario | None = None) -> Incident:
    dp = plan.pick_device(iid, spec.model, spec.device)
    device = dp.device.device
    length_ms = int(parse_span(spec.length) * 1000)
    stop = min(start_ms + length_ms, plan.end_ms)
    count = max(1, int(spec.rate_per_s * (stop - start_ms) / 1000))
    gap = (stop - start_ms) / count
    for k in range(count):
        ts = start_ms + int(k * gap)
        if spec.topic == "logs":
            dp.actions.append(LogAction(ts, "WARN", "sensor-bus", "W777", f"i2c bus retry {k % 8 + 1}/8 on channel 2"))
        else:
            dp.actions.append(TelemetryAction(ts))
    return Incident(
        id=iid, kind=spec.kind, start_ms=start_ms, end_ms=stop, scope="device", device=device,
        affected_devices=(device,), root_cause_markers=("i2c bus retry",) if spec.topic == "logs" else (),
        expectations={"topic": spec.topic, "messages": count, "rate_per_s": spec.rate_per_s,
                      "dead_letters": 0, "lost": 0},
        description=f"{device} bursts {count} {spec.topic} messages at {spec.rate_per_s:g}/s; "
                    "all are stored, none lost, no fault ticket")


def plan_malformed(spec: Malformed, iid: str, plan: Plan, start_ms: int, end_ms: int,
                   scenario: Scenario | None = None) -> Incident:
    rng = plan.rng(iid)
    per_hour = 0.0
    devices = list(plan.devices.values())
    for dp in devices:
        model = MODELS[dp.device.model]
        chatter = model.chatter_per_hour * (scenario.chatter_scale if scenario else 1.0)
        interval = scenario.telemetry.interval_s * scenario.telemetry.batch if scenario else 60.0
        per_hour += 3600.0 / interval + chatter
    count = max(1, round(spec.share * per_hour * (end_ms - start_ms) / HOUR_MS))
    by_reason: dict[str, int] = {}
    by_device: dict[str, int] = {}
    for _ in range(count):
        dp = rng.choice(devices)
        reason = rng.choice(spec.kinds)
        ts = rng.randrange(start_ms, end_ms)
        while dp.is_silent(ts):  # an offline device sends nothing, corrupt or not
            dp, ts = rng.choice(devices), rng.randrange(start_ms, end_ms)
        subtopic, payload = corrupt_payload(reason, dp.device.device, ts, rng)
        dp.actions.append(RawAction(ts, subtopic, payload, reason))
        by_reason[reason] = by_reason.get(reason, 0) + 1
        by_device[dp.device.device] = by_device.get(dp.device.device, 0) + 1
    return Incident(
        id=iid, kind=spec.kind, start_ms=start_ms, end_ms=end_ms, scope="fleet",
        affected_devices=tuple(sorted(by_device)),
        expectations={"dead_letters": count, "by_reason": dict(sorted(by_reason.items())),
                      "by_device": dict(sorted(by_device.items()))},
        description=f"{count} corrupt payloads; each belongs in the dead-letter store, none stops ingest")


def corrupt_payload(reason: str, device: str, ts_ms: int, rng: random.Random) -> tuple[str, bytes]:
    """A corrupt message of the given kind: its topic below the prefix, and its payload.

    >>> corrupt_payload("nan", "px200-0001", 1_000, random.Random(0))
    ('px200-0001/telemetry', b'{"ts":1.0,"metrics":{"temp_c":NaN}}')
    >>> corrupt_payload("bad-utf8", "d", 0, random.Random(0))[1][-5:]
    b'\\xff\\xfe\\xfd"}'
    """
    ts = ts_ms / 1000
    good = json.dumps({"ts": ts, "level": "INFO", "component": "controller", "code": "I100",
                       "msg": "pump cycle complete in 42 s"}, separators=(",", ":")).encode()
    if reason == "truncated":
        return f"{device}/logs", good[:rng.randrange(5, len(good) - 2)]
    if reason == "wrong-type":
        bad = rng.choice([{"ts": ts, "metrics": {"temp_c": "hot"}}, {"ts": ts, "metrics": [1, 2, 3]},
                          {"ts": "yesterday", "metrics": {"temp_c": 40.0}}])
        return f"{device}/telemetry", json.dumps(bad, separators=(",", ":")).encode()
    if reason == "nan":
        return f"{device}/telemetry", f'{{"ts":{ts},"metrics":{{"temp_c":NaN}}}}'.encode()
    if reason == "bad-utf8":
        return f"{device}/logs", f'{{"ts":{ts},"level":"WARN","msg":"'.encode() + b'\xff\xfe\xfd"}'
    if reason == "wrong-topic":
        return rng.choice([f"{device}/telemetri", f"{device}/logs/extra", f"{device}/firmware"]), good
    return f"{device}/telemetry", b"temp_c=41.2 vibration_rms=0.12"


def plan_clock_skew(spec: ClockSkew, iid: str, plan: Plan, start_ms: int, end_ms: int,
                    scenario: Scenario | None = None) -> Incident:
    dp = plan.pick_device(iid, spec.model, spec.device)
    offset_ms = int(parse_span(spec.offset) * 1000)
    dp.skew.append(Window(start_ms, end_ms, offset_ms=offset_ms))
    device = dp.device.device
    return Incident(
        id=iid, kind=spec.kind, start_ms=start_ms, end_ms=end_ms, scope="device", device=device,
        affected_devices=(device,),
        expectations={"offset_s": offset_ms / 1000, "direction": "future" if offset_ms > 0 else "past",
                      "skewed_messages": None},
        description=f"{device}'s clock is off by {offset_ms / 1000:+g} s; messages with a timestamp "
                    "beyond the allowed skew are stored at receipt time and counted")
