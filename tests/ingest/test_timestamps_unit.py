"""Device timestamps without services: the accepted forms and units, and the clock-skew rule."""

from __future__ import annotations

import pytest

from ingest.timestamps import MS_THRESHOLD, TimestampError, apply_skew_rule, parse_ts


@pytest.mark.parametrize("value, ms", [
    (None, None),
    (0, 0),
    (1_700_000_000, 1_700_000_000_000),  # seconds
    (1_700_000_000.25, 1_700_000_000_250),  # fractional seconds
    (MS_THRESHOLD, MS_THRESHOLD * 1000),  # the threshold itself still counts as seconds
    (MS_THRESHOLD + 1, MS_THRESHOLD + 1),  # above it: milliseconds
    (1_700_000_000_123, 1_700_000_000_123),
    (1_700_000_000_123.9, 1_700_000_000_123),  # float milliseconds are truncated
    ("2023-11-14T22:13:20Z", 1_700_000_000_000),
    ("2023-11-14T22:13:20.25Z", 1_700_000_000_250),
    ("2023-11-14T23:13:20+01:00", 1_700_000_000_000),
    ("2023-11-14 22:13:20+00:00", 1_700_000_000_000),
])
def test_accepted_forms_and_units(value, ms):
    assert parse_ts(value) == ms


@pytest.mark.parametrize("value, says", [
    (True, "not a boolean"),
    (-1, "is negative"),
    (-0.5, "not a finite positive number"),
    (float("nan"), "not a finite positive number"),
    (float("inf"), "not a finite positive number"),
    ("yesterday", "is not RFC 3339"),
    ("2023-11-14T22:13:20", "has no time zone"),
    ("2023-11-14T22:13:20Z" + " " * 30, "too long"),
    ([1_700_000_000], "not list"),
    ({"s": 1}, "not dict"),
])
def test_rejected_values_say_why(value, says):
    with pytest.raises(TimestampError, match=says):
        parse_ts(value)


RECEIVED, SKEW, AGE = 1_700_000_000_000, 300_000, 86_400_000


@pytest.mark.parametrize("ts, stored, skewed", [
    (None, RECEIVED, False),  # absent: the time of receipt, not a skew
    (RECEIVED, RECEIVED, False),
    (RECEIVED + SKEW, RECEIVED + SKEW, False),  # exactly the allowed lead
    (RECEIVED + SKEW + 1, RECEIVED, True),  # further in the future
    (RECEIVED - AGE, RECEIVED - AGE, False),  # exactly the maximum age
    (RECEIVED - AGE - 1, RECEIVED, True),  # older
    (0, RECEIVED, True),  # a device clock at the epoch
])
def test_skew_rule_replaces_only_timestamps_outside_the_window(ts, stored, skewed):
    assert apply_skew_rule(ts, RECEIVED, SKEW, AGE) == (stored, skewed)
