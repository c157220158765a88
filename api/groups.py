"""Closed user groups (CENcomm) over HTTP: a member's groups, their shared items, sharing.

Only members see a group: to anyone else it answers 404, as if it did not exist (admins
included: groups are closed; `geoint groups` manages them). A member shares an alert, a
seizure or an operation that its own key may see (a unit only from its sectors), with a note;
the group's members then see the item as it was shared, whatever their sectors, here and on
their SSE stream (``/api/v1/alerts/stream``, event ``share``). Every share and every read of a
group's items is audited.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from geoint.api.alerts import safe_json_response
from geoint.api.audit import AuditNote
from geoint.api.auth import reader, sector_scope
from geoint.api.collections import Sectors
from geoint.api.dependencies import Paging, paging
from geoint.api.errors import Problem
from geoint.api.operations import visible_operation
from geoint.api.settings import ServiceSettings
from geoint.api.state import Services, get_services
from geoint.store.keys import ApiKey

GroupId = Annotated[int, Path(ge=1, le=2**31 - 1, description="group id")]


class ShareBody(BaseModel):
    """What to share and why."""

    kind: Literal["alert", "seizure", "operation"]
    id: str = Field(
        min_length=1, max_length=128, description="the alert's, seizure's or operation's id"
    )
    note: str = Field("", max_length=4000, description="a note for the group's members")


def groups_router(service: ServiceSettings) -> APIRouter:
    """The group routes under ``/api/v1``."""
    router = APIRouter(prefix="/api/v1", tags=["groups"])
    Key = Annotated[ApiKey, Depends(reader)]

    @router.get("/groups", summary="The closed user groups this key is a member of")
    def my_groups(request: Request, key: Key) -> Response:
        groups = get_services(request).groups.member_groups(key.id)
        return safe_json_response({"groups": [g.to_dict() for g in groups]})

    @router.get("/groups/{group_id}/items", summary="Items shared with a group (members; audited)")
    def group_items(
        request: Request,
        group_id: GroupId,
        key: Key,
        page: Annotated[Paging, Depends(paging(service))],
    ) -> Response:
        note = _audit(request, key)
        items, total = get_services(request).groups.items(group_id, key.id, page.limit, page.offset)
        note.summary = f"read {len(items)} items of group {group_id}"
        links = [{"rel": "self", "href": str(request.url)}]
        if page.offset + len(items) < total:
            following = request.url.include_query_params(
                offset=page.offset + page.limit, limit=page.limit
            )
            links.append({"rel": "next", "href": str(following)})
        body = {
            "items": items,
            "numberMatched": total,
            "numberReturned": len(items),
            "links": links,
        }
        return safe_json_response(body)

    @router.post(
        "/groups/{group_id}/share",
        status_code=201,
        summary="Share an alert, seizure or operation with a group, with a note (members; audited)",
    )
    def share(
        request: Request,
        group_id: GroupId,
        body: ShareBody,
        key: Key,
        sectors: Annotated[Sectors, Depends(sector_scope)],
    ) -> Response:
        note = _audit(request, key)
        services = get_services(request)
        services.groups.group(group_id, key.id)  # 404 before revealing whether the item exists
        item = _visible_item(services, body.kind, body.id, sectors)
        shared = services.groups.share(group_id, key.id, body.kind, body.id, item, body.note)
        note.summary = f"shared {body.kind} {body.id} with group {group_id}"
        return safe_json_response(shared, status_code=201)

    return router


def _visible_item(services: Services, kind: str, item_id: str, sectors: Sectors) -> dict[str, Any]:
    """The item as the sharing key may see it (404 when unknown or outside its sectors)."""
    numeric = item_id.isascii() and item_id.isdigit() and len(item_id) <= 18
    if kind == "operation":
        if not numeric:
            raise Problem(404, f"no operation {item_id!r}", slug="not-found")
        # as the sharer sees it: cut to its sectors, ids up to the largest page
        limit = services.settings.api.max_limit
        return visible_operation(services, int(item_id), sectors, limit)
    if kind == "alert":
        if not numeric:
            raise Problem(404, f"no alert {item_id!r}", slug="not-found")
        alert = services.alerts.get(int(item_id), sectors)
        alert.pop("evidence", None)  # ping ids mean nothing outside this workspace
        return alert
    feature = services.collections["seizures"].item(item_id, sectors)
    if feature is None:
        raise Problem(404, f"no seizure {item_id!r}", slug="not-found")
    return feature


def _audit(request: Request, key: ApiKey) -> AuditNote:
    request.state.audit = note = AuditNote(key.id)
    return note
