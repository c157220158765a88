"""Enforcement operations (WCO-style) under ``/api/v1/operations``: their window, scope and what
they tag (counts and ids of seizures, events and alerts).

A unit key sees the operations whose sectors meet its own (an operation over every sector meets
all), cut to its sectors: scope, counts and ids count only what lies in them. An operation
shared to one of its groups reaches it as the share, at ``/api/v1/groups/{id}/items`` and on
its stream, as the sharer saw it (docs/exchange.md).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from geoint.api.alerts import safe_json_response
from geoint.api.auth import sector_scope
from geoint.api.collections import Sectors
from geoint.api.dependencies import Paging, paging
from geoint.api.errors import Problem
from geoint.api.settings import ServiceSettings
from geoint.api.state import Services, get_services
from geoint.intel.operations import (
    OperationError,
    get_operation,
    list_operations,
    operation_items,
    operation_json,
    scoped_operation,
)

OperationId = Annotated[int, Path(ge=1, le=2**31 - 1, description="operation id")]


def operations_router(service: ServiceSettings) -> APIRouter:
    """The operation routes under ``/api/v1``."""
    router = APIRouter(prefix="/api/v1", tags=["operations"])
    ScopeDep = Annotated[Sectors, Depends(sector_scope)]

    @router.get("/operations", summary="Enforcement operations meeting this key's sectors")
    def operations_list(
        request: Request, sectors: ScopeDep, page: Annotated[Paging, Depends(paging(service))]
    ) -> Response:
        found = list_operations(get_services(request).workspace)
        seen = [op for op in (scoped_operation(op, sectors) for op in found) if op is not None]
        shown = seen[page.offset : page.offset + page.limit]
        body = {
            "operations": [op.as_dict() for op in shown],
            "numberMatched": len(seen),
            "numberReturned": len(shown),
        }
        return safe_json_response(body)

    @router.get(
        "/operations/{operation_id}",
        summary="An operation: window, scope, counts and ids of its seizures, events and alerts",
    )
    def operation_detail(
        request: Request,
        operation_id: OperationId,
        sectors: ScopeDep,
        limit: Annotated[
            int, Query(ge=1, le=service.max_limit, description="ids listed per kind")
        ] = service.default_limit,
    ) -> Response:
        return safe_json_response(
            visible_operation(get_services(request), operation_id, sectors, limit)
        )

    return router


def visible_operation(
    services: Services, operation_id: int, sectors: Sectors, limit: int
) -> dict[str, Any]:
    """The operation as a caller limited to `sectors` sees it (404 when unknown or outside)."""
    try:
        operation = scoped_operation(get_operation(services.workspace, operation_id), sectors)
    except OperationError:
        operation = None
    if operation is None:
        raise Problem(404, f"no operation {operation_id}", slug="not-found")
    items = operation_items(services.workspace, operation, services.index)
    return operation_json(operation, items, limit)
