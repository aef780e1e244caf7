"""Faults: when they happen (Poisson processes) and what a device sends for one."""

from __future__ import annotations

import random
from typing import Sequence

from simulators.models import DeviceModel, FaultSpec
from simulators.plan import Action, EventAction, LogAction
from simulators.truth import Occurrence

DAY_MS = 86_400_000


def poisson_times(rng: random.Random, rate_per_day: float, start_ms: int, end_ms: int) -> list[int]:
    """Event times of a Poisson process with ``rate_per_day`` in ``[start_ms, end_ms)``.

    >>> times = poisson_times(random.Random(1), 24.0, 0, 10 * DAY_MS)
    >>> 200 < len(times) < 280, times == sorted(times), poisson_times(random.Random(1), 0.0, 0, DAY_MS)
    (True, True, [])
    """
    if rate_per_day <= 0 or end_ms <= start_ms:
        return []
    mean_gap_ms = DAY_MS / rate_per_day
    times: list[int] = []
    t = float(start_ms)
    while True:
        t += rng.expovariate(1.0) * mean_gap_ms
        if t >= end_ms:
            return times
        times.append(int(t))


def choose_fault(model: DeviceModel, rng: random.Random) -> FaultSpec:
    """A fault of ``model``, drawn by the catalogue weights."""
    return rng.choices(model.faults, weights=[f.weight for f in model.faults])[0]


def fault_actions(device: str, ts_ms: int, spec: FaultSpec, rng: random.Random, end_ms: int,
                  message: str = "", clear: bool | None = None,
                  duration_ms: int | None = None) -> tuple[list[Action], list[Occurrence]]:
    """The messages of one fault: root-cause line, ``fault`` event, follow-ups and the clear.

    ``message`` replaces the catalogue's root-cause line; ``clear`` and
    ``duration_ms`` fix what is otherwise drawn from the fault's profile.

    >>> from simulators.models import MODELS
    >>> spec = MODELS["PX-200"].fault("E214")
    >>> actions, occ = fault_actions("px200-0001", 1000, spec, random.Random(0), 10**9,
    ...                              clear=True, duration_ms=60_000)
    >>> [(type(a).__name__, a.ts_ms) for a in actions][:2], occ[0].text
    ([('LogAction', 1000), ('EventAction', 1000)], 'overcurrent on phase B')
    >>> [(a.type, a.ts_ms) for a in actions if type(a).__name__ == "EventAction"][-1]
    ('fault_cleared', 61000)
    """
    text = message or spec.message
    actions: list[Action] = [
        LogAction(ts_ms, spec.level, spec.component, spec.code, text),
        EventAction(ts_ms, "fault", spec.code, spec.severity, (("component", spec.component),)),
    ]
    occurrences = [Occurrence(device, ts_ms, "logs", spec.level, spec.code, text),
                   Occurrence(device, ts_ms, "events", "fault", spec.code, "")]
    if spec.followup:
        actions.append(LogAction(ts_ms + rng.randint(2_000, 20_000), "WARN", spec.component, spec.code,
                                 spec.followup))
    if spec.reboot:
        boot = ts_ms + rng.randint(20_000, 90_000)
        actions += [EventAction(boot, "reboot", spec.code, "minor", (("reason", spec.code),)),
                    LogAction(boot, "INFO", "system", "I001", f"boot complete after {spec.code}")]
    if clear is None:
        clear = rng.random() < spec.clear_probability
    if clear:
        if duration_ms is None:
            duration_ms = max(30_000, int(rng.expovariate(1.0) * spec.mean_duration_s * 1000))
        cleared = ts_ms + duration_ms
        if cleared < end_ms:
            actions += [EventAction(cleared, "fault_cleared", spec.code, spec.severity,
                                    (("duration_s", round(duration_ms / 1000)),)),
                        LogAction(cleared, "INFO", spec.component, spec.code, f"{spec.code} cleared")]
            occurrences.append(Occurrence(device, cleared, "events", "fault_cleared", spec.code, ""))
    return actions, occurrences


def excess_faults(dp, rng: random.Random, rate_per_day: float, start_ms: int, end_ms: int, spec: FaultSpec,
                  plan_end_ms: int) -> list[Occurrence]:
    """An incident's extra faults on one device plan (``dp.actions`` grows); their occurrences."""
    occurrences: list[Occurrence] = []
    for ts in poisson_times(rng, rate_per_day, start_ms, end_ms):
        actions, occ = fault_actions(dp.device.device, ts, spec, rng, plan_end_ms)
        dp.actions += actions
        occurrences += occ
    return occurrences


def background_faults(device: str, model: DeviceModel, rng: random.Random, start_ms: int, end_ms: int,
                      scale: float, excluded: Sequence[tuple[int, int]] = ()) -> tuple[list[Action], int]:
    """Faults at the model's base rate (not part of any incident); returns actions and count."""
    actions: list[Action] = []
    count = 0
    for ts in poisson_times(rng, model.fault_rate_per_day * scale, start_ms, end_ms):
        spec = choose_fault(model, rng)
        if any(a <= ts < b for a, b in excluded):
            continue
        new, _ = fault_actions(device, ts, spec, rng, end_ms)
        actions += new
        count += 1
    return actions, count


MAINTENANCE = ("inspection", "filter change", "firmware check", "calibration")


def maintenance_visits(rng: random.Random, start_ms: int, end_ms: int,
                       rate_per_day: float = 1 / 45) -> list[Action]:
    """Routine maintenance: a ``maintenance`` event and an INFO line, about every six weeks.

    >>> visits = maintenance_visits(random.Random(3), 0, 400 * DAY_MS)
    >>> visits[0].type, visits[1].level, len(visits) % 2
    ('maintenance', 'INFO', 0)
    """
    actions: list[Action] = []
    for ts in poisson_times(rng, rate_per_day, start_ms, end_ms):
        action = rng.choice(MAINTENANCE)
        actions += [EventAction(ts, "maintenance", "", "minor", (("action", action),)),
                    LogAction(ts, "INFO", "service", "I020", f"maintenance: {action} done")]
    return actions
