"""The disk spool on a temp dir: order, the byte bound, and what survives a restart."""

from __future__ import annotations

import pickle

import pytest

from ingest.batch import SourceMessage, SpooledBatch
from ingest.spool import Spool, SpoolFull


def batch(n: int) -> SpooledBatch:
    src = SourceMessage(f"devices/d{n}/telemetry", b'{"metrics": {"a": %d}}' % n, n, f"d{n}", "2.1.0", 0, 1)
    return SpooledBatch([f"telemetry,device=d{n} a={n}"], [src])


def drain(spool: Spool) -> list[str]:
    out = []
    while (item := spool.peek()) is not None:
        path, b = item
        out.append(b.lines[0])
        spool.pop(path)
    return out


def test_batches_come_back_oldest_first_and_whole(tmp_path):
    spool = Spool(tmp_path / "spool", 1 << 20)
    for n in range(3):
        spool.append(batch(n))
    assert len(spool) == 3 and spool.size_bytes > 0
    path, first = spool.peek()
    assert first == batch(0) and spool.peek()[0] == path  # peek leaves it in place
    assert drain(spool) == [f"telemetry,device=d{n} a={n}" for n in range(3)]
    assert (len(spool), spool.size_bytes) == (0, 0)


def test_a_reopened_spool_keeps_its_batches_and_their_order(tmp_path):
    spool = Spool(tmp_path, 1 << 20)
    for n in range(2):
        spool.append(batch(n))
    spool.pop(spool.peek()[0])
    spool.append(batch(2))
    reopened = Spool(tmp_path, 1 << 20)
    assert (len(reopened), reopened.size_bytes) == (2, spool.size_bytes)
    reopened.append(batch(3))
    assert [line.split("=")[1].split()[0] for line in drain(reopened)] == ["d1", "d2", "d3"]


def test_an_interrupted_write_never_counts(tmp_path):
    Spool(tmp_path, 1 << 20).append(batch(0))
    (tmp_path / "00000000000000000002.tmp").write_bytes(b"half a pickle")
    spool = Spool(tmp_path, 1 << 20)
    assert len(spool) == 1 and not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("fits", [1, 2, 5])
def test_the_byte_bound_refuses_once_full(tmp_path, fits):
    size = len(pickle.dumps(batch(0), protocol=pickle.HIGHEST_PROTOCOL))
    spool = Spool(tmp_path, size * fits)
    for n in range(fits):
        spool.append(batch(n))
    with pytest.raises(SpoolFull, match=f"bound {size * fits}"):
        spool.append(batch(fits))
    assert len(spool) == fits
    spool.pop(spool.peek()[0])
    spool.append(batch(fits))  # room again after a drain


def test_an_empty_spool_takes_one_batch_even_over_the_bound(tmp_path):
    spool = Spool(tmp_path, 1)
    spool.append(batch(0))  # never stuck: the writer can always make progress
    assert len(spool) == 1
