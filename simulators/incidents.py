"""Fault incidents: a firmware regression, a degrading device, a stuck sensor, a flapping fault.

Each planner adds actions to the devices' plans and returns the incident's
ground truth, including the tickets a perfect system would open.
"""

from __future__ import annotations

import random
from dataclasses import replace

from simulators.faults import excess_faults, fault_actions
from simulators.models import MODELS, FaultSpec
from simulators.plan import DevicePlan, FirmwareAction, LogAction, Plan, Ramp, Window
from simulators.scenario import Degradation, FirmwareRegression, Flapping, Scenario, StuckSensor
from simulators.timespan import parse_span
from simulators.truth import ExpectedTicket, FirmwareChange, Incident, Occurrence


def fault_spec(model: str, code: str, message: str = "") -> FaultSpec:
    """The catalogue fault for ``code``, or an ad-hoc one for codes the model lacks.

    >>> fault_spec("PX-200", "E214", "x").component, fault_spec("PX-200", "E999").component
    ('motor', 'firmware')
    """
    try:
        spec = MODELS[model].fault(code)
    except KeyError:
        spec = FaultSpec(code, "firmware", "major", message or f"fault {code}")
    return replace(spec, message=message or spec.message)


def plan_firmware_regression(spec: FirmwareRegression, iid: str, plan: Plan,
                             start_ms: int, end_ms: int, scenario: Scenario | None = None) -> Incident:
    rng = plan.rng(iid)
    sites = _rollout_sites(spec, plan, rng)
    pool = [p for p in plan.devices.values() if p.device.model == spec.model
            and (not sites or p.device.site in sites)]
    if not pool:
        raise ValueError(f"no {spec.model} device at {', '.join(sites) or 'any site'}")
    cohort = _spread_over_sites(pool, spec.share, rng)
    fault = fault_spec(spec.model, spec.code, spec.message)
    rate = MODELS[spec.model].fault_rate_per_day * (spec.multiplier - 1.0)
    rollout_ms = int(parse_span(spec.rollout) * 1000)
    occurrences: list[Occurrence] = []
    faulted: list[str] = []
    plan.reserved.update(dp.device.device for dp in cohort)  # device incidents happen elsewhere
    for dp in cohort:
        device = dp.device.device
        updated = start_ms + int(rng.random() * rollout_ms)
        _install(dp, updated, spec.firmware)
        if spec.end is not None:
            _install(dp, end_ms, dp.device.firmware)
        occ = excess_faults(dp, plan.rng(iid, device), rate, updated, end_ms, fault, plan.end_ms)
        occurrences += occ
        if occ:
            faulted.append(device)
    subject = f"model={spec.model},firmware={spec.firmware}"
    return Incident(
        id=iid, kind=spec.kind, start_ms=start_ms, end_ms=end_ms, scope="cohort",
        cohort={"model": spec.model, "firmware": spec.firmware}, attribution=f"firmware={spec.firmware}",
        fault_codes=(spec.code,), root_cause_markers=(fault.message,),
        affected_devices=tuple(dp.device.device for dp in cohort),
        tickets=(ExpectedTicket("cohort", subject, spec.code, fault.severity, start_ms, tuple(faulted)),),
        expectations={"cohort_size": len(cohort), "multiplier": spec.multiplier,
                      "sites": sorted({dp.device.site for dp in cohort}),
                      "incident_faults": sum(o.kind == "fault" for o in occurrences)},
        occurrences=tuple(occurrences),
        description=f"{spec.model} devices updated to firmware {spec.firmware} fault {spec.multiplier:g}x "
                    f"as often ({spec.code}); "
                    + (f"the rollout is confined to {', '.join(sites)}" if sites
                       else "the cohort spans several sites"))


def _rollout_sites(spec: FirmwareRegression, plan: Plan, rng: random.Random) -> list[str]:
    """The sites a rollout is confined to: named, or a number chosen by the seed among the model's sites."""
    if not isinstance(spec.sites, int):
        return list(spec.sites)
    have = sorted({dp.device.site for dp in plan.devices.values() if dp.device.model == spec.model})
    return sorted(rng.sample(have, min(spec.sites, len(have))))


def _spread_over_sites(pool: list[DevicePlan], share: float, rng: random.Random) -> list[DevicePlan]:
    """``share`` of the pool, taken round-robin over sites so the cohort spans many of them."""
    by_site: dict[str, list[DevicePlan]] = {}
    for dp in pool:
        by_site.setdefault(dp.device.site, []).append(dp)
    for members in by_site.values():
        rng.shuffle(members)
    sites = sorted(by_site)
    rng.shuffle(sites)
    wanted = max(1, round(share * len(pool))) if pool else 0
    chosen: list[DevicePlan] = []
    while len(chosen) < wanted:
        for site in sites:
            if by_site[site] and len(chosen) < wanted:
                chosen.append(by_site[site].pop())
    return sorted(chosen, key=lambda dp: dp.index)


