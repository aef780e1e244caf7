"""The pool's ledger without services: workers' pipes in, one ledger in SQLite out.

Real pipes (as `faultline ingest --workers N` makes them) and a SQLite file;
the InfluxDB writer is a list (the seam `ingest.writer.LineWriter`).
"""

from __future__ import annotations

import os
import threading

import orjson

from database import make_engine
from ingest.ledger import Ledger, load_entries
from ingest.ledger_keeper import LedgerFeed, LedgerKeeper
from support.sqlite import migrated_sqlite
from support.waiting import wait_until


class Lines:
    def __init__(self):
        self.bodies: list[bytes] = []

    def write(self, body, precision="ms", gzip=False):
        self.bodies.append(body)


def pipe_to(keeper: LedgerKeeper, name: str) -> LedgerFeed:
    read_fd, write_fd = os.pipe()
    keeper.follow(name, read_fd)
    return LedgerFeed(write_fd)


def test_two_workers_pipes_make_one_ledger_and_a_cut_line_counts_nothing(tmp_path):
    engine = make_engine(migrated_sqlite(tmp_path / "ledger.db"))
    influx = Lines()
    clock = [300]  # nothing held 500 ms yet
    keeper = LedgerKeeper(Ledger(grace_ms=1_000, engine=engine, reorder_ms=500), influx, interval_s=3600,
                          hold_ms=500, now=lambda: clock[0])
    one, two = pipe_to(keeper, "1"), pipe_to(keeper, "2")
    done = threading.Event()
    keeping = threading.Thread(target=keeper.run, args=(done,))
    keeping.start()
    # The broker spread d1's seqs 1..8 over both workers; seq 6 never came; worker 2 wrote its batch last.
    one([(100, 1, "d1", "telemetry"), (102, 3, "d1", "telemetry"), (104, 5, "d1", "telemetry")])
    one([(107, 8, "d1", "telemetry")])
    two([(101, 2, "d1", "telemetry"), (103, 4, "d1", "telemetry"), (106, 7, "d1", "telemetry")])
    os.write(two.fd, orjson.dumps([(108, 9, "d1", "telemetry")])[:-3])  # killed in the middle of a line
    one.close()
    two.close()
    wait_until(lambda: keeper.lines == 3, 30, what="the three whole lines taken")
    clock[0] = 10_000  # the gap is past its grace
    done.set()
    keeping.join(30)  # every pipe read to its end, everything counted in the order received, reported, saved
    assert not keeping.is_alive()
    [row] = load_entries(engine)
    assert (row.received, row.last_seq, row.missing, row.late, row.duplicates, row.resets) == (7, 8, "[[6,6]]", 0, 0, 0)
    assert b"".join(influx.bodies).count(b"ingest_gaps") == 1 and b"from_seq=6i" in influx.bodies[0]
