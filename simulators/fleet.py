"""`Simulation`: a seeded fleet running a scenario, as MQTT messages and ground truth.

``messages()`` is a pure generator (no I/O, no wall clock): the same scenario,
device count, seed, duration and start give the same bytes. Restrict
``topics`` to generate only what a consumer needs (e.g. ``{"events", "logs"}``
for fault-rate detectors); faults, firmware updates and incidents do not
change with the restriction because every kind of output has its own random
stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Iterator

from simulators.planner import make_plan
from simulators.plan import Plan
from simulators.render import TOPICS, DeviceRenderer, RenderConfig
from simulators.roster import build_fleet
from simulators.scenario import Scenario, load_scenario
from simulators.timespan import parse_span
from simulators.truth import FleetDevice, GroundTruth


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One MQTT message of the simulation.

    ``ts_ms`` is the simulated time of publication (the payload's ``ts`` may
    differ under clock skew). ``will`` marks a status message the broker
    should deliver as the device's last will (the publisher drops that
    device's connection instead of publishing it).
    """

    ts_ms: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    will: bool = False


class Simulation:
    def __init__(self, scenario: Scenario | str | Path, devices: int | None = None, seed: int = 0,
                 duration_s: float | None = None, start_ms: int | None = None,
                 topics: Iterable[str] | None = None, chunk_s: float = 3600.0,
                 now: Callable[[], float] = time.time):
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.devices = devices if devices is not None else self.scenario.fleet.devices
        self.seed = seed
        self.duration_s = duration_s if duration_s is not None else parse_span(self.scenario.duration)
        if start_ms is None:
            start_ms = round(now() - self.duration_s) * 1000
        self.start_ms = int(start_ms)
        self.topics = frozenset(TOPICS if topics is None else topics)
        unknown = self.topics - set(TOPICS)
        if unknown:
            raise ValueError(f"unknown topic {sorted(unknown)[0]!r}; topics are {', '.join(TOPICS)}")
        if self.devices < 1 or self.duration_s <= 0 or seed < 0:
            raise ValueError("devices and duration must be positive, seed non-negative")
        self.chunk_s = chunk_s

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(self.duration_s * 1000)

    @cached_property
    def plan(self) -> Plan:
        fleet = build_fleet(self.scenario.fleet, self.devices, self.seed)
        return make_plan(self.scenario, fleet, self.start_ms, self.end_ms, self.seed)

    @property
    def fleet(self) -> tuple[FleetDevice, ...]:
        return tuple(dp.device for dp in self.plan.devices.values())

    def will_devices(self) -> list[str]:
        """Devices that go offline through their last will (the publisher gives them a connection each)."""
        return [dp.device.device for dp in self.plan.devices.values()
                if any(getattr(a, "will", False) for a in dp.actions)]

    def messages(self) -> Iterator[SimMessage]:
        """All messages in simulated-time order (ties: device order, then generation order)."""
        qos = self.scenario.qos
        for ts, _, _, topic, payload, retain, will in render_run(self.plan, self._render_config(self.topics),
                                                                 self.chunk_s):
            yield SimMessage(ts, topic, payload, qos, retain, will)

    def _render_config(self, topics: frozenset[str]) -> RenderConfig:
        s = self.scenario
        return RenderConfig(
            seed=self.seed, start_ms=self.start_ms, end_ms=self.end_ms, prefix=s.topic_prefix,
            topics=topics, ts_style=s.timestamps, interval_ms=int(s.telemetry.interval_s * 1000),
            batch=s.telemetry.batch, chatter_scale=s.chatter_scale)

    def truth(self) -> GroundTruth:
        """What this run does and what a perfect system makes of it (computed once)."""
        return self._truth

    @cached_property
    def _truth(self) -> GroundTruth:
        plan = self.plan
        incidents = []
        for incident in plan.incidents:
            if incident.kind == "clock-skew":
                incident = replace(incident, expectations={
                    **incident.expectations, "skewed_messages": self._count_skewed(incident.device)})
            incidents.append(incident)
        return GroundTruth(
            scenario=self.scenario.name, seed=self.seed, devices=self.devices, start_ms=self.start_ms,
            end_ms=self.end_ms, topic_prefix=self.scenario.topic_prefix, fleet=self.fleet,
            incidents=tuple(incidents), background_faults=dict(sorted(plan.background_faults.items())))

    def _count_skewed(self, device: str) -> int:
        """Payload objects of ``device`` whose ``ts`` is skewed (whatever topics this run generates)."""
        dp = self.plan.devices[device]
        config = self._render_config(frozenset(("telemetry", "logs", "events")))
        return sum(m[4].count(b'"ts":') for m in render_run(self.plan, config, self.chunk_s, {device})
                   if dp.skew_ms(m[0]))


def render_run(plan: Plan, config: RenderConfig, chunk_s: float,
               only: set[str] | None = None) -> Iterator[tuple]:
    """Render a plan chunk by chunk; each chunk sorted by time, device, generation order."""
    renderers = [DeviceRenderer(dp, config) for dp in plan.devices.values()
                 if only is None or dp.device.device in only]
    chunk_ms = max(1000, int(chunk_s * 1000))
    for a in range(config.start_ms, config.end_ms, chunk_ms):
        b = min(a + chunk_ms, config.end_ms)
        out: list[tuple] = []
        for renderer in renderers:
            renderer.render(a, b, out)
        out.sort(key=lambda m: (m[0], m[1], m[2]))
        yield from out
