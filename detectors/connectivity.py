"""Connectivity: devices that go offline, by their last will, an explicit status, or silence.

Per device the detector learns the spacing of its telemetry (an
exponentially weighted mean and deviation of the gaps between readings). A
device is *offline* when it says so (``status offline``, which is also what
the broker publishes as its last will) or when its telemetry is overdue:
silent for longer than ``max(multiple x mean gap, mean + spread x deviation,
min_silence_s)`` of event time (event time moves with the rest of the fleet,
so silence is judged on the simulated clock in a replay as on the wall
clock live). A device that has sent fewer than ``min_gaps`` readings has no
learned interval and is judged by its status only.

Reports are `Anomaly` with detector ``connectivity`` and code ``offline``,
emitted as ``episode`` (the first report may fire an alert) and repeated
every check while the device stays offline, so the alert stays on; once the
device is back (``status online`` or any new reading) the reports stop and
the alert resolves after its quiet period. When at least ``site_min``
devices of one site are offline and went within ``site_window_s`` of each
other, a cohort report names the site (``site=sh-03``) and lists them: the
device alerts become children of the site's ticket.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

from detectors.anomaly import Anomaly

INF = float("inf")

DETECTOR, CODE = "connectivity", "offline"


@dataclass(slots=True)
class Link:
    """What the detector knows about one device's connection."""

    last_ms: int = 0  # last reading (event time)
    gap_ms: float = 0.0  # EW mean gap between readings
    gap_var: float = 0.0
    gaps: int = 0
    offline_since: int | None = None
    how: str = ""  # "status" | "silence"
    due_ms: float = INF  # silent past this, the device counts as offline


class Connectivity:
    def __init__(self, multiple: float = 5.0, spread: float = 6.0, min_silence_s: float = 180.0,
                 min_gaps: int = 5, site_min: int = 3, site_window_s: float = 900.0, halflife: float = 50.0):
        self.multiple = multiple
        self.spread = spread
        self.min_silence_s = min_silence_s
        self.min_gaps = min_gaps
        self.site_min = site_min
        self.site_window_s = site_window_s
        self.halflife = halflife
        self._rate = 1.0 - 0.5 ** (1.0 / halflife)  # the learning rate once the half-life is reached
        self.links: dict[str, Link] = {}
        self._offline: set[str] = set()
        self._bound = INF  # no online device is due before this (a lower bound)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._rate = 1.0 - 0.5 ** (1.0 / self.halflife)  # (derived: checkpoints from before it was kept lack it)

    def seen(self, device: str, ts_ms: int) -> None:
        """A reading from ``device``: learn its spacing; it is online again."""
        link = self.links.get(device)
        if link is None:
            self.links[device] = Link(last_ms=ts_ms)
            return
        if ts_ms > link.last_ms:
            gap = ts_ms - link.last_ms
            if link.offline_since is None:  # a gap that spans an outage is not the device's rhythm
                a = 1.0 / (link.gaps + 1)
                if a < self._rate:
                    a = self._rate
                diff = gap - link.gap_ms
                link.gap_ms += a * diff
                link.gap_var = (1.0 - a) * (link.gap_var + a * diff * diff)
                link.gaps += 1
            link.last_ms = ts_ms
            limit = self.overdue_ms(link)
            link.due_ms = INF if limit is None else ts_ms + limit
        elif link.offline_since is None:
            return  # (this runs per reading: an online device's second reading of the same instant changes nothing)
        if link.offline_since is not None:
            link.offline_since, link.how = None, ""
            self._offline.discard(device)
        if link.due_ms < self._bound:
            self._bound = link.due_ms

    def forget(self, device: str) -> None:
        """Drop what is known of ``device`` (its state left memory; if it speaks again it starts afresh)."""
        self.links.pop(device, None)
        self._offline.discard(device)

    def status(self, device: str, ts_ms: int, online: bool) -> None:
        """A ``status`` message (or the broker's last will)."""
        link = self.links.setdefault(device, Link(last_ms=ts_ms))
        if online:
            link.offline_since, link.how = None, ""
            link.last_ms = max(link.last_ms, ts_ms)
            limit = self.overdue_ms(link)
            link.due_ms = INF if limit is None else link.last_ms + limit
            self._offline.discard(device)
            self._bound = min(self._bound, link.due_ms)
        elif link.offline_since is None:
            link.offline_since, link.how = ts_ms, "status"
            self._offline.add(device)

    def overdue_ms(self, link: Link) -> float | None:
        """How long a device may stay silent before it counts as offline (None: not learned yet)."""
        if link.gaps < self.min_gaps:
            return None
        return max(self.multiple * link.gap_ms, link.gap_ms + self.spread * math.sqrt(link.gap_var),
                   self.min_silence_s * 1000)

    def check(self, now_ms: int, cells: Mapping[str, tuple], step_s: float, at: int | None = None) -> list[Anomaly]:
        """Reports for every device offline at ``now_ms`` (event time), and for sites that went together.

        ``cells``: device -> cell (model, firmware, site, ...), read only for offline devices;
        ``at``: the time the reports carry (default ``now_ms``).
        """
        at = now_ms if at is None else at
        if now_ms > self._bound:  # someone may be overdue: look at every online device once
            bound = INF
            for device, link in self.links.items():
                if link.offline_since is not None:
                    continue
                if now_ms > link.due_ms:
                    link.offline_since, link.how = link.last_ms, "silence"
                    self._offline.add(device)
                elif link.due_ms < bound:
                    bound = link.due_ms
            self._bound = bound
        out: list[Anomaly] = []
        for device in sorted(self._offline):
            cell = cells.get(device)
            out.append(self._device(device, self.links[device], at, cell if cell else ("", "", ""), step_s))
        return out + self._sites(out, at, step_s)

    def _device(self, device: str, link: Link, now_ms: int, cell, step_s: float) -> Anomaly:
        minutes = (now_ms - link.offline_since) / 60_000
        if link.how == "status":
            text = f"{device} reported offline (status or last will) {minutes:.0f} min ago"
        else:
            text = (f"{device} has sent no telemetry for {minutes:.0f} min; it reports about every "
                    f"{link.gap_ms / 1000:.0f} s")
        return Anomaly(DETECTOR, "device", device, CODE, now_ms, link.offline_since, 2.0, minutes, 0.0, 1.0,
                       step_s, text, model=cell[0], firmware=cell[1], site=cell[2], emission="episode")

    def _sites(self, offline: list[Anomaly], now_ms: int, step_s: float) -> list[Anomaly]:
        by_site: dict[str, list[Anomaly]] = defaultdict(list)
        for a in offline:
            if a.site:
                by_site[a.site].append(a)
        out = []
        for site, members in sorted(by_site.items()):
            members.sort(key=lambda a: a.onset_ms)
            window = int(self.site_window_s * 1000)
            best: list[Anomaly] = []
            for i, first in enumerate(members):  # the largest group that went within the window
                group = [a for a in members[i:] if a.onset_ms - first.onset_ms <= window]
                if len(group) > len(best):
                    best = group
            if len(best) < self.site_min:
                continue
            devices = tuple(sorted(a.subject for a in best))
            text = (f"{len(devices)} devices at site {site} went offline within "
                    f"{(best[-1].onset_ms - best[0].onset_ms) / 60_000:.0f} min of each other: {', '.join(devices)}")
            out.append(Anomaly(DETECTOR, "cohort", f"site={site}", CODE, now_ms, best[0].onset_ms,
                               2.0, float(len(devices)), 0.0, 1.0, step_s, text,
                               attribution=f"site={site}", devices=devices, site=site, emission="episode"))
        return out
