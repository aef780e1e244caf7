"""Prometheus metrics of one app, on a registry of its own (never the global one).

- ``faultline_api_requests_total{method,route,status}`` and
  ``faultline_api_request_duration_seconds{method,route}``, labelled by the
  route template (``/api/v1/tickets/{ticket_id}``) so ids never become labels
  (methods outside the standard set share the label ``OTHER``);
- ``faultline_tickets{state}`` and ``faultline_dead_letters{reason}``, read
  from their stores at scrape time;
- ``faultline_ingest_messages_total{stage,reason}``: what every ingest process
  counted (stored, spooled, dead letters by stage and reason, clock skew,
  redeliveries), summed from InfluxDB's ``ingest_stats`` (read at most every
  10 s).
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Mapping

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

Counts = Callable[[], Mapping[str, int]]


class CountsCollector(Collector):
    """A gauge family with one sample per key of a mapping read at scrape time."""

    def __init__(self, name: str, documentation: str, label: str, read: Counts):
        self.name, self.documentation, self.label, self.read = name, documentation, label, read

    def collect(self):
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        try:
            counts = self.read()
        except Exception:  # a store that is down must not break the scrape
            log.warning("metric %s: could not read counts", self.name, exc_info=True)
            counts = {}
        for value, count in sorted(counts.items()):
            family.add_metric([str(value)], count)
        yield family


class TotalsCollector(Collector):
    """A counter family, one sample per key (a tuple of label values) of a mapping, cached for ``max_age_s``."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...],
                 read: Callable[[], Mapping[tuple, int]], max_age_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.name, self.documentation, self.labels, self.read = name, documentation, labels, read
        self.max_age_s, self.clock = max_age_s, clock
        self._cached: tuple[float, Mapping[tuple, int]] | None = None

    def collect(self):
        family = CounterMetricFamily(self.name, self.documentation, labels=list(self.labels))
        for key, count in sorted(self._totals().items()):
            family.add_metric([str(v) for v in key], count)
        yield family

    def _totals(self) -> Mapping[tuple, int]:
        if self._cached is not None and self.clock() - self._cached[0] < self.max_age_s:
            return self._cached[1]
        try:
            totals = self.read()
        except Exception:  # a store that is down must not break the scrape
            log.warning("metric %s: could not read totals", self.name, exc_info=True)
            return self._cached[1] if self._cached else {}
        self._cached = (self.clock(), totals)
        return totals


class ApiMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "faultline_api_requests", "API requests by method, route template and status",
            ["method", "route", "status"], registry=self.registry)
        self.duration = Histogram(
            "faultline_api_request_duration_seconds", "API request handling time",
            ["method", "route"], registry=self.registry)

    def add_counts(self, name: str, documentation: str, label: str, read: Counts) -> None:
        self.registry.register(CountsCollector(name, documentation, label, read))

    def add_totals(self, name: str, documentation: str, labels: tuple[str, ...], read) -> None:
        self.registry.register(TotalsCollector(name, documentation, labels, read))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


def method_label(method: str) -> str:
    """The method as a label; any method outside the standard set is ``OTHER`` (one label, not one each).

    >>> method_label("GET"), method_label("FOO123")
    ('GET', 'OTHER')
    """
    return method if method in STANDARD_METHODS else "OTHER"


def route_label(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def instrument(app: FastAPI, metrics: ApiMetrics) -> None:
    """Count and time every request of `app`."""

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route, method = route_label(request), method_label(request.method)
            metrics.requests.labels(method, route, str(status)).inc()
            metrics.duration.labels(method, route).observe(time.perf_counter() - started)
