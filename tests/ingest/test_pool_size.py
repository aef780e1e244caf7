"""How many processes `faultline ingest` runs by default, from what its data dir remembers (`ingest.pool_size`)."""

from __future__ import annotations

from ingest.pool_size import PoolSize, last_pool_size, remember_pool_size


def test_a_fresh_data_dir_gets_one_worker_per_core(tmp_path):
    assert PoolSize.for_data_dir(0, tmp_path / "data", cores=3) == PoolSize(3)


def test_the_automatic_count_never_drops_below_the_pool_last_run(tmp_path):
    remember_pool_size(tmp_path, 4)
    assert last_pool_size(tmp_path) == 4
    smaller = PoolSize.for_data_dir(0, tmp_path, cores=2)
    assert smaller.count == 4 and "4 workers as last run" in smaller.note
    assert PoolSize.for_data_dir(0, tmp_path, cores=6) == PoolSize(6)  # raising is safe


def test_an_explicit_smaller_pool_runs_and_says_what_it_leaves_behind(tmp_path):
    remember_pool_size(tmp_path, 4)
    size = PoolSize.for_data_dir(2, tmp_path, cores=8)
    assert size.count == 2 and "workers 3..4" in size.note


def test_where_one_process_ran_the_automatic_count_stays_one(tmp_path):
    (tmp_path / "spool").mkdir()  # the spool of one `faultline ingest --workers 1` or `faultline run`
    size = PoolSize.for_data_dir(0, tmp_path, cores=2)
    assert size.count == 1 and "Going from one process to workers" in size.note
    assert PoolSize.for_data_dir(2, tmp_path, cores=2) == PoolSize(2)  # asked for: obeyed
    remember_pool_size(tmp_path, 2)  # a pool ran since: its sessions are the ones to keep read
    assert PoolSize.for_data_dir(0, tmp_path, cores=2) == PoolSize(2)


def test_an_unreadable_record_counts_as_none(tmp_path):
    (tmp_path / "ingest-workers").write_text("two\n")
    assert last_pool_size(tmp_path) is None
