"""A seeded month of after-sales work on a real ticket store, for the review report, its tests and docs example.

`simulate_month` drives the real `TicketService` and `Workflow` on an
injected clock over 30 days of a 64-device fleet (PX-200 on 2.0.3 or
2.1.0, FX-10; sites sh-01 … sh-04):

* background device faults (1–3 tickets a day) worked by technicians:
  acknowledged after minutes, resolved after hours, mostly confirmed;
* a firmware regression: 2.1.0 rolls out at sh-01 on day 6, pump tickets
  with E214 follow until the cohort ticket is resolved on day 9 by a
  rollback (confirmed ``firmware=2.1.0``: a known issue); the same firmware
  reaches sh-03 on day 20 and its cohort ticket is linked to that fix;
* a vibration rule that keeps firing on FX-10 at sh-02: six tickets in a
  week, each found to be no fault, which raises that rule's threshold;
* five customer reports, rated at closing; two tickets reopened by a person.
"""

from __future__ import annotations

import random

from alerts.alert import Alert
from detectors.anomaly import Anomaly

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SITES = ("sh-01", "sh-02", "sh-03", "sh-04")


def _alert(subject: str, t_ms: int, *, scope="device", code="E214", detector="device_fault_rate", model="PX-200",
           firmware="2.0.3", site="sh-01", attribution="", devices=()) -> Alert:
    a = Anomaly(detector, scope, subject, code, t_ms, t_ms - 20 * 60_000, 7.0, 9.0, 2.0, 5.0, 600.0,
                f"{code} rate 9 against 2 expected", attribution, tuple(devices), model, firmware, site)
    return Alert(a.key, detector, scope, subject, code, "major", "firing", t_ms - 10 * 60_000, t_ms, None, 2,
                 False, a)


