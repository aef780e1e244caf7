"""The completeness ledger without services: next, gap, late, duplicate and reset, gaps confirmed once.

Persistence runs on a SQLite file (a real database, no server).
"""

from __future__ import annotations

import pytest

from database import make_engine
from ingest.ledger import BIG, MAX_OPEN_RANGES, Gap, Ledger, load_entries
from support.sqlite import migrated_sqlite


def observe_all(ledger: Ledger, seqs, now_ms: int = 0) -> list[str]:
    return [ledger.observe("d1", "telemetry", seq, now_ms) for seq in seqs]


@pytest.mark.parametrize("seqs, verdicts, missing", [
    ([1, 2, 3], ["next", "next", "next"], []),
    ([7], ["next"], []),  # the first seq seen starts the stream wherever it is
    ([1, 4], ["next", "gap"], [[2, 3]]),
    ([1, 4, 2], ["next", "gap", "late"], [[3, 3]]),
    ([1, 4, 3], ["next", "gap", "late"], [[2, 2]]),
    ([1, 6, 3], ["next", "gap", "late"], [[2, 2], [4, 5]]),  # a fill inside a gap splits it
    ([1, 4, 2, 3], ["next", "gap", "late", "late"], []),
    ([1, 2, 2], ["next", "next", "duplicate"], []),
    ([1, 4, 2, 2], ["next", "gap", "late", "duplicate"], [[3, 3]]),
    ([5, 6, 1], ["next", "next", "reset"], []),  # back to 1: the device restarted its counter
    ([5, 6, 0], ["next", "next", "reset"], []),
    ([1, 5, 1], ["next", "gap", "reset"], []),  # a reset closes the open gaps
    ([200_000, 50_000], ["next", "reset"], []),  # fell back by more than the reset margin
    ([1, 2 + (1 << 32)], ["next", "reset"], []),  # a jump beyond any outage is a new counter
])
def test_verdicts_and_missing_ranges(seqs, verdicts, missing):
    ledger = Ledger()
    assert observe_all(ledger, seqs) == verdicts
    assert ledger.entries()[0].missing == missing


def test_counters_of_a_stream():
    ledger = Ledger()
    observe_all(ledger, [1, 2, 5, 3, 3, 1])
    s = ledger.entries()[0]
    assert (s.received, s.duplicates, s.late, s.resets, s.gaps_total, s.last_seq) == (6, 1, 1, 1, 2, 1)


def test_streams_are_per_device_and_topic():
    ledger = Ledger()
    assert [ledger.observe(d, t, 5, 0) for d, t in (("d1", "logs"), ("d1", "events"), ("d2", "logs"))] == ["next"] * 3
    assert [(s.device, s.topic) for s in ledger.entries()] == [("d1", "events"), ("d1", "logs"), ("d2", "logs")]
    assert [s.topic for s in ledger.entries("d1")] == ["events", "logs"]


@pytest.mark.parametrize("now_ms, reported", [(999, []), (1000, [Gap("d1", "telemetry", 2, 3, 0)])])
def test_a_gap_is_confirmed_after_the_grace_period(now_ms, reported):
    ledger = Ledger(grace_ms=1000)
    observe_all(ledger, [1, 4], now_ms=0)
    assert ledger.confirmed_gaps(now_ms) == reported


def test_a_confirmed_gap_is_reported_once_and_stays_in_the_ledger():
    ledger = Ledger(grace_ms=1000)
    observe_all(ledger, [1, 4])
    assert len(ledger.confirmed_gaps(5000)) == 1
    assert ledger.confirmed_gaps(9000) == []
    assert ledger.entries()[0].missing == [[2, 3]]


def test_a_gap_filled_within_the_grace_period_is_never_reported():
    ledger = Ledger(grace_ms=1000)
    observe_all(ledger, [1, 3, 2])
    assert ledger.confirmed_gaps(5000) == []


def test_open_ranges_are_bounded_keeping_the_newest():
    ledger = Ledger()
    seqs = range(1, 2 * (MAX_OPEN_RANGES + 10), 2)  # every other seq missing: one range per gap
    observe_all(ledger, seqs)
    missing = ledger.entries()[0].missing
    assert len(missing) == MAX_OPEN_RANGES and missing[-1] == [seqs[-1] - 1] * 2


def test_counters_saturate_at_the_column_size():
    ledger = Ledger(reset_jump=BIG)
    assert observe_all(ledger, [1, BIG]) == ["next", "gap"]
    assert ledger.entries()[0].gaps_total == BIG - 2
    assert observe_all(ledger, [1, BIG]) == ["reset", "gap"]
    assert ledger.entries()[0].gaps_total == BIG


def test_saved_streams_are_read_back_after_eviction(tmp_path):
    engine = make_engine(migrated_sqlite(tmp_path / "ledger.db"))
    clock = [1_000]
    ledger = Ledger(engine=engine, now=lambda: clock[0])
    observe_all(ledger, [1, 2, 5])
    ledger.save()
    assert [(r.device, r.last_seq, r.missing) for r in load_entries(engine)] == [("d1", 5, "[[3,4]]")]
    clock[0] = 10_000
    ledger.advance()
    assert ledger.evict_idle(5_000) == 0  # its gap is not reported yet: kept
    ledger.confirmed_gaps(10**9)
    assert ledger.evict_idle(5_000) == 1 and len(ledger) == 0  # saved and reported: out of memory
    again = Ledger(engine=engine)
    assert again.observe("d1", "telemetry", 3, 0) == "late"
    assert again.entries()[0].missing == [[4, 4]]
    engine.dispose()


def test_a_new_streams_readings_overtaken_by_a_later_one_are_late_not_duplicates():
    """Two workers: a device's seqs 2 and 3 stamped after its seq 4 (the stream's first reading counted)."""
    pool = Ledger(grace_ms=0, reorder_ms=1_000)
    verdicts = [pool.observe("d", "telemetry", seq, ms) for seq, ms in ((4, 10), (2, 11), (3, 12), (5, 13), (3, 14))]
    assert verdicts == ["next", "late", "late", "next", "duplicate"]
    [entry] = pool.entries()
    assert (entry.received - entry.duplicates, entry.missing, entry.late) == (4, [], 2)


def test_below_the_first_seq_leaves_a_gap_for_what_never_came():
    pool = Ledger(grace_ms=0, reorder_ms=1_000)
    [pool.observe("d", "telemetry", seq, ms) for seq, ms in ((9, 10), (5, 11))]
    assert pool.entries()[0].missing == [[6, 8]]  # as if 5 had come first
    assert pool.confirmed_gaps(100) == [Gap("d", "telemetry", 6, 8, 11)]


def test_below_the_first_seq_is_a_duplicate_without_reordering_or_after_the_allowance():
    one = Ledger()
    assert [one.observe("d", "telemetry", seq, ms) for seq, ms in ((4, 10), (2, 11))] == ["next", "duplicate"]
    pool = Ledger(reorder_ms=100)
    assert [pool.observe("d", "telemetry", seq, ms) for seq, ms in ((4, 10), (2, 500))] == ["next", "duplicate"]
