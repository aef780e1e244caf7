"""Unknown query parameters are refused (422 naming them), never silently ignored.

A misspelt filter (``?stat=open``) would otherwise return every ticket as if
it had been applied. The parameters a route takes are read from the app's
own OpenAPI document, so the check cannot drift from the routes.
"""

from __future__ import annotations

from fastapi import Request

from api.errors import invalid


def reject_unknown_query(request: Request) -> None:
    """FastAPI dependency: 422 for a query parameter the matched route does not declare."""
    path = getattr(request.scope.get("route"), "path", None)
    if not path or not request.query_params:
        return
    operation = request.app.openapi()["paths"].get(path, {}).get(request.method.lower(), {})
    known = {p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query"}
    unknown = sorted(set(request.query_params.keys()) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "no query parameters"
        raise invalid("query", unknown[0], f"unknown query parameter; this route takes {takes}")
