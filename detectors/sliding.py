"""Counts for the fault-rate detectors at a window close and at a look into the windows still open.

Sliding evaluation: the engine closes event-time windows (``window_s``) and
learns from them, but it also *looks* every ``step_s`` of event time at the
windows still open, so an excess is reported minutes after the evidence is
there instead of at the end of the hour. A look scores, it never learns;
its horizon of ``h`` windows ends at the look (the newest window only partly
elapsed). These functions compute what a close or a look sees from the
device table.

Late records: a record later than the oldest open window is counted in it
(see `detectors.engine`); what a look saw is re-evaluated by the next look
and by the close, so a late record still counts as long as its window is
open — the bounded re-evaluation horizon is the lateness allowance.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping

from detectors.fleet import DeviceState


def open_counts(st: DeviceState, oldest_open: int, newest: int) -> tuple[int, list[int]]:
    """A device's fault count in the newest window and in the older open ones (oldest first).

    >>> st = DeviceState(("PX-200", "2.1.0", "sh-01"), 0)
    >>> st.count(7, True, "E214", 0); st.count(8, True, "E214", 0); st.count(8, False, "E214", 0)
    >>> open_counts(st, 7, 8)
    (1, [1])
    """
    def count(w: int) -> int:
        slot = st.pending.get(w)
        return max(slot[0], slot[1]) if slot else 0

    return count(newest), [count(w) for w in range(oldest_open, newest)]


def cohort_counts(devices: Mapping[str, DeviceState], w: int, horizons: Iterable[int],
                  active: Mapping[int, set] | None = None, oldest_open: int | None = None) -> dict[int, dict]:
    """Per horizon ``h`` and cell: (active devices, devices with a fault) over windows ``w - h + 1 .. w``.

    At a close, windows up to ``w`` are closed and the device table says it
    all. At a look, ``active`` (window -> devices seen in it) and
    ``oldest_open`` add what the open windows hold so far.
    """
    seen_open: dict[str, int] = {}
    if active is not None and oldest_open is not None:
        for ow in range(oldest_open, w + 1):
            for device in active.get(ow, ()):
                seen_open[device] = ow
    counts: dict[int, dict] = {h: defaultdict(lambda: [0, 0]) for h in horizons}
    for device, st in devices.items():
        last_active = max(st.last_active_w, seen_open.get(device, st.last_active_w))
        last_fault = max(st.last_fault_w, max(st.pending)) if seen_open and st.pending else st.last_fault_w
        for h, c in counts.items():
            if last_active > w - h:
                slot = c[st.cell]
                slot[0] += 1
                slot[1] += last_fault > w - h
    return {h: {cell: tuple(v) for cell, v in c.items()} for h, c in counts.items()}
