"""A started API computes the default views' aggregates before anyone asks, and freezes its start-up objects."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient
from support.waiting import wait_until

from tickets.aggregates import cache_of

pytestmark = pytest.mark.sql("sqlite", "postgresql")


def test_start_computes_the_kpis_queue_counts_and_list_total(app, engine, settings, open_ticket, auth):
    for device in ("pump-1", "pump-2", "pump-3"):
        open_ticket(device)
    cache = cache_of(engine)
    kpis_key = ("kpis", None, None, None)
    after_key = ("after-sales", None, None, None, settings.tickets_recurrence_days)
    assert cache.kept(kpis_key) is None  # nothing asked yet
    gc.unfreeze()

    with TestClient(app) as client:
        wait_until(lambda: cache.kept(kpis_key) is not None and cache.kept(after_key) is not None
                   and cache.kept(("headline",)) is not None, timeout=30)
        assert cache.kept(kpis_key).overall.tickets == 3
        assert cache.kept(after_key).overall.tickets == 3
        assert cache.kept(("headline",))[0] == 3  # active
        assert gc.get_freeze_count() > 0
        body = client.get("/api/v1/kpis", headers=auth("viewer")).json()
        assert body["overall"]["tickets"] == 3 and body["overall"]["open"] == 3
