"""Who is calling: API keys as Bearer tokens or browser sessions, roles, and sector scope.

Roles (SPEC §10): ``admin`` and ``analyst`` read everything; ``unit`` reads only its sectors;
``feeder`` only ingests. Admins, analysts and feeders may ingest; only admins read the audit.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, NamedTuple

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from geoint.api.errors import Problem
from geoint.api.state import get_services
from geoint.store.keys import ApiKey, KeyStore

SESSION_COOKIE = "geoint_session"
READ_ROLES = ("admin", "analyst", "unit")
WRITE_ROLES = ("admin", "analyst", "feeder")
# seizures and their photos are also entered by the units that made them (docs/field.md)
SEIZURE_ROLES = (*WRITE_ROLES, "unit")

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key made with `geoint keys create`, sent as `Authorization: Bearer`.",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The browser session cookie set by `POST /login`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
SessionToken = Annotated[str | None, Security(cookie_scheme)]


class Proven(NamedTuple):
    """The credential a request proved, kept in its state (``proven``) for the routes."""

    credential: str
    session: bool  # a browser session's token, not an API key
    key: ApiKey


_UNKNOWN_KEY = ("the API key is unknown or revoked", "invalid_token")
_ENDED_SESSION = ("the session has expired or ended; sign in again at /login", None)
_UNKNOWN_KEY_PARAMETER = ("the key parameter is unknown or revoked", "invalid_token")


def unauthorized(detail: str, error: str | None = None) -> Problem:
    """A 401 problem with its Bearer challenge."""
    challenge = 'Bearer realm="geoint"' + (f', error="{error}"' if error else "")
    return Problem(401, detail, slug="unauthorized", headers={"WWW-Authenticate": challenge})


async def identify(
    request: Request, bearer: str | None, token: str | None, key_text: str | None
) -> ApiKey:
    """The live key of a Bearer key, a session token or a ``key`` parameter, in that order
    (else a 401 problem).

    A credential is proven once per request: the guard proves it before any route runs
    (`geoint.api.guard`), and a route asking again for the same credential gets that key.
    """
    if bearer is not None:
        credential, session, refusal = bearer, False, _UNKNOWN_KEY
    elif token:
        credential, session, refusal = token, True, _ENDED_SESSION
    elif key_text:
        credential, session, refusal = key_text, False, _UNKNOWN_KEY_PARAMETER
    else:
        raise unauthorized(
            "authentication required: send 'Authorization: Bearer <API key>' or sign in at /login"
        )
    # the request's own state (ASGI servers copy the lifespan state per request), as a dict:
    # `request.state` raises (and catches) an AttributeError for a missing name
    state = request.scope.setdefault("state", {})
    proven = state.get("proven")
    if proven is not None and (proven.credential, proven.session) == (credential, session):
        return proven.key
    key = await _prove(get_services(request).keys, credential, session)
    if key is None:
        raise unauthorized(*refusal)
    state["proven"] = Proven(credential, session, key)
    return key


async def _prove(keys: KeyStore, credential: str, session: bool) -> ApiKey | None:
    """The credential's key: remembered (no I/O, on the event loop) or read in a thread."""
    key = keys.recall(credential, session)
    if key is not None:
        return key
    check = keys.session_key if session else keys.authenticate
    return await anyio.to_thread.run_sync(check, credential)


async def authenticated(request: Request, credentials: Credentials, token: SessionToken) -> ApiKey:
    """The caller's live key, from the Bearer header or the session cookie (else 401)."""
    return await identify(request, _bearer(credentials), token, None)


async def device_key(request: Request) -> ApiKey:
    """A device's live key, of a role that may ingest: the Bearer header or the ``key`` query
    parameter, never the session cookie (devices have none, and a browser would attach it to a
    forged ``<img src=/osmand?...>``: no state change on GET with a session).

    A plain function, not a dependency: the device route calls it itself (`geoint.api.osmand`),
    since FastAPI's dependency solving was a third of a live position's cost. The key the guard
    proved is taken as it is unless it was a session's: then it was the Bearer header or,
    without one, the ``key`` parameter, the credential this function would choose.
    """
    proven: Proven | None = request.scope.get("state", {}).get("proven")
    if proven is not None and not proven.session:
        key = proven.key
    else:
        bearer = bearer_credential(request.headers.get("authorization"))
        key = await identify(request, bearer, None, request.query_params.get("key"))
    return require_role(key, WRITE_ROLES, "ingest data")


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer`` header's value, or None."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _bearer(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return None if credentials is None else credentials.credentials


def require_role(key: ApiKey, roles: tuple[str, ...], action: str) -> ApiKey:
    """`key` if its role is among `roles`, else a 403 problem saying it may not `action`."""
    if key.role not in roles:
        raise Problem(403, f"a {key.role} key may not {action}", slug="forbidden", role=key.role)
    return key


def _role_guard(
    roles: tuple[str, ...], action: str
) -> Callable[[ApiKey], Coroutine[None, None, ApiKey]]:
    # async: no I/O here, so FastAPI runs it on the loop instead of a threadpool hop
    async def guard(key: Annotated[ApiKey, Depends(authenticated)]) -> ApiKey:
        return require_role(key, roles, action)

    return guard


reader = _role_guard(READ_ROLES, "read data")
writer = _role_guard(WRITE_ROLES, "ingest data")
admin = _role_guard(("admin",), "read the audit log")
planner = _role_guard(("admin", "analyst"), "plan patrols")
debriefer = _role_guard(("admin", "analyst", "unit"), "record patrol debriefs")
seizure_writer = _role_guard(SEIZURE_ROLES, "enter seizures")


def key_sectors(key: ApiKey) -> frozenset[str] | None:
    """The sectors a key may see: a unit's own, None (all) for the other roles."""
    return frozenset(key.sectors) if key.role == "unit" else None


async def sector_scope(key: Annotated[ApiKey, Depends(reader)]) -> frozenset[str] | None:
    """The sectors a reader may see (`key_sectors`)."""
    return key_sectors(key)
