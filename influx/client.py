"""InfluxClient: the one place where Faultline talks HTTP to InfluxDB.

It speaks the API every InfluxDB serves: line protocol to ``/write`` and
InfluxQL to ``/query`` (1.x natively, 2.x through the v1 compatibility API,
3.x natively). Authentication is HTTP Basic (a 2.x token goes in as the
password). Requests are never retried here: a failure raises
:class:`~influx.errors.InfluxError` saying whether a retry can help, and the
caller (the spool) decides.
"""

from __future__ import annotations

import gzip as gzip_module
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode

import urllib3

from influx.errors import InfluxError, error_for_status
from influx.query import quote_ident

PRECISIONS = ("s", "ms", "ns")
EPOCHS = ("h", "m", "s", "ms", "u", "ns")
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What ``/ping`` says about the server."""

    version: str
    major: int


@dataclass(frozen=True, slots=True)
class Series:
    """One series of an InfluxQL result."""

    name: str
    tags: Mapping[str, str]
    columns: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    def rows(self) -> list[dict[str, Any]]:
        """Each value row as a dict, with the series' tags merged in.

        >>> Series("m", {"device": "d1"}, ("time", "v"), ((1, 2.5),)).rows()
        [{'device': 'd1', 'time': 1, 'v': 2.5}]
        """
        rows = []
        for values in self.values:
            row = dict(self.tags)
            row.update(zip(self.columns, values))
            rows.append(row)
        return rows


def major_version(version: str) -> int:
    """The major version from ``X-Influxdb-Version`` (0 when unknown).

    >>> major_version("1.6.7~rc0"), major_version("v2.7.10"), major_version("3.1.0"), major_version("")
    (1, 2, 3, 0)
    """
    match = re.match(r"v?(\d+)", version.strip())
    return int(match.group(1)) if match else 0


def parse_results(doc: Mapping[str, Any], status: int) -> list[Series]:
    """The series of a ``/query`` response; a statement error raises InfluxError.

    >>> parse_results({"results": [{"statement_id": 0, "series": [
    ...     {"name": "m", "columns": ["time", "v"], "values": [[1, 2]]}]}]}, 200)
    [Series(name='m', tags={}, columns=('time', 'v'), values=((1, 2),))]
    >>> parse_results({"results": [{"statement_id": 0, "error": "measurement not found"}]}, 200)
    Traceback (most recent call last):
    ...
    influx.errors.InfluxError: InfluxDB query failed: measurement not found
    """
    if "error" in doc:
        raise InfluxError(f"InfluxDB query failed: {doc['error']}", status)
    series = []
    for result in doc.get("results", ()):
        if "error" in result:
            raise InfluxError(f"InfluxDB query failed: {result['error']}", status)
        for s in result.get("series", ()):
            series.append(Series(
                name=s.get("name", ""),
                tags=s.get("tags") or {},
                columns=tuple(s.get("columns", ())),
                values=tuple(tuple(v) for v in s.get("values", ())),
            ))
    return series


class InfluxClient:
    """A keep-alive HTTP client for one InfluxDB database.

    >>> InfluxClient("http://127.0.0.1:8086", "faultline", user="svc", password="s3cret")
    InfluxClient(url='http://127.0.0.1:8086', db='faultline', user='svc', password='***', timeout=10.0)
    >>> InfluxClient("http://svc:s3cret@influx:8086/", "faultline")
    InfluxClient(url='http://influx:8086', db='faultline', user='svc', password='***', timeout=10.0)
    """

    def __init__(self, url: str, db: str, user: str = "", password: str = "", timeout: float = 10.0) -> None:
        parts = urllib3.util.parse_url(url)
        if parts.auth:  # credentials in the URL move to the Basic auth header, out of messages
            url_user, _, url_password = parts.auth.partition(":")
            user, password = user or unquote(url_user), password or unquote(url_password)
            url = parts._replace(auth=None).url
        self.url = url.rstrip("/")
        self.db = db
        self.user = user
        self.password = password
        self.timeout = timeout
        self._http: urllib3.PoolManager | None = None

    def __repr__(self) -> str:
        secret = "***" if self.password else ""
        return (f"InfluxClient(url={self.url!r}, db={self.db!r}, user={self.user!r}, "
                f"password={secret!r}, timeout={self.timeout!r})")

    # -- transport -------------------------------------------------------

    def _pool(self) -> urllib3.PoolManager:
        if self._http is None:
            headers = {"User-Agent": "faultline"}
            if self.user or self.password:
                headers.update(urllib3.make_headers(basic_auth=f"{self.user}:{self.password}"))
            self._http = urllib3.PoolManager(
                num_pools=2, maxsize=4, retries=False, headers=headers,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
            )
        return self._http

    def _redact(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text

    def _request(self, method: str, path: str, what: str, *, query: Mapping[str, str] | None = None,
                 body: bytes | None = None, headers: Mapping[str, str] | None = None,
                 timeout: float | None = None) -> urllib3.BaseHTTPResponse:
        url = self.url + path + ("?" + urlencode(query) if query else "")
        pool = self._pool()
        if headers:  # per-request headers replace the pool's, so merge them (auth included)
            headers = {**pool.headers, **headers}
        try:
            if timeout is not None:
                return pool.request(method, url, body=body, headers=headers,
                                    timeout=urllib3.Timeout(connect=timeout, read=timeout))
            return pool.request(method, url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            reason = self._redact(f"{type(exc).__name__}: {exc}")
            raise InfluxError(f"InfluxDB {what} at {self.url} failed (retryable): {reason}",
                              None, True) from None

    def _error(self, resp: urllib3.BaseHTTPResponse, what: str) -> InfluxError:
        err = error_for_status(resp.status, resp.data, resp.headers.get("Retry-After"), what, self.db)
        err.message = self._redact(err.message)
        err.args = (err.message,)
        return err

    def close(self) -> None:
        """Close pooled connections (the client stays usable)."""
        if self._http is not None:
            self._http.clear()

    # -- API -------------------------------------------------------------

    def ping(self, timeout: float | None = None) -> ServerInfo:
        """The server's version, from ``/ping`` (within `timeout` seconds, default the client's)."""
        resp = self._request("GET", "/ping", "ping", timeout=timeout)
        if resp.status not in (200, 204):
            raise self._error(resp, "ping")
        version = resp.headers.get("X-Influxdb-Version", "")
        return ServerInfo(version, major_version(version))

    def write(self, body: bytes | str, precision: str = "ms", gzip: bool = False) -> None:
        """POST line protocol to ``/write``; raises InfluxError unless InfluxDB stored every point."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if not data or data.isspace():
            return
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if gzip:
            data = gzip_module.compress(data, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        resp = self._request("POST", "/write", "write", query={"db": self.db, "precision": precision},
                             body=data, headers=headers)
        if resp.status not in (200, 204):
            raise self._error(resp, "write")

    def query(self, q: str, params: Mapping[str, Any] | None = None, epoch: str | None = "ms") -> list[Series]:
        """Run InfluxQL (POST ``/query``); ``$name`` placeholders are bound from ``params``."""
        fields = {"q": q, "db": self.db}
        if epoch is not None:
            if epoch not in EPOCHS:
                raise ValueError(f"epoch must be one of {', '.join(EPOCHS)}, not {epoch!r}")
            fields["epoch"] = epoch
        if params:
            fields["params"] = json.dumps(dict(params))
        resp = self._request("POST", "/query", "query", body=urlencode(fields).encode(), headers=_FORM)
        if resp.status != 200:
            raise self._error(resp, "query")
        try:
            doc = json.loads(resp.data)
        except ValueError:
            raise InfluxError(f"InfluxDB query: response is not JSON: {resp.data[:200]!r}", resp.status) from None
        return parse_results(doc, resp.status)

    def rows(self, q: str, params: Mapping[str, Any] | None = None, epoch: str | None = "ms") -> list[dict[str, Any]]:
        """The query's series flattened into rows, tags merged into each row."""
        return [row for series in self.query(q, params, epoch) for row in series.rows()]

    def ensure_database(self) -> None:
        """Make sure the database exists.

        On 1.x it is created (``CREATE DATABASE`` is idempotent). 2.x and 3.x
        cannot create one through InfluxQL: a missing one raises an error
        saying how to create the bucket (and its DBRP mapping).
        """
        info = self.ping()
        if info.major <= 1:
            try:
                self.query(f"CREATE DATABASE {quote_ident(self.db)}")
                return
            except InfluxError as exc:
                if exc.retryable or self.db not in self._databases():
                    raise
                return
        if self.db not in self._databases():
            raise InfluxError(self._missing_database_advice(info), None, False)

    def _databases(self) -> set[str]:
        return {row["name"] for row in self.rows("SHOW DATABASES")}

    def _missing_database_advice(self, info: ServerInfo) -> str:
        db = self.db
        if info.major == 2:
            return (f"InfluxDB {info.version} has no database {db!r} for the v1 API: create a bucket named {db!r} "
                    f"(`influx bucket create --name {db}`; a bucket named like the database is mapped "
                    f"automatically), or map an existing bucket with "
                    f"`influx v1 dbrp create --db {db} --rp autogen --bucket-id <id> --default`")
        return (f"InfluxDB {info.version} has no database {db!r}: create it "
                f"(`influxdb3 create database {db}`) or give the token write access to it")