def simulate_month(engine, start_ms: int, seed: int = 0) -> dict:
    """Fill `engine` (migrated, empty) with the month; what happened where, for checks."""
    from ingest.records import DeviceMeta
    from tickets.reports import CustomerReport, open_report
    from tickets.service import TicketService
    from tickets.workflow import Workflow

    rng = random.Random(seed)
    clock = [start_ms]
    now = lambda: clock[0]  # noqa: E731
    fleet = {f"px200-{i:04d}": DeviceMeta(f"px200-{i:04d}", 0, "PX-200", "2.0.3", SITES[i % 4], "B" if i % 5 else "A",
                                          "acme", "gold") for i in range(32)}
    fleet.update({f"fx10-{i:04d}": DeviceMeta(f"fx10-{i:04d}", 0, "FX-10", "1.4.0", SITES[i % 4], "A", "beta",
                                              "silver") for i in range(32)})
    def registry(device: str):
        """The fleet as the registry sees it now: 2.1.0 on the PX-200 of sh-01 (days 6–9) and sh-03 (20–22)."""
        meta = fleet.get(device)
        day = (clock[0] - start_ms) // DAY_MS
        if meta is not None and meta.model == "PX-200" and (
                (meta.site == "sh-01" and 6 <= day < 9) or (meta.site == "sh-03" and 20 <= day < 22)):
            return DeviceMeta(meta.device, meta.ts_ms, meta.model, "2.1.0", meta.site, meta.hw_rev, meta.customer,
                              meta.tier)
        return meta

    svc = TicketService(engine, None, None, None, now=now, registry=registry)
    flow = Workflow(engine, now=now)
    techs = ("ana", "ben", "chen")
    todo: list[tuple[int, str, int, dict]] = []  # (time, action, ticket, args)

    def work(ticket_id: int, opened: int, finding: dict, ack_h=(0.05, 1.0), fix_h=(1.0, 8.0)):
        ack = opened + int(rng.uniform(*ack_h) * HOUR_MS)
        todo.append((ack, "ack", ticket_id, {}))
        todo.append((ack + int(rng.uniform(*fix_h) * HOUR_MS), "resolve", ticket_id, finding))

    def at(t: int) -> None:
        todo.sort(key=lambda x: x[0])
        while todo and todo[0][0] <= t:
            when, action, tid, args = todo.pop(0)
            clock[0] = when
            user = techs[tid % 3]
            if action == "ack":
                flow.ack(tid, user)
            elif action == "resolve":
                flow.resolve(tid, user, args["root_cause"], args["fix"], category=args["category"],
                             confirmed_attribute=args.get("attribute"), attribution=args["verdict"])
            elif action == "close":
                flow.close(tid, user, satisfaction=args.get("rating"), satisfaction_comment=args.get("comment"))
            elif action == "reopen":
                flow.reopen(tid, user, "the fault came back on site")
        clock[0] = t

    regression = {"root_cause": "2.1.0 motor control loop overshoots", "fix": "roll back to 2.0.3",
                  "category": "firmware", "attribute": "firmware=2.1.0", "verdict": "confirmed"}
    for day in range(30):
        for hour in range(24):
            t = start_ms + day * DAY_MS + hour * HOUR_MS
            at(t)
            if rng.random() < 0.07:  # background device faults
                dev = rng.choice([d for d in fleet if d.startswith("px200")])
                meta = fleet[dev]
                code = rng.choice(("E101", "E330", "E214"))
                ticket = svc.apply(_alert(dev, t, code=code, firmware=meta.firmware, site=meta.site))
                right = rng.random() < 0.9
                work(ticket.id, t, {"root_cause": "worn part", "fix": "replaced the part", "category": "hardware",
                                    "attribute": f"device={dev}" if right else f"site={meta.site}",
                                    "verdict": "confirmed" if right else "corrected"})
            if day in (6, 20) and hour == 9:  # 2.1.0 reaches a site: its cohort ticket
                site = "sh-01" if day == 6 else "sh-03"
                ticket = svc.apply(_alert(f"model=PX-200,firmware=2.1.0,site={site}", t, scope="cohort",
                                          detector="cohort_fault_rate", firmware="2.1.0", site=site,
                                          attribution="firmware=2.1.0"))
                work(ticket.id, t, regression, fix_h=(24.0, 60.0) if day == 6 else (2.0, 6.0))
            regressed = (6 <= day < 9) or (20 <= day < 22)
            if regressed and hour % 6 == 3:  # its pumps fault
                dev = rng.choice([d for d in fleet if d.startswith("px200") and fleet[d].site in ("sh-01", "sh-03")])
                ticket = svc.apply(_alert(dev, t, firmware="2.1.0", site=fleet[dev].site))
                work(ticket.id, t, {**regression, "verdict": "corrected"})
            if 3 <= day < 9 and hour == 14:  # the vibration rule on FX-10 at sh-02: nothing found
                dev = f"fx10-{(day - 3) * 4 + 1:04d}"  # six FX-10 at sh-02, one a day
                ticket = svc.apply(_alert(dev, t, code="V200", detector="rule:vibration", model="FX-10",
                                          firmware="1.4.0", site="sh-02"))
                work(ticket.id, t, {"root_cause": "no vibration on site", "fix": "none", "category": "no_fault_found",
                                    "verdict": "rejected"})
            if day in (4, 11, 15, 23, 27) and hour == 10:  # customers report
                dev = f"fx10-{day % 32:04d}"
                ticket = open_report(svc, CustomerReport(dev, "beta", t - HOUR_MS, "makes a rattling noise", "daily",
                                                         "degraded", "ops@beta.example"))
                work(ticket.id, t, {"root_cause": "loose mount", "fix": "tightened the mount",
                                    "category": "installation", "attribute": f"device={dev}",
                                    "verdict": "corrected"})
                todo.append((t + 20 * HOUR_MS, "close", ticket.id, {"rating": rng.choice((3, 4, 5)),
                                                                   "comment": "fixed"}))
            if day in (12, 25) and hour == 16:  # a repair that did not hold
                from tickets.store import list_tickets

                done = [x for x in list_tickets(engine, state="resolved", limit=50) if x.scope == "device"]
                if done:
                    todo.append((t, "reopen", done[0].id, {}))
                    work(done[0].id, t + 1, {"root_cause": "second part worn", "fix": "replaced both",
                                             "category": "hardware", "attribute": f"device={done[0].subject}",
                                             "verdict": "confirmed"})
    at(start_ms + 32 * DAY_MS)
    return {"end_ms": start_ms + 30 * DAY_MS}
