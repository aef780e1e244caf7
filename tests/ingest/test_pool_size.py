"""How many processes `faultline ingest` runs by default, from what its data dir remembers (`ingest.pool_size`)."""

from __future__ import annotations

from ingest.pool_size import PoolSize, last_pool_size, remember_pool_size


def test_a_fresh_data_dir_gets_one_writer_per_core_behind_one_session(tmp_path):
    assert PoolSize.for_data_dir(0, tmp_path / "data", cores=3, relay=True) == PoolSize(3, relay=True)
    assert PoolSize.for_data_dir(1, tmp_path / "data", cores=3, relay=True) == PoolSize(1)
    (tmp_path / "data" / "spool").mkdir(parents=True)  # one process ran here: its session is the relay's
    assert PoolSize.for_data_dir(0, tmp_path / "data", cores=3, relay=True) == PoolSize(3, relay=True)


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


def test_without_the_relay_the_automatic_count_is_one_process_until_a_pool_is_asked_for(tmp_path):
    """A shared group or the detector handoff: workers would be sessions on a shared subscription."""
    assert PoolSize.for_data_dir(0, tmp_path, cores=2) == PoolSize(1)
    assert PoolSize.for_data_dir(2, tmp_path, cores=2) == PoolSize(2)  # asked for: obeyed
    remember_pool_size(tmp_path, 2)  # a pool ran since: its sessions are the ones to keep read
    assert PoolSize.for_data_dir(0, tmp_path, cores=2) == PoolSize(2)
    assert PoolSize.for_data_dir(0, tmp_path, cores=2, relay=True) == PoolSize(2)  # not the relay's session


def test_an_unreadable_record_counts_as_none(tmp_path):
    (tmp_path / "ingest-workers").write_text("two\n")
    assert last_pool_size(tmp_path) is None
