"""What every workspace page shares: templates, the signed-in person, CSRF checks, messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.keys import role_rank
from api.sessions import COOKIE, UiSession, same_token
from api.users import User

HERE = Path(__file__).resolve().parent  # templates/ and static/
env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(("html",)),
                  trim_blocks=True, lstrip_blocks=True)


def when(ms: int | None) -> str:
    """Epoch ms as a short UTC time.

    >>> when(1_767_225_600_000), when(None)
    ('2026-01-01 00:00 UTC', '—')
    """
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def age(ms: int, now_ms: int) -> str:
    """How long ago, in the largest whole unit.

    >>> age(0, 90_000), age(0, 7_200_000), age(0, 3 * 86_400_000)
    ('1 min', '2 h', '3 d')
    """
    s = max(0, (now_ms - ms) // 1000)
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s // size} {unit}"
    return f"{s} s"


env.filters["when"] = when


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, next_url: str):
        self.next_url = next_url


async def to_sign_in(request: Request, exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/ui/login?next={quote(exc.next_url, safe='/')}", status_code=303)


@dataclass(frozen=True, slots=True)
class Person:
    """The signed-in user and their session (whose CSRF token every form carries)."""

    user: User
    session: UiSession

    @property
    def can_act(self) -> bool:
        return role_rank(self.user.role) >= role_rank("technician")


def ctx_of(request: Request):
    return request.app.state.ctx


def person(request: Request) -> Person:
    """FastAPI dependency: the signed-in person, else a redirect to the sign-in form."""
    ctx = ctx_of(request)
    session = ctx.sessions.find(request.cookies.get(COOKIE))
    user = ctx.users.get(session.user_id) if session is not None else None
    if user is None:
        raise SignInRequired(request.url.path)
    return Person(user, session)


def render(request: Request, template: str, status_code: int = 200, **values) -> HTMLResponse:
    who = values.setdefault("who", None)
    html = env.get_template(template).render(request=request, csrf=who.session.csrf if who else "", **values)
    return HTMLResponse(html, status_code=status_code, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                   "script-src 'self'; form-action 'self'; frame-ancestors 'none'"})


def refuse(request: Request, status_code: int, message: str, who: Person | None = None) -> HTMLResponse:
    return render(request, "message.html", status_code=status_code, who=who, title="Not allowed",
                  message=message)


async def checked_form(request: Request, who: Person, *, role: str = "technician"):
    """The POSTed form when its CSRF token is the session's and the role suffices; else the refusal page."""
    form = await request.form()
    if not same_token(who.session.csrf, form.get("csrf")):
        return None, refuse(request, 403, "This form has expired or did not come from this site "
                                          "(missing or wrong CSRF token). Reload the page and try again.", who)
    if role_rank(who.user.role) < role_rank(role):
        return None, refuse(request, 403, f"Your role ({who.user.role}) may not do this; it needs {role}.", who)
    return form, None


def secure_cookie(request: Request) -> bool:
    """Secure cookies when the request came over TLS (uvicorn sets the scheme from the proxy when told to)."""
    return request.url.scheme == "https"
