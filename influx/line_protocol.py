r"""Faultline's line-protocol encoder: one point in, one line out.

The rules are InfluxDB's own (the server's parser in 1.x and 2.x, checked
against a real server in the tests):

- The measurement escapes ``,`` and space; tag keys, tag values and field
  keys escape ``,``, ``=`` and space. A backslash is written as is (there
  is no escape for it): the server keeps a backslash that does not precede
  one of those characters, and in tag keys and values it reads ``\\,`` as
  a backslash followed by an escaped comma.
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

What InfluxDB cannot store, or would store altered, raises ``ValueError``
(the caller dead-letters the point) instead of producing a bad line:

- no fields; an empty name or key;
- a name, key or tag value containing a newline, carriage return or NUL
  (a newline ends the line; InfluxQL cannot address a carriage return);
- a name, key or tag value ending with a backslash (it would escape the
  separator that follows);
- in a measurement, a backslash before ``,``, ``=``, space or ``"``; in a
  field key, a backslash before ``"`` or an odd run of backslashes before
  ``,``, ``=`` or space (the server takes them as escapes there and drops
  the backslash or fails to parse); a leading tab in either (the server
  strips it);
- a measurement starting with ``#`` (a comment line); a tag or field key
  named ``time`` (InfluxDB drops the point).

Deliberate deviations from the Go line-protocol corpus (the encode vectors):
an empty tag value is skipped rather than an error (Faultline's contract),
a newline in a string field is written literally rather than as ``\n``
(which InfluxDB would store as two characters), and floats use Python's
shortest form (``6632243`` rather than ``6.632243e+06``; equal in value).

>>> encode_line("telemetry", {"site": "sh-03", "device": "d 1"}, {"temp_c": 41.0, "seq": 7}, 1700000000000)
'telemetry,device=d\\ 1,site=sh-03 seq=7i,temp_c=41 1700000000000'
"""

from __future__ import annotations

import re
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
# What the server's parser cannot take back (measured against InfluxDB 1.x
# over every name of up to four characters from a, backslash, comma, equals,
# space and double quote):
_MEASUREMENT_UNSAFE = re.compile(r"\\[ ,=\"]")
_FIELD_KEY_UNSAFE = re.compile(r"(?<!\\)(?:\\\\)*\\[ ,=]|\\\"")
_measurements: dict[str, str] = {}
_tag_keys: dict[str, str] = {}
_field_keys: dict[str, str] = {}
_tag_values: dict[str, str] = {}


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{what} must be a string, not {type(name).__name__}")
    if not name:
        raise ValueError(f"{what} is empty")
    if "\n" in name or "\r" in name or "\0" in name:
        raise ValueError(f"{what} {name!r} contains a newline, carriage return or NUL")
    if name.endswith("\\"):
        raise ValueError(f"{what} {name!r} ends with a backslash")
    return name


def _check_measurement(name: str) -> str:
    _check_name(name, "measurement")
    if "\\" in name and _MEASUREMENT_UNSAFE.search(name):
        raise ValueError(f"measurement {name!r} has a backslash before a comma, '=', space or '\"'")
    if name[0] in "#\t":
        raise ValueError(f"measurement {name!r} starts with '#' (a comment line) or a tab")
    return name


def _check_field_key(name: str) -> str:
    _check_name(name, "field key")
    if "\\" in name and _FIELD_KEY_UNSAFE.search(name):
        raise ValueError(f"field key {name!r} has a backslash before '\"' or an odd run of them "
                         "before a comma, '=' or space")
    if name[0] == "\t":
        raise ValueError(f"field key {name!r} starts with a tab")
    if name == "time":
        raise ValueError("key 'time' is reserved by InfluxDB")
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
        _check_measurement(name)
        escaped = _remember(_measurements, name, name.translate(_MEASUREMENT_ESCAPES))
    return escaped


def escape_tag_key(name: str) -> str:
    r"""A tag key as written in a line.

    >>> escape_tag_key("value ms=1,2")
    'value\\ ms\\=1\\,2'
    >>> escape_tag_key("time")
    Traceback (most recent call last):
    ...
    ValueError: key 'time' is reserved by InfluxDB
    """
    escaped = _tag_keys.get(name)
    if escaped is None:
        _check_name(name, "tag key")
        if name == "time":
            raise ValueError("key 'time' is reserved by InfluxDB")
        escaped = _remember(_tag_keys, name, name.translate(_KEY_ESCAPES))
    return escaped


def escape_field_key(name: str) -> str:
    r"""A field key as written in a line.

    >>> escape_field_key("temp c")
    'temp\\ c'
    >>> escape_field_key("a\\=b")
    Traceback (most recent call last):
    ...
    ValueError: field key 'a\\=b' has a backslash before '"' or an odd run of them before a comma, '=' or space
    """
    escaped = _field_keys.get(name)
    if escaped is None:
        _check_field_key(name)
        escaped = _remember(_field_keys, name, name.translate(_KEY_ESCAPES))
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


def encode_series(measurement: str, tags: Mapping[str, str]) -> str:
    r"""The series key: the measurement and its tags as a line starts (callers cache it per series).

    >>> encode_series("telemetry", {"site": "sh 03", "device": "d1", "model": ""})
    'telemetry,device=d1,site=sh\\ 03'
    """
    parts = [_measurements.get(measurement) or escape_measurement(measurement)]
    for key, value in sorted(tags.items()):
        if value:
            parts.append(",")
            parts.append(_tag_keys.get(key) or escape_tag_key(key))
            parts.append("=")
            parts.append(_tag_values.get(value) or escape_tag_value(value))
    return "".join(parts)


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
                parts.append(_tag_keys.get(key) or escape_tag_key(key))
                parts.append("=")
                parts.append(_tag_values.get(value) or escape_tag_value(value))
    if not fields:
        raise ValueError("a point needs at least one field")
    sep = " "
    for key, value in sorted(fields.items()):
        parts.append(sep)
        parts.append(_field_keys.get(key) or escape_field_key(key))
        parts.append("=")
        parts.append(format_field_value(value))
        sep = ","
    if ts is not None:
        parts.append(" ")
        parts.append(str(int(ts)))
    return "".join(parts)

