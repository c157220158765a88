"""Browser sessions: a sign-in form at ``/login`` and ``/logout``.

Signing in with a key sets an HttpOnly, SameSite=Strict cookie holding a random session token
(the server keeps only its hash, with an expiry); revoking the key ends its sessions.
"""

import html
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from geoint.api.audit import AuditNote
from geoint.api.auth import SESSION_COOKIE, SessionToken, authenticated
from geoint.api.settings import ServiceSettings
from geoint.api.state import get_services
from geoint.keys import ApiKey

NextQuery = Annotated[str, Query(alias="next", description="path to open after signing in")]
NextForm = Annotated[str, Form(alias="next")]


def session_router(service: ServiceSettings) -> APIRouter:
    """``/login`` (form and sign-in) and ``/logout``."""
    router = APIRouter(tags=["auth"])
    secure = service.session_cookie_secure
    ttl = timedelta(seconds=service.session_ttl_s)

    @router.get("/login", response_class=HTMLResponse, summary="Sign-in form (public)")
    def login_form(next_path: NextQuery = "/docs") -> HTMLResponse:
        return HTMLResponse(_login_page(service.title, _local(next_path), None))

    @router.post("/login", response_class=HTMLResponse, summary="Sign in with an API key")
    def login(
        request: Request, key: Annotated[str, Form()], next_path: NextForm = "/docs"
    ) -> Response:
        services = get_services(request)
        found = services.keys.authenticate(key)
        if found is None:
            page = _login_page(service.title, _local(next_path), "That key is unknown or revoked.")
            return HTMLResponse(page, status_code=401)
        token = services.keys.open_session(found, ttl)
        request.state.audit = AuditNote(found.id, "signed in")
        response = RedirectResponse(_local(next_path), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(ttl.total_seconds()),
            path="/",
            secure=secure,
            httponly=True,
            samesite="strict",
        )
        return response

    @router.post("/logout", summary="End the browser session")
    def logout(
        request: Request,
        key: Annotated[ApiKey, Depends(authenticated)],
        token: SessionToken,
    ) -> Response:
        if token:
            get_services(request).keys.close_session(token)
        request.state.audit = AuditNote(key.id, "signed out")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict"
        )
        return response

    return router


def _local(target: str) -> str:
    """A same-site path to go to after signing in (never another host)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/docs"


def _login_page(title: str, next_path: str, error: str | None) -> str:
    message = f"<p role='alert' class='error'>{html.escape(error)}</p>" if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Sign in · {html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
label,input,button{{display:block;width:100%;box-sizing:border-box;margin:.4rem 0}}
input,button{{padding:.5rem;font-size:1rem}} .error{{color:#a00}}
</style></head>
<body><h1>{html.escape(title)}</h1>{message}
<form method="post" action="/login">
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="off" required autofocus>
<input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">
<button type="submit">Sign in</button>
</form></body></html>
"""
