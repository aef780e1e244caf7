"""What the API checks before a request reaches a route: the body size and the keys of operator pages.

- `BodyLimit`: a body larger than ``api_max_body_bytes`` is answered 413
  before it is read, parsed or its API key looked up. A declared
  ``Content-Length`` over the limit is refused at once; a body without one
  (chunked) is counted as it arrives and refused when it passes the limit.
- `KeyGate`: ``/docs`` (with ``/redoc``, ``/openapi.json`` and their assets)
  and ``/metrics`` can each require a key of their own, given as a Bearer
  token (Prometheus' ``authorization``) or as the password of HTTP Basic (a
  browser asks for it), so they can stay reachable for operators only.

Both are plain ASGI middleware: they run before FastAPI reads anything.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")
METRICS_PATHS = ("/metrics",)


TOO_LARGE_SCOPE_KEY = "faultline.body_too_large"  # set when the limit was passed; errors.py answers 413


class BodyTooLarge(HTTPException):
    """The request body passed the limit while it was being read.

    FastAPI may wrap it (as a 400 "error parsing the body"); the flag in the
    scope lets the error handler answer 413 all the same.
    """


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self) -> str:
        return f"request body too large: at most {self.max_bytes} bytes (FAULTLINE_API_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > self.max_bytes):
            status = 413 if declared.strip().isdigit() else 400
            detail = self._too_large() if status == 413 else "bad Content-Length header"
            return await _answer(send, status, detail)
        seen, started = 0, False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    scope[TOO_LARGE_SCOPE_KEY] = self._too_large()
                    raise BodyTooLarge(413, self._too_large())
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await _answer(send, 413, self._too_large())


def presented_key(scope: Scope) -> str | None:
    """The key in ``Authorization``: a Bearer token or a Basic password.

    >>> presented_key({"headers": [(b"authorization", b"Bearer k1")]})
    'k1'
    >>> presented_key({"headers": [(b"authorization", b"Basic " + base64.b64encode(b"ops:k2"))]})
    'k2'
    >>> presented_key({"headers": []}) is None
    True
    """
    value = (_header(scope, b"authorization") or b"").decode("latin-1")
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


class KeyGate:
    """Paths (and everything under them) that need one key; others pass."""

    def __init__(self, app: ASGIApp, gates: dict[tuple[str, ...], str]):
        self.app = app
        self.gates = {paths: key for paths, key in gates.items() if key}

    def _key_for(self, path: str) -> tuple[str, str] | None:
        for paths, key in self.gates.items():
            for prefix in paths:
                if path == prefix or path.startswith(prefix + "/") or (prefix == "/docs" and path.startswith("/docs-")):
                    return prefix, key
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gate = self._key_for(scope.get("path", "")) if scope["type"] == "http" else None
        if gate is not None:
            given = presented_key(scope)
            if given is None or not hmac.compare_digest(given.encode(), gate[1].encode()):
                realm = f'Basic realm="faultline {gate[0].strip("/")}"'.encode()
                return await _answer(send, 401, f"{gate[0]} needs its key (Bearer, or the password of HTTP Basic)",
                                     [(b"www-authenticate", realm)])
        await self.app(scope, receive, send)
