"""Planning a run: incidents first, then background faults at base rates."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from simulators import cohort_incidents, disturbances, incidents
from simulators.faults import background_faults, maintenance_visits
from simulators.models import MODELS
from simulators.plan import DevicePlan, Plan, StatusAction
from simulators.scenario import Scenario
from simulators.timespan import resolve_offset
from simulators.truth import FleetDevice, Incident

PLANNERS: dict[str, Callable[..., Incident]] = {
    "firmware-regression": incidents.plan_firmware_regression,
    "site-fault": cohort_incidents.plan_site_fault,
    "hw-batch": cohort_incidents.plan_hw_batch,
    "device-degradation": incidents.plan_degradation,
    "stuck-sensor": incidents.plan_stuck_sensor,
    "flapping": incidents.plan_flapping,
    "offline": disturbances.plan_offline,
    "message-storm": disturbances.plan_storm,
    "malformed": disturbances.plan_malformed,
    "clock-skew": disturbances.plan_clock_skew,
}


class PlanError(ValueError):
    """A scenario that does not fit the fleet it runs on (e.g. a metric the model lacks)."""


def make_plan(scenario: Scenario, fleet: tuple[FleetDevice, ...], start_ms: int, end_ms: int,
              seed: int) -> Plan:
    plan = Plan(devices={d.device: DevicePlan(d, i) for i, d in enumerate(fleet)}, incidents=[],
                background_faults={}, start_ms=start_ms, end_ms=end_ms, seed=seed)
    duration_s = (end_ms - start_ms) / 1000
    specs = list(zip(scenario.incidents, scenario.incident_ids()))
    planned: dict[str, Incident] = {}
    # Malformed messages go last so that they avoid devices another incident takes offline.
    for spec, iid in sorted(specs, key=lambda pair: pair[0].kind == "malformed"):
        a = start_ms + int(resolve_offset(spec.start, duration_s) * 1000)
        b = end_ms if spec.end is None else start_ms + int(resolve_offset(spec.end, duration_s) * 1000)
        a, b = max(start_ms, min(a, end_ms - 1)), max(start_ms + 1, min(b, end_ms))
        try:
            planned[iid] = PLANNERS[spec.kind](spec, iid, plan, a, max(a + 1, b), scenario)
        except (ValueError, KeyError) as exc:
            raise PlanError(f"scenario {scenario.name!r}, incident {iid!r}: {exc}") from None
    plan.incidents = [planned[iid] for _, iid in specs]
    for dp in plan.devices.values():
        model = MODELS[dp.device.model]
        excluded = [(w.start_ms, w.end_ms) for w in dp.silent]
        actions, count = background_faults(dp.device.device, model, plan.rng("faults", dp.device.device),
                                           start_ms, end_ms, scenario.fault_rate_scale, excluded)
        dp.actions += actions + maintenance_visits(plan.rng("maintenance", dp.device.device), start_ms, end_ms)
        plan.background_faults[model.name] = plan.background_faults.get(model.name, 0) + count
    _finish(plan)
    return plan


def _finish(plan: Plan) -> None:
    """Sort each device's actions; drop what an offline device cannot send."""
    for dp in plan.devices.values():
        actions = [a for a in dp.actions if a.ts_ms < plan.end_ms]
        if dp.silent:
            actions = [a for a in actions if isinstance(a, StatusAction) or not dp.is_silent(a.ts_ms)]
        actions.sort(key=lambda a: a.ts_ms)  # stable: simultaneous actions keep their order
        dp.actions = actions
    for i, incident in enumerate(plan.incidents):
        plan.incidents[i] = _without_silenced(incident, plan)


def _without_silenced(incident: Incident, plan: Plan) -> Incident:
    """The incident minus what its devices could not send while offline (children recounted)."""
    kept = tuple(o for o in incident.occurrences
                 if o.ts_ms < plan.end_ms and (o.topic == "status" or not plan.devices[o.device].is_silent(o.ts_ms)))
    if len(kept) == len(incident.occurrences):
        return incident
    faulted = {o.device for o in kept if o.kind == "fault"}
    tickets = tuple(replace(t, children=tuple(d for d in t.children if d in faulted)) for t in incident.tickets)
    expectations = dict(incident.expectations)
    if "incident_faults" in expectations:
        expectations["incident_faults"] = sum(o.kind == "fault" for o in kept)
    return replace(incident, occurrences=kept, tickets=tickets, expectations=expectations)
