"""The after-sales KPIs as Prometheus gauges, read from the ticket store at scrape time.

One gauge per measure, over the tickets opened in the last
``KPI_WINDOW_DAYS`` days before the scrape (definitions:
`tickets.after_sales`): ``faultline_kpi_first_response_seconds``,
``…_handling_seconds``, ``…_time_to_detect_seconds``,
``…_localisation_accuracy``, ``…_detector_precision``,
``…_recurrence_rate``, ``…_reopen_rate``, ``…_satisfaction`` and
``faultline_kpi_tickets``. A measure without tickets to take it over (None)
has no sample rather than a misleading 0; a store that is down yields no
samples and a log line, never a failed scrape.
"""

from __future__ import annotations

import logging
from typing import Callable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from tickets.after_sales_queries import after_sales_report

log = logging.getLogger(__name__)

KPI_WINDOW_DAYS = 30
GAUGES = (  # (metric suffix, AfterSales field, help)
    ("tickets", "tickets", "Tickets opened in the window (merged ones left out)"),
    ("first_response_seconds", "first_response_s", "Mean time from opening to the first acknowledgement or human comment"),
    ("handling_seconds", "handling_s", "Mean time from opening to resolution by a person"),
    ("time_to_detect_seconds", "time_to_detect_s", "Mean time from the incident's onset to the detector's ticket"),
    ("localisation_accuracy", "localisation_accuracy", "Share of judged tickets whose attribution was confirmed"),
    ("detector_precision", "detector_precision", "Share of classified detector tickets that were not no-fault-found"),
    ("recurrence_rate", "recurrence_any_rate", "Share of tickets whose key or confirmed root cause came back"),
    ("reopen_rate", "reopen_rate", "Share of resolved tickets reopened by a person"),
    ("satisfaction", "satisfaction", "Mean customer rating (1-5) of customer-reported tickets"),
)


class KpiCollector(Collector):
    def __init__(self, engine: Engine, now: Callable[[], int], recurrence_days: float,
                 window_days: float = KPI_WINDOW_DAYS):
        self.engine, self.now, self.recurrence_days, self.window_days = engine, now, recurrence_days, window_days

    def collect(self):
        try:
            since = int(self.now() - self.window_days * 86_400_000)
            kpis = after_sales_report(self.engine, opened_from_ms=since - since % 60_000,  # reused for a minute
                                      recurrence_days=self.recurrence_days).overall
        except Exception:  # a store that is down must not break the scrape
            log.warning("KPI gauges: could not read the ticket store", exc_info=True)
            return
        for suffix, field, doc in GAUGES:
            family = GaugeMetricFamily(f"faultline_kpi_{suffix}", f"{doc}, last {self.window_days:g} days")
            value = getattr(kpis, field)
            if value is not None:
                family.add_metric([], float(value))
            yield family
