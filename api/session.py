"""Browser sessions: a sign-in form at ``/login`` and ``/logout``; failed sign-ins throttled.

Signing in with a key sets an HttpOnly, SameSite=Strict cookie holding a random session token
(the server keeps only its hash, with an expiry); revoking the key ends its sessions.

Failed sign-ins are counted per client address (the socket peer: `serve` trusts no forwarding
header, so behind a reverse proxy every client would share the proxy's count). After
``sign_in_max_failures`` of them within ``sign_in_window_s``, ``POST /login`` from that address
answers 429 with ``Retry-After`` (problem+json; the form with a message for a browser) without
looking at the key, until the oldest of those failures leaves the window; a sign-in resets the
count. The counts live in memory (`SignInThrottle`): the service is one process, and a key's
secret holds 256 random bits, so this guards against noise and abuse (a script looping on a bad
key, filling the audit and the key store's load), not against guessing. A restart, or evicting
the least recently failing address beyond ``sign_in_max_addresses``, only lets such noise
resume. Each failure is audited (key id ``-``, the address in the summary), at most
``sign_in_max_failures`` rows per address and window; refused attempts are not (they are
unbounded), the moment an address is refused is logged instead.
"""

import html
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from geoint.api.audit import AuditNote
from geoint.api.auth import SESSION_COOKIE, SessionToken, authenticated
from geoint.api.errors import problem_response
from geoint.api.settings import ServiceSettings
from geoint.api.state import get_services
from geoint.store.keys import ApiKey
from geoint.web.i18n import gettext_for, negotiate

NextQuery = Annotated[str, Query(alias="next", description="path to open after signing in")]
NextForm = Annotated[str, Form(alias="next")]
ANONYMOUS = "-"  # the audit's key id of a failed sign-in (no key was identified)
log = logging.getLogger("geoint.api")


class SignInThrottle:
    """Failed sign-ins per client address within a sliding window, for a bounded set of addresses.

    Thread-safe (sign-in runs in the threadpool). Keeps the times of each address's latest
    `max_failures` failures, addresses ordered by their latest failure: those whose latest failure
    left the window are dropped as failures come in, and beyond `max_addresses` the least recently
    failing address is evicted.
    """

    def __init__(self, max_failures: int, window_s: float, max_addresses: int) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str, now: float) -> float:
        """Seconds `address` must wait before it may try again (0: it may try now)."""
        with self._lock:
            times = self._failures.get(address)
            if times is None or len(times) < self.max_failures:
                return 0.0
            return max(0.0, times[0] + self.window_s - now)

    def failed(self, address: str, now: float) -> bool:
        """Count a failure of `address`; True when it makes the address wait."""
        with self._lock:
            times = self._failures.pop(address, None) or deque(maxlen=self.max_failures)
            times.append(now)
            self._failures[address] = times
            while len(self._failures) > self.max_addresses or (
                next(iter(self._failures.values()))[-1] + self.window_s <= now
            ):
                self._failures.popitem(last=False)
            return len(times) == self.max_failures and times[0] + self.window_s > now

    def succeeded(self, address: str) -> None:
        """Forget the failures of `address`."""
        with self._lock:
            self._failures.pop(address, None)

    def __len__(self) -> int:
        """The number of addresses tracked."""
        with self._lock:
            return len(self._failures)


async def monotonic_clock() -> float:
    """Seconds of a monotonic clock: a dependency, so that tests can move time."""
    return time.monotonic()


def session_router(service: ServiceSettings) -> APIRouter:
    """``/login`` (form and sign-in) and ``/logout``."""
    router = APIRouter(tags=["auth"])
    secure = service.session_cookie_secure
    ttl = timedelta(seconds=service.session_ttl_s)
    throttle = SignInThrottle(
        service.sign_in_max_failures, service.sign_in_window_s, service.sign_in_max_addresses
    )

    @router.get("/login", response_class=HTMLResponse, summary="Sign-in form (public)")
    def login_form(request: Request, next_path: NextQuery = "/docs") -> HTMLResponse:
        return HTMLResponse(_login_page(service.title, _local(next_path), None, _lang(request)))

    @router.post(
        "/login",
        response_class=HTMLResponse,
        summary="Sign in with an API key",
        responses={429: {"description": "too many failed sign-ins from this address"}},
    )
    def login(
        request: Request,
        key: Annotated[str, Form()],
        now: Annotated[float, Depends(monotonic_clock)],
        next_path: NextForm = "/docs",
    ) -> Response:
        address = request.client.host if request.client else "unknown"
        wait = throttle.retry_after(address, now)
        if wait > 0:
            return _throttled(request, service.title, _local(next_path), wait)
        services = get_services(request)
        found = services.keys.authenticate(key)
        if found is None:
            if throttle.failed(address, now):
                log.warning("sign-in refused from %s for %.0f s: failed too often", address,
                            service.sign_in_window_s)  # fmt: skip
            request.state.audit = AuditNote(ANONYMOUS, f"sign-in failed from {address}")
            if not _wants_html(request):
                return problem_response(401, "the key is unknown or revoked", "unauthorized")
            _ = gettext_for(_lang(request))
            page = _login_page(service.title, _local(next_path),
                               _("That key is unknown or revoked."), _lang(request))  # fmt: skip
            return HTMLResponse(page, status_code=401)
        throttle.succeeded(address)
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


def _throttled(request: Request, title: str, next_path: str, wait: float) -> Response:
    """429 with ``Retry-After``: the form with a message for a browser, else a problem."""
    seconds = math.ceil(wait)
    headers = {"Retry-After": str(seconds)}
    later = f"{math.ceil(seconds / 60)} min" if seconds > 60 else f"{seconds} s"
    detail = f"too many failed sign-ins from this address; try again in {later}"
    if _wants_html(request):
        _ = gettext_for(_lang(request))
        error = _("Too many failed sign-ins: try again in {later}.").format(later=later)
        page = _login_page(title, next_path, error, _lang(request))
        return HTMLResponse(page, status_code=429, headers=headers)
    return problem_response(429, detail, "too-many-requests", headers, retry_after=seconds)


def _wants_html(request: Request) -> bool:
    """Whether the client is a browser (its form posts accept HTML); API clients get problems."""
    return "text/html" in request.headers.get("accept", "")


def _lang(request: Request) -> str:
    """The sign-in page's language: ``?lang=``, else the browser's ``Accept-Language``."""
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def _login_page(title: str, next_path: str, error: str | None, lang: str) -> str:
    _ = gettext_for(lang)
    sign_in, key_label = html.escape(_("Sign in")), html.escape(_("API key"))
    message = f"<p role='alert' class='error'>{html.escape(error)}</p>" if error else ""
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{sign_in} · {html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
label,input,button{{display:block;width:100%;box-sizing:border-box;margin:.4rem 0}}
input,button{{padding:.5rem;font-size:1rem}} .error{{color:#a00}}
</style></head>
<body><h1>{html.escape(title)}</h1>{message}
<form method="post" action="/login">
<label for="key">{key_label}</label>
<input id="key" name="key" type="password" autocomplete="off" required autofocus>
<input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">
<button type="submit">{sign_in}</button>
</form></body></html>
"""