def _install(dp: DevicePlan, ts_ms: int, firmware: str) -> None:
    previous = dp.device.firmware_at(ts_ms)
    dp.actions.append(FirmwareAction(ts_ms, firmware, previous))
    dp.device = replace(dp.device, firmware_changes=dp.device.firmware_changes + (FirmwareChange(ts_ms, firmware),))


def plan_degradation(spec: Degradation, iid: str, plan: Plan, start_ms: int, end_ms: int,
                     scenario: Scenario | None = None) -> Incident:
    dp = plan.pick_device(iid, spec.model, spec.device)
    model = MODELS[dp.device.model]
    _check_metrics(model.name, spec.rise)
    device, rng = dp.device.device, plan.rng(iid)
    full_ms = min(start_ms + int(parse_span(spec.ramp) * 1000), end_ms - 1)
    dp.ramps.append(Ramp(start_ms, full_ms, end_ms, tuple(spec.rise.items())))
    occurrences: list[Occurrence] = []
    step = int(parse_span(spec.warn_every) * 1000)
    metric = next(iter(spec.rise))
    for ts in range(start_ms + (full_ms - start_ms) // 3, full_ms, max(step, 1000)):
        text = f"{metric} trending up: +{100 * (ts - start_ms) / max(full_ms - start_ms, 1):.0f}% of alarm margin"
        dp.actions.append(LogAction(ts, "WARN", "diagnostics", "W240", text))
        occurrences.append(Occurrence(device, ts, "logs", "WARN", "W240", text))
    fault = fault_spec(model.name, spec.code)
    actions, occ = fault_actions(device, full_ms, fault, rng, plan.end_ms, clear=False)
    dp.actions += actions
    occurrences += occ
    return _device_incident(spec.kind, iid, start_ms, end_ms, device, (spec.code,), (fault.message,),
                            fault.severity, occurrences, {"rise": dict(spec.rise), "fault_ms": full_ms},
                            f"{device} degrades ({', '.join(spec.rise)} drift up) and faults with {spec.code}")


def plan_stuck_sensor(spec: StuckSensor, iid: str, plan: Plan, start_ms: int, end_ms: int,
                     scenario: Scenario | None = None) -> Incident:
    dp = plan.pick_device(iid, spec.model, spec.device)
    _check_metrics(dp.device.model, {spec.metric: 0.0})
    dp.stuck.append(Window(start_ms, end_ms, metric=spec.metric))
    return _device_incident(spec.kind, iid, start_ms, end_ms, dp.device.device, (), (), "minor", [],
                            {"metric": spec.metric},
                            f"{spec.metric} of {dp.device.device} is frozen at one value")


def plan_flapping(spec: Flapping, iid: str, plan: Plan, start_ms: int, end_ms: int,
                     scenario: Scenario | None = None) -> Incident:
    dp = plan.pick_device(iid, spec.model, spec.device)
    device, rng = dp.device.device, plan.rng(iid)
    fault = fault_spec(dp.device.model, spec.code)
    on_ms, off_ms = parse_span(spec.on) * 1000, parse_span(spec.off) * 1000
    occurrences: list[Occurrence] = []
    cycles = 0
    t = float(start_ms)
    while t < end_ms:
        duration = max(10_000, int(rng.expovariate(1.0) * on_ms))
        actions, occ = fault_actions(device, int(t), fault, rng, plan.end_ms, clear=True, duration_ms=duration)
        dp.actions += actions
        occurrences += occ
        cycles += 1
        t += duration + max(10_000, rng.expovariate(1.0) * off_ms)
    return _device_incident(spec.kind, iid, start_ms, end_ms, device, (spec.code,), (fault.message,),
                            fault.severity, occurrences, {"fault_cycles": cycles},
                            f"{device} flaps: {spec.code} raised and cleared {cycles} times")


def _device_incident(kind: str, iid: str, start_ms: int, end_ms: int, device: str, codes: tuple[str, ...],
                     markers: tuple[str, ...], severity: str, occurrences: list[Occurrence],
                     expectations: dict, description: str) -> Incident:
    code = codes[0] if codes else ""
    return Incident(
        id=iid, kind=kind, start_ms=start_ms, end_ms=end_ms, scope="device", device=device,
        fault_codes=codes, root_cause_markers=markers, affected_devices=(device,),
        tickets=(ExpectedTicket("device", device, code, severity, start_ms),),
        expectations=expectations, occurrences=tuple(occurrences), description=description)


def _check_metrics(model: str, metrics: dict[str, float]) -> None:
    known = {m.name for m in MODELS[model].metrics}
    for name in metrics:
        if name not in known:
            raise ValueError(f"model {model} has no metric {name!r}; it has {', '.join(sorted(known))}")
