"""Active alerts (viewer): pending and firing, silenced ones marked, most severe first."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from alerts.alert import Alert
from api import auth
from api.context import ApiContext, context
from api.pages import Page, PageParams
from api.responses import errors
from api.routes import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/alerts", tags=["alerts"], dependencies=[Depends(auth.viewer)],
                   responses=errors(401, 403, 422))


class AlertOut(BaseModel):
    key: str
    detector: str
    scope: str
    subject: str
    code: str
    severity: str
    state: str
    starts_at_ms: int
    last_seen_ms: int
    ends_at_ms: int | None
    count: int
    flapping: bool
    parent_key: str | None
    silenced_by: str | None
    explanation: str
    attribution: str
    score: float
    observed: float
    expected: float
    threshold: float
    model: str
    firmware: str
    site: str
    devices: list[str]

    @classmethod
    def of(cls, alert: Alert) -> "AlertOut":
        a = alert.anomaly
        return cls(key=alert.key, detector=alert.detector, scope=alert.scope, subject=alert.subject,
                   code=alert.code, severity=alert.severity, state=alert.state, starts_at_ms=alert.starts_at_ms,
                   last_seen_ms=alert.last_seen_ms, ends_at_ms=alert.ends_at_ms, count=alert.count,
                   flapping=alert.flapping, parent_key=alert.parent_key, silenced_by=alert.silenced_by,
                   explanation=a.explanation, attribution=a.attribution, score=a.score, observed=a.observed,
                   expected=a.expected, threshold=a.threshold, model=a.model, firmware=a.firmware,
                   site=a.site, devices=list(a.devices))


def _keep(alert: Alert, state, severity, scope, subject, silenced) -> bool:
    return ((state is None or alert.state == state)
            and (not severity or alert.severity in severity)
            and (scope is None or alert.scope == scope)
            and (subject is None or alert.subject == subject or subject in alert.anomaly.devices)
            and (silenced is None or (alert.silenced_by is not None) == silenced))


@router.get("", summary="Active alerts (pending and firing)")
def active_alerts(
    state: Literal["pending", "firing"] | None = None,
    severity: list[Literal["info", "minor", "major", "critical"]] = Query([], description="Repeatable"),
    scope: Literal["device", "cohort"] | None = None,
    subject: str | None = Query(None, max_length=256, description="Subject, or a device the alert names"),
    silenced: bool | None = Query(None, description="Only silenced (true) or unsilenced (false) alerts"),
    page: PageParams = Depends(),
    ctx: ApiContext = Depends(context),
) -> Page[AlertOut]:
    alerts = [a for a in ctx.alerts.active() if _keep(a, state, severity, scope, subject, silenced)]
    return page.of([AlertOut.of(a) for a in alerts[page.offset:page.offset + page.limit]], len(alerts))
