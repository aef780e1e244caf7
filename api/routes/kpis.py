"""KPIs (viewer): MTTA, MTTR, recurrence rate and open tickets, and the after-sales measures, overall
and by model, firmware, site, team, assignee, source, day or week.

The population is the tickets *opened* in ``[from, to)`` (epoch ms, as
Grafana's ``${__from}``/``${__to}``); definitions are those of `tickets.kpis`,
computed in SQL by `tickets.kpi_queries`, and of `tickets.after_sales`
(`tickets.after_sales_queries`), whose fields sit next to them in each row.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api import auth
from api.bounds import MAX_TIME_MS
from api.context import ApiContext, context
from api.errors import invalid
from api.responses import errors
from api.routes import API_PREFIX
from tickets.after_sales import AfterSales
from tickets.after_sales_queries import after_sales_report
from tickets.kpi_queries import kpi_report
from tickets.kpis import Kpis

router = APIRouter(prefix=f"{API_PREFIX}/kpis", tags=["kpis"], dependencies=[Depends(auth.viewer)],
                   responses=errors(401, 403, 422))


class KpisOut(BaseModel):
    tickets: int
    open: int
    acknowledged: int
    resolved: int
    auto_resolved: int
    recurred: int
    mtta_s: float | None
    mttr_s: float | None
    recurrence_rate: float | None
    # after-sales measures (tickets.after_sales)
    responded: int = 0
    first_response_s: float | None = None
    handled: int = 0
    handling_s: float | None = None
    detected: int = 0
    time_to_detect_s: float | None = None
    judged: int = 0
    confirmed: int = 0
    localisation_accuracy: float | None = None
    classified: int = 0
    no_fault_found: int = 0
    detector_precision: float | None = None
    recurred_any: int = 0
    recurrence_any_rate: float | None = None
    ever_resolved: int = 0
    reopened: int = 0
    reopen_rate: float | None = None
    rated: int = 0
    satisfaction: float | None = None

    @classmethod
    def of(cls, kpis: Kpis, after: AfterSales | None = None) -> "KpisOut":
        return cls(**asdict(kpis), **_after(after))


def _after(after: AfterSales | None) -> dict:
    return {k: v for k, v in asdict(after).items() if k != "tickets"} if after is not None else {}


class KpiGroup(KpisOut):
    key: str


class KpiReportOut(BaseModel):
    from_ms: int | None
    to_ms: int | None
    by: str | None
    overall: KpisOut
    groups: list[KpiGroup]


@router.get("", summary="MTTA, MTTR, recurrence, open tickets and the after-sales KPIs")
def kpis(
    by: Literal["model", "firmware", "site", "team", "assignee", "source", "day", "week"] | None = Query(
        None, description="Also one set per value, or per day / Monday-week (UTC) of opening"),
    from_ms: int | None = Query(None, alias="from", ge=0, le=MAX_TIME_MS, description="Tickets opened at or after (epoch ms)"),
    to_ms: int | None = Query(None, alias="to", ge=0, le=MAX_TIME_MS, description="Tickets opened before (epoch ms)"),
    ctx: ApiContext = Depends(context),
) -> KpiReportOut:
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise invalid("query", "from", f"must be before to ({to_ms})")
    report = kpi_report(ctx.engine, by, opened_from_ms=from_ms, opened_to_ms=to_ms)
    after = after_sales_report(ctx.engine, by, opened_from_ms=from_ms, opened_to_ms=to_ms,
                               recurrence_days=ctx.config.recurrence_days)
    after_groups = dict(after.groups)
    groups = [KpiGroup(key=value, **asdict(k), **_after(after_groups.get(value))) for value, k in report.groups]
    return KpiReportOut(from_ms=from_ms, to_ms=to_ms, by=by, overall=KpisOut.of(report.overall, after.overall),
                        groups=groups)
