"""Who is calling: ``Authorization: Bearer KEY`` checked against the key store.

No key or an unknown/revoked key is 401 with ``WWW-Authenticate: Bearer``; a
key whose role is below the route's is 403.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import ApiContext, context
from api.keys import ROLES, ApiKey, role_rank

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer flk_...`")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def require(role: str):
    """A dependency that admits keys of `role` or above and returns the key."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
        ctx: ApiContext = Depends(context),
    ) -> ApiKey:
        if credentials is None:
            raise _unauthorized("missing API key: send Authorization: Bearer <key>")
        key = ctx.keys.authenticate(credentials.credentials)
        if key is None:
            raise _unauthorized("unknown or revoked API key")
        if role_rank(key.role) < role_rank(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {key.role!r} may not do this; it needs {role!r}")
        request.state.api_key = key
        return key

    check.__name__ = f"require_{role}"
    return check


viewer = require("viewer")
technician = require("technician")
admin = require("admin")
