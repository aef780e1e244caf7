"""The cached telemetry encoder writes exactly the line `encode_line` writes, for any reading."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from influx.line_protocol import encode_line
from ingest import points
from ingest.points import line_for
from ingest.records import Cohort, Telemetry

names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda n: not n.endswith("\\") and n not in ("time", "seq") and "\\" not in n)
values = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(1 << 63), (1 << 63) - 1),
                   st.booleans())
tag = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters=" ,=-._"), max_size=8).filter(
    lambda v: not v.endswith("\\"))


def reference(r: Telemetry) -> str:
    fields = dict(r.metrics)
    if r.seq is not None:
        fields["seq"] = r.seq
    tags = {"device": r.device, "model": r.cohort.model, "firmware": r.cohort.firmware, "site": r.cohort.site}
    content = "" if r.seq is not None else repr(sorted(r.metrics.items()))
    return encode_line("telemetry", tags, fields, points._time_ns(r.ts_ms, r.seq, content))


@settings(max_examples=300, deadline=None)
@given(device=st.sampled_from(["d1", "d 2", "d,3"]), cohort=st.tuples(tag, tag, tag),
       metrics=st.dictionaries(names, values, min_size=1, max_size=6),
       seq=st.one_of(st.none(), st.integers(0, (1 << 63) - 1)), ts_ms=st.integers(0, 4_000_000_000_000))
def test_cached_line_equals_the_encoder_line(device, cohort, metrics, seq, ts_ms):
    r = Telemetry(device, ts_ms, seq, metrics, Cohort(*cohort))
    assert line_for(r) == reference(r)
    assert line_for(r) == reference(r)  # the second time from the caches


def test_a_value_influxdb_cannot_store_still_raises():
    with pytest.raises(ValueError, match="non-finite"):
        line_for(Telemetry("d1", 1, 1, {"t": float("nan")}))
    with pytest.raises(ValueError, match="signed 64-bit"):
        line_for(Telemetry("d1", 1, 1, {"t": 1 << 64}))


def test_a_device_inventing_metric_names_keeps_few_plans():
    """Names past a device's limit are refused after the line is built: new name sets must not pile up plans."""
    points._field_plans.clear()
    for i in range(3 * points._PLAN_LIMIT):  # small new sets: kept up to the bound, then started afresh
        r = Telemetry("bomb", i, i, {f"k{i}_{n}": 1.0 for n in range(3)})
        assert line_for(r) == reference(r)
        assert len(points._field_plans) <= points._PLAN_LIMIT
    points._field_plans.clear()
    big = Telemetry("bomb", 1, 1, {f"k{n}": 1.0 for n in range(points._PLAN_NAMES + 1)})
    assert line_for(big) == reference(big) and line_for(big) == reference(big)
    assert not points._field_plans  # built each time, never kept
    usual = Telemetry("pump", 1, 1, {"temp_c": 20.5, "current_a": 3})
    assert line_for(usual) == reference(usual) and len(points._field_plans) == 1
