"""What devices can make the detector engine hold: which devices to drop, which metrics to track.

The engine keeps one `DeviceState` per device. Devices silent for the idle
period leave when a window closes (`silent`), unless a window still open
counts them; past ``max_devices`` the longest silent leave at once
(`longest_silent`), open windows or not. A device's telemetry detector
tracks the first ``max_metrics`` metric names it sent (`tracked`); devices
sending the same names share one frozen set.

>>> from detectors.fleet import DeviceState
>>> table = {"a": DeviceState(("", "", ""), 5), "b": DeviceState(("", "", ""), 9)}
>>> silent(table, {1: {"b"}}, before_ms=10), longest_silent(table, 1)
(['a'], ['a'])
"""

from __future__ import annotations

import heapq
from typing import Mapping

from detectors.fleet import DeviceState

MAX_NAME_SETS = 10_000


def silent(devices: Mapping[str, DeviceState], active: Mapping[int, set], before_ms: int) -> list[str]:
    """Devices last seen before `before_ms` that no open window counts."""
    busy = set().union(*active.values()) if active else set()
    return [d for d, st in devices.items() if st.last_seen_ms < before_ms and not st.pending and d not in busy]


def longest_silent(devices: Mapping[str, DeviceState], count: int) -> list[str]:
    return [d for d, _ in heapq.nsmallest(count, devices.items(), key=lambda kv: kv[1].last_seen_ms)]


def tracked(st: DeviceState, metrics: Mapping[str, float], max_metrics: int, shared: dict) -> dict:
    """The reading's metrics the device's detector tracks (registering new names while there is room)."""
    names = st.metrics
    if names.issuperset(metrics):
        return dict(metrics)
    room = max_metrics - len(names)
    if room > 0:
        names = names | frozenset([m for m in metrics if m not in names][:room])
        st.metrics = names = shared.setdefault(names, names) if len(shared) < MAX_NAME_SETS else names
    return {k: v for k, v in metrics.items() if k in names}
