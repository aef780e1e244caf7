"""Sign in, sign out: a user name and password, a server-side session, a throttle on failures."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.sessions import COOKIE, LOGIN_CSRF_COOKIE, same_token
from api.ui.web import ctx_of, person, refuse, render, secure_cookie

router = APIRouter(prefix="/ui", include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only a path of this site (never another host) is a place to go after signing in.

    >>> _safe_next("/ui/tickets/3"), _safe_next("//evil.example/x"), _safe_next("https://evil.example")
    ('/ui/tickets/3', '/ui', '/ui')
    """
    if value and value.startswith("/ui") and not value.startswith("//") and "\\\\" not in value:
        return value
    return "/ui"


def _form(request: Request, status_code: int = 200, message: str = "", name: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status_code=status_code, message=message, name=name,
                      login_csrf=token, next_url=_safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure_cookie(request),
                        path="/ui/login")
    return response


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _form(request)


@router.post("/login")
async def login(request: Request):
    ctx = ctx_of(request)
    form = await request.form()
    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf")):
        return refuse(request, 403, "The sign-in form has expired or did not come from this site. "
                                    "Open it again and retry.")
    name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))
    client = request.client.host if request.client else "-"
    wait = ctx.throttle.retry_after(name, client)
    if wait:
        response = _form(request, 429, f"Too many failed sign-ins; try again in {wait} s.", name)
        response.headers["Retry-After"] = str(wait)
        return response
    user = ctx.users.authenticate(name, password) if name and password else None
    if user is None:
        ctx.throttle.fail(name, client)
        return _form(request, 401, "Unknown user name or wrong password.", name)
    token, _ = ctx.sessions.start(user.id)
    response = RedirectResponse(_safe_next(str(form.get("next", ""))), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure_cookie(request), path="/",
                        max_age=int(ctx.sessions.ttl_ms / 1000))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
async def logout(request: Request):
    who = person(request)
    form = await request.form()
    if not same_token(who.session.csrf, form.get("csrf")):
        return refuse(request, 403, "This form has expired or did not come from this site.", who)
    ctx_of(request).sessions.end(request.cookies.get(COOKIE))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
