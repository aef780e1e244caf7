r"""Faultline's line-protocol encoder: one point in, one line out.

The rules are InfluxDB's own (the server's parser in 1.x and 2.x, checked
against a real server in the tests):

- The measurement escapes ``,`` and space; tag keys, tag values and field
  keys escape ``,``, ``=`` and space. A backslash is written as is: the
  server keeps a backslash that does not precede one of those characters
  and reads ``\\,`` as a backslash followed by an escaped comma.
- Tags are written sorted by key (InfluxDB's recommended order, and it makes
  lines canonical); fields are written sorted by key too. Tags whose value
  is empty (or ``None``) are skipped.
- ``float`` values are written with ``repr`` (shortest round-trip form) with
  a trailing ``.0`` dropped, so ``1.0`` is ``1`` and every float reads back
  exactly. NaN and infinities raise ``ValueError``: InfluxDB cannot store
  them, and the caller dead-letters the point.
- ``int`` values get the ``i`` suffix; the ``u`` suffix is never written
  (InfluxDB 1.x rejects it). An int outside the signed 64-bit range raises
  ``ValueError`` (an unsigned value that fits in int64 is simply an int).
- ``bool`` values are ``true``/``false``; ``str`` values are double-quoted
  with ``"`` and ``\`` escaped. Newlines, tabs and carriage returns in
  string values are written literally: the server keeps them inside the
  quotes, whereas an escaped ``\n`` would be stored as a backslash and an
  ``n``.
- The timestamp is written as given (an int in the precision the caller
  sends with the write) or left out when ``None``.

What the server cannot store raises ``ValueError`` instead of producing a
line that would be rejected or, worse, silently altered: no fields, a name
that is empty, contains a newline or ends with a backslash (the backslash
would escape the separator), a measurement starting with ``#`` (a comment
line), a tag or field key named ``time``.

Deliberate deviations from the Go line-protocol corpus (the encode vectors):
an empty tag value is skipped rather than an error (Faultline's contract),
a newline in a string field is written literally rather than as ``\n``
(which InfluxDB would store as two characters), and floats use Python's
shortest form (``6632243`` rather than ``6.632243e+06``; equal in value).

>>> encode_line("telemetry", {"site": "sh-03", "device": "d 1"}, {"temp_c": 41.0, "seq": 7}, 1700000000000)
'telemetry,device=d\\ 1,site=sh-03 seq=7i,temp_c=41 1700000000000'
"""

from __future__ import annotations

from collections.abc import Mapping

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 63) - 1

_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STRING_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\"})

# Escaped names by raw name. Names repeat (measurements, keys, device ids),
# so escaping and validation happen once per distinct name; the caches are
# emptied when they grow past the bound.
_CACHE_LIMIT = 65_536
_measurements: dict[str, str] = {}
_keys: dict[str, str] = {}
_tag_values: dict[str, str] = {}


def _check_name(name: object, what: str) -> str:
    if type(name) is not str and not isinstance(name, str):
        raise ValueError(f"{what} must be a string, not {type(name).__name__}")
    if not name:
        raise ValueError(f"{what} is empty")
    if "\n" in name:
        raise ValueError(f"{what} {name!r} contains a newline")
    if name.endswith("\\"):
        raise ValueError(f"{what} {name!r} ends with a backslash")
    return name


def _remember(cache: dict[str, str], raw: str, escaped: str) -> str:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[raw] = escaped
    return escaped


def escape_measurement(name: str) -> str:
    r"""The measurement as written in a line.

    >>> escape_measurement("cpu load,1")
    'cpu\\ load\\,1'
    >>> escape_measurement("a=b")
    'a=b'
    """
    escaped = _measurements.get(name)
    if escaped is None:
        _check_name(name, "measurement")
        if name.startswith("#"):
            raise ValueError(f"measurement {name!r} starts with '#' (a comment line)")
        escaped = _remember(_measurements, name, name.translate(_MEASUREMENT_ESCAPES))
    return escaped


def escape_key(name: str) -> str:
    r"""A tag key or field key as written in a line.

    >>> escape_key("value ms=1,2")
    'value\\ ms\\=1\\,2'
    >>> escape_key("time")
    Traceback (most recent call last):
    ...
    ValueError: key 'time' is reserved by InfluxDB
    """
    escaped = _keys.get(name)
    if escaped is None:
        _check_name(name, "key")
        if name == "time":
            raise ValueError("key 'time' is reserved by InfluxDB")
        escaped = _remember(_keys, name, name.translate(_KEY_ESCAPES))
    return escaped


def escape_tag_value(value: str) -> str:
    r"""A (non-empty) tag value as written in a line.

    >>> escape_tag_value("east west")
    'east\\ west'
    """
    escaped = _tag_values.get(value)
    if escaped is None:
        _check_name(value, "tag value")
        escaped = _remember(_tag_values, value, value.translate(_KEY_ESCAPES))
    return escaped


def format_field_value(value: float | int | bool | str) -> str:
    r"""A field value as written in a line.

    >>> [format_field_value(v) for v in (1.0, 0.1, 1e300, -3, True, 'say "hi"')]
    ['1', '0.1', '1e+300', '-3i', 'true', '"say \\"hi\\""']
    >>> format_field_value(float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: non-finite float nan cannot be stored
    """
    kind = type(value)
    if kind is float:
        text = repr(value)
        if text[-2:] == ".0":
            return text[:-2]
        if value - value != 0.0:  # inf or nan
            raise ValueError(f"non-finite float {value!r} cannot be stored")
        return text
    if kind is str:
        if '"' in value or "\\" in value:
            value = value.translate(_STRING_ESCAPES)
        return '"' + value + '"'
    if kind is int:
        if _INT_MIN <= value <= _INT_MAX:
            return f"{value}i"
        raise ValueError(f"integer {value} is outside the signed 64-bit range")
    if kind is bool:
        return "true" if value else "false"
    return _format_other(value)


def _format_other(value: object) -> str:
    r"""Subclasses and numeric look-alikes (IntEnum, numpy scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return format_field_value(int(value))
    if isinstance(value, float):
        return format_field_value(float(value))
    if isinstance(value, str):
        return format_field_value(str(value))
    if hasattr(value, "dtype"):  # numpy scalar
        return format_field_value(value.item())
    raise ValueError(f"unsupported field value type {type(value).__name__}")


def encode_line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, float | int | bool | str],
    ts: int | None,
) -> str:
    r"""One line of line protocol (without the trailing newline).

    >>> encode_line("m", {"a": "1", "b": ""}, {"f": "x"}, None)
    'm,a=1 f="x"'
    >>> encode_line("m", {}, {}, 1)
    Traceback (most recent call last):
    ...
    ValueError: a point needs at least one field
    """
    parts = [_measurements.get(measurement) or escape_measurement(measurement)]
    if tags:
        for key, value in sorted(tags.items()):
            if value:
                parts.append(",")
                parts.append(_keys.get(key) or escape_key(key))
                parts.append("=")
                parts.append(_tag_values.get(value) or escape_tag_value(value))
    if not fields:
        raise ValueError("a point needs at least one field")
    sep = " "
    for key, value in sorted(fields.items()):
        parts.append(sep)
        parts.append(_keys.get(key) or escape_key(key))
        parts.append("=")
        parts.append(format_field_value(value))
        sep = ","
    if ts is not None:
        parts.append(" ")
        parts.append(str(int(ts)))
    return "".join(parts)

