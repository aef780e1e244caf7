"""Bounds every integer the API accepts, so that no value reaches SQL or InfluxDB out of its range.

Ids, offsets and counts fit a signed 64-bit integer (SQL ``BIGINT``);
times in epoch milliseconds lie where InfluxDB can store them (its
nanosecond timestamps end on 2262-04-11). A value outside is a 422 naming
the field, never a 500 from the database.
"""

from __future__ import annotations

MAX_ID = (1 << 63) - 1
MAX_TIME_MS = 9_223_372_036_853  # 2262-04-11T23:47:16.853Z, the last millisecond InfluxDB stores

