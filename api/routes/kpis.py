"""KPIs (viewer): MTTA, MTTR, recurrence rate and open tickets, overall and by model, firmware or site.

The population is the tickets *opened* in ``[from, to)`` (epoch ms, as
Grafana's ``${__from}``/``${__to}``); definitions are those of `tickets.kpis`,
computed in SQL by `tickets.kpi_queries`.
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

    @classmethod
    def of(cls, kpis: Kpis) -> "KpisOut":
        return cls(**asdict(kpis))


class KpiGroup(KpisOut):
    key: str


class KpiReportOut(BaseModel):
    from_ms: int | None
    to_ms: int | None
    by: str | None
    overall: KpisOut
    groups: list[KpiGroup]


@router.get("", summary="MTTA, MTTR, recurrence rate and open tickets")
def kpis(
    by: Literal["model", "firmware", "site"] | None = Query(None, description="Also one set per value"),
    from_ms: int | None = Query(None, alias="from", ge=0, le=MAX_TIME_MS, description="Tickets opened at or after (epoch ms)"),
    to_ms: int | None = Query(None, alias="to", ge=0, le=MAX_TIME_MS, description="Tickets opened before (epoch ms)"),
    ctx: ApiContext = Depends(context),
) -> KpiReportOut:
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise invalid("query", "from", f"must be before to ({to_ms})")
    report = kpi_report(ctx.engine, by, opened_from_ms=from_ms, opened_to_ms=to_ms)
    groups = [KpiGroup(key=value, **asdict(k)) for value, k in report.groups]
    return KpiReportOut(from_ms=from_ms, to_ms=to_ms, by=by, overall=KpisOut.of(report.overall), groups=groups)
