"""The technicians' workspace: server-rendered pages under ``/ui`` (Jinja2, autoescaped).

Every asset (CSS, the small polling script) is served by Faultline itself
from ``/ui/static``; there is no build step and no CDN. People sign in with a
user name and password (`api.users`, `api.sessions`); machines keep API keys.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    """Mount the static assets and the page routes."""
    from api.ui import actions, pages, rating, signin, web

    app.mount("/ui/static", StaticFiles(directory=web.HERE / "static"), name="ui-static")
    app.add_exception_handler(web.SignInRequired, web.to_sign_in)
    for module in (signin, pages, actions, rating):
        app.include_router(module.router)
