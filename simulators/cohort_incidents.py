"""Cohort incidents beyond firmware: a fault at one site (all models), a bad hardware batch.

Each planner raises the fault rate of its cohort's devices from ``start``
to ``end`` and returns the incident's ground truth: one cohort ticket whose
attribution names the site (``site=sh-03``) or the hardware revision
(``hw_rev=B``), its children the devices that faulted.
"""

from __future__ import annotations

from dataclasses import replace

from simulators.faults import excess_faults
from simulators.models import MODELS, FaultSpec
from simulators.plan import DevicePlan, Plan
from simulators.scenario import SITE_CAUSES, HwBatch, Scenario, SiteFault
from simulators.truth import ExpectedTicket, Incident, Occurrence


def plan_site_fault(spec: SiteFault, iid: str, plan: Plan, start_ms: int, end_ms: int,
                    scenario: Scenario | None = None) -> Incident:
    rng = plan.rng(iid)
    sites = sorted({dp.device.site for dp in plan.devices.values()})
    if spec.site and spec.site not in sites:
        raise ValueError(f"no device at site {spec.site!r}; sites: {', '.join(sites)}")
    site = spec.site or rng.choice(sites)
    members = [dp for dp in plan.devices.values() if dp.device.site == site]
    code, component, line = SITE_CAUSES[spec.cause]
    fault = FaultSpec(spec.code or code, component, "major", spec.message or line, clear_probability=0.9,
                      mean_duration_s=900)
    return _excess(plan, iid, spec.kind, members, fault, spec.multiplier, start_ms, end_ms,
                   cohort={"site": site}, attribution=f"site={site}",
                   description=f"devices of every model at {site} fault {spec.multiplier:g}x as often "
                               f"({spec.cause}: {fault.message})")


def plan_hw_batch(spec: HwBatch, iid: str, plan: Plan, start_ms: int, end_ms: int,
                  scenario: Scenario | None = None) -> Incident:
    model = MODELS[spec.model]
    rev = spec.hw_rev or model.hw_revs[-1]
    if rev not in model.hw_revs:
        raise ValueError(f"model {spec.model} has no hardware revision {rev!r}; it has {', '.join(model.hw_revs)}")
    members = [dp for dp in plan.devices.values() if dp.device.model == spec.model and dp.device.hw_rev == rev]
    base = model.fault(spec.code) if any(f.code == spec.code for f in model.faults) else None
    fault = replace(base, message=spec.message) if base else FaultSpec(spec.code, "hardware", "major", spec.message)
    return _excess(plan, iid, spec.kind, members, fault, spec.multiplier, start_ms, end_ms,
                   cohort={"model": spec.model, "hw_rev": rev}, attribution=f"hw_rev={rev}",
                   description=f"{spec.model} devices of hardware revision {rev} fault {spec.multiplier:g}x "
                               f"as often ({spec.code}: {spec.message})")


def _excess(plan: Plan, iid: str, kind: str, members: list[DevicePlan], fault: FaultSpec, multiplier: float,
            start_ms: int, end_ms: int, cohort: dict, attribution: str, description: str) -> Incident:
    """Extra faults at (multiplier - 1) x each member's base rate; the incident's truth."""
    if not members:
        raise ValueError(f"no device in the cohort {attribution}")
    occurrences: list[Occurrence] = []
    faulted: list[str] = []
    for dp in sorted(members, key=lambda d: d.index):
        rate = MODELS[dp.device.model].fault_rate_per_day * (multiplier - 1.0)
        occ = excess_faults(dp, plan.rng(iid, dp.device.device), rate, start_ms, end_ms, fault, plan.end_ms)
        occurrences += occ
        if occ:
            faulted.append(dp.device.device)
    subject = ",".join(f"{k}={v}" for k, v in cohort.items())
    return Incident(
        id=iid, kind=kind, start_ms=start_ms, end_ms=end_ms, scope="cohort", cohort=cohort,
        attribution=attribution, fault_codes=(fault.code,), root_cause_markers=(fault.message,),
        affected_devices=tuple(dp.device.device for dp in sorted(members, key=lambda d: d.index)),
        tickets=(ExpectedTicket("cohort", subject, fault.code, fault.severity, start_ms, tuple(faulted)),),
        expectations={"cohort_size": len(members), "multiplier": multiplier,
                      "models": sorted({dp.device.model for dp in members}),
                      "incident_faults": sum(o.kind == "fault" for o in occurrences)},
        occurrences=tuple(occurrences), description=description)
