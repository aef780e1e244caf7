"""InfluxError: what went wrong talking to InfluxDB, and whether a retry can help.

The decision is made here, where the status code is known, by the one
outbound-HTTP policy (`runtime.retry`): network errors, timeouts, 5xx, 408,
425 and 429 are retryable (the batch stays in the spool);
400/422 (parse error, field type conflict, partial write), 401/403, 404 and
413 are not (the points go to the dead-letter store, or the operator fixes
the configuration).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from runtime.retry import parse_retry_after, retryable_status
_EXCERPT = 1000


class InfluxError(Exception):
    """A failed request to InfluxDB.

    ``status`` is the HTTP status (None for a network error or timeout),
    ``retryable`` whether the same request may succeed later,
    ``retry_after`` the server's hint in seconds (or None), and ``partial``
    whether InfluxDB stored some points of the batch and rejected others.

    >>> e = InfluxError("overloaded", status=429, retryable=True, retry_after=7.0)
    >>> str(e), e.retryable, e.retry_after
    ('overloaded', True, 7.0)
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        partial: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.partial = partial

    def __repr__(self) -> str:
        return (f"InfluxError({self.message!r}, status={self.status!r}, retryable={self.retryable!r}, "
                f"retry_after={self.retry_after!r}, partial={self.partial!r})")


def server_message(body: bytes) -> str:
    """The error text from an InfluxDB response body (1.x ``error``, 2.x/3.x ``message``).

    >>> server_message(b'{"error":"database not found: \\\\"x\\\\""}')
    'database not found: "x"'
    >>> server_message(b'{"code":"not found","message":"bucket not found"}')
    'bucket not found'
    >>> server_message(b'<html>Bad Gateway</html>')
    '<html>Bad Gateway</html>'
    """
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:_EXCERPT]
    if isinstance(doc, Mapping):
        for key in ("error", "message"):
            if isinstance(doc.get(key), str):
                return doc[key][:_EXCERPT]
    return text[:_EXCERPT]


def error_for_status(status: int, body: bytes, retry_after: str | None, what: str, db: str) -> InfluxError:
    """The InfluxError for a non-success HTTP response to ``what`` (e.g. ``"write"``).

    >>> e = error_for_status(400, b'{"error":"partial write: field type conflict: input field \\\\"v\\\\" ..."}', None, "write", "db")
    >>> e.retryable, e.partial, 'field "v"' in str(e)
    (False, True, True)
    >>> e = error_for_status(503, b"", "7", "write", "db")
    >>> e.retryable, e.retry_after
    (True, 7.0)
    """
    text = server_message(body)
    detail = f": {text}" if text else ""
    if retryable_status(status):
        return InfluxError(f"InfluxDB {what} failed with {status} (retryable){detail}", status, True,
                           parse_retry_after(retry_after))
    if status in (400, 422):
        return InfluxError(f"InfluxDB rejected the {what} ({status}){detail}", status, False,
                           partial="partial write" in text)
    if status in (401, 403):
        return InfluxError(f"InfluxDB refused the {what} ({status}): check the user and password "
                           f"(or token) and their permissions on database {db!r}{detail}", status)
    if status == 404:
        return InfluxError(f"InfluxDB {what}: database {db!r} not found ({status}); create it "
                           f"(1.x: CREATE DATABASE; 2.x: a bucket named {db!r}){detail}", status)
    if status == 413:
        return InfluxError(f"InfluxDB {what}: request body too large ({status}); send smaller batches"
                           f"{detail}", status)
    return InfluxError(f"InfluxDB {what} failed with {status}{detail}", status)
