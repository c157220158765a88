"""Ingest over HTTP: pings, the OsmAnd / Traccar Client protocol, seizures, watch lists and
transit declarations.

Bodies go through the CLI's readers, validation and quarantine (`geoint.pipeline.ingest`);
the format
comes from Content-Type. The elements of a JSON array are read as NDJSON records numbered by
their position. The body is refused with 413 beyond the size limit (`geoint.api.guard`); a body
whose exact content was ingested before stores nothing (``already_ingested``). Row-level
problems never change the status: the response is the ingest report, with an RFC 9457
``problem`` member listing refused rows (row, column, reason, detail) when there are any.
Small ping posts (OsmAnd positions, bodies of at most ``ingest.post_group_rows`` records) are
stored together with concurrent ones in one group commit (`post_groups`, docs/ingest.md).
Stored pings are then analysed for their vehicles in the background (`schedule_analysis`).
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from starlette.responses import Response
from starlette.types import Scope

from geoint.api.audit import (
    AuditNote,
    audit_fields,
    audited_seizure_writer,
    audited_writer,
    recorded_in_group,
)
from geoint.api.background import GroupCommit
from geoint.api.child_work import analyse_in_child, store_posts_in_child, update_cells_in_child
from geoint.api.errors import Problem, parameter_error, problem_body
from geoint.api.settings import ApiSettings, ServiceSettings
from geoint.api.state import Services, get_services
from geoint.errors import InputError
from geoint.ingest.readers import ReadResult, parse_column_map, read_records_bytes
from geoint.pipeline.incremental import analyze_batches, update_cells
from geoint.pipeline.ingest import (
    Position,
    Post,
    check_records,
    ingest_checked_records,
    ingest_ping_posts,
    ingest_ping_records,
    ingest_record_rows,
    prior_ingest,
    record_outcomes,
)
from geoint.schema import IngestReport
from geoint.store.workspace import Workspace

KINDS = ("pings", "seizures", "watchlist", "declarations")
JSON = "application/json"
log = logging.getLogger("geoint.api")
MEDIA_FORMATS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/json": "json",
    "application/geo+json": "geojson",
    "application/gpx+xml": "gpx",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
_SUMMARIES = {
    "pings": "Ingest pings",
    "seizures": "Ingest CEN-style seizures",
    "watchlist": "Ingest a CTS-style watch list",
    "declarations": "Ingest transit declarations",
}


async def body_format(request: Request) -> str:
    """The reader format named by Content-Type (415 for any other type; async: no hop)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MEDIA_FORMATS:
        raise Problem(
            415,
            f"Content-Type {media or '(none)'!r} is not an accepted upload type",
            slug="unsupported-media-type",
            accepted=sorted(MEDIA_FORMATS),
        )
    return MEDIA_FORMATS[media]


async def bounded_body(request: Request) -> bytes:
    """The request body; `geoint.api.guard.RequestGuard` refused it with 413 past the limit
    (from Content-Length before reading, else as it streamed)."""
    return await request.body()


async def column_map_param(
    mapping: Annotated[
        list[str],
        Query(
            alias="map",
            description="column mapping CANONICAL=SOURCE, repeatable (as `--map` in the CLI)",
            examples=[["lat=latitude"]],
        ),
    ] = [],  # noqa: B006 (FastAPI copies query defaults)
) -> dict[str, str]:
    """The ``map`` parameters as ``{canonical: source}``."""
    try:
        return parse_column_map(mapping)
    except ValueError as exc:
        raise parameter_error("map", str(exc)) from None


def read_body(body: bytes, name: str, fmt: str, column_map: dict[str, str]) -> ReadResult:
    """Read a body in a reader format, or ``json``: an array of records or GeoJSON."""
    if fmt != "json":
        return read_records_bytes(body, name, fmt, column_map)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InputError(name, f"a JSON array of objects or GeoJSON ({error})") from None
    if isinstance(document, list):
        if not document:
            raise InputError(name, "a non-empty JSON array of objects")
        lines = b"\n".join(orjson.dumps(item) for item in document)
        return read_records_bytes(lines, name, "ndjson", column_map)
    return read_records_bytes(body, name, "geojson", column_map)


def post_groups(
    workspace: Workspace, settings: ApiSettings
) -> GroupCommit[Post | Position, IngestReport]:
    """The service's group commit of small ping posts (`geoint.pipeline.ingest.
    ingest_ping_posts`), sized by the ``ingest.post_group_*`` settings, stored in a child
    process unless ``api.child_processes`` is false (`geoint.api.child_work`)."""
    ingest = settings.ingest
    if settings.api.child_processes:
        store = partial(store_posts_in_child, settings)
    else:
        store = partial(ingest_ping_posts, workspace, settings=settings)
    return GroupCommit(
        store,
        wait_s=ingest.post_group_wait_s,
        max_size=ingest.post_group_max_rows,
        size=lambda post: post.rows,
    )


def ingest_read(
    services: Services,
    kind: str,
    read: ReadResult,
    name: str,
    sha: str,
    note: AuditNote,
    scope: Scope,
) -> IngestReport:
    """Validate and store records already read: small ping posts in a group with concurrent
    ones (acknowledged once the group is committed, audited in its transaction), others one
    ingest at a time. `note` and `scope`: the request's audit and scope."""
    if kind == "pings" and read.frame.height + read.rejected.height <= (
        services.settings.ingest.post_group_rows
    ):
        post = Post(read, name, sha, audit_fields(scope, note))
        return recorded_in_group(note, services.posts.submit(post))
    with services.ingest_lock:
        if kind == "pings":
            return ingest_ping_records(
                services.workspace, read, name, sha, services.settings, queue_analysis=True
            )
        return ingest_record_rows(
            services.workspace, kind, read, name, sha, services.settings, services.gazetteer
        )


def schedule_analysis(services: Services, report: IngestReport, tasks: BackgroundTasks) -> None:
    """After the response, analyse the vehicles of newly stored pings and raise their alerts.

    Two runs in this worker's thread pool, both coalesced per server: the events and their
    alerts (`geoint.pipeline.incremental.analyze_batches`; batches posted while one runs are
    analysed together by one more run, ``services.batch_analysis``), whose changed vehicle-days
    are queued for the cell tables; then those tables and the cell rules
    (``services.cell_refresh``, at most one update every ``alerts.incremental_cells_interval_s``:
    its wait holds no event analysis back). While a run is under way, a post only queues its
    batch.
    """
    if report.kind == "pings" and report.accepted and not report.already_ingested:
        tasks.add_task(_analyse_soon, services, int(report.batch_id))


async def _analyse_soon(services: Services, batch: int) -> None:
    """Queue a batch for analysis; run the analyses in a worker thread unless one runs already
    (then it picks the batch up: a post under load costs no thread)."""
    services.batch_analysis.add([batch])
    if not services.batch_analysis.busy():
        analyse, update = _analysis_runs(services)
        await anyio.to_thread.run_sync(services.batch_analysis.drain, analyse)
        await anyio.to_thread.run_sync(services.cell_refresh.drain, update)


def _analysis_runs(services: Services) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The service's incremental runs: events and alerts of batches, then cell updates."""
    workspace, ground, settings = services.workspace, services.index, services.settings
    if settings.api.child_processes:  # `geoint.api.child_work`
        analyse = partial(analyse_in_child, settings, services.cell_refresh.add)
        return analyse, partial(update_cells_in_child, settings)
    analyse = partial(
        analyze_batches, workspace, ground, settings, refresh_cells=services.cell_refresh.add
    )
    return analyse, partial(update_cells, workspace, ground, settings)


def catch_up(services: Services) -> list[int]:
    """Analyse the batches stored but never analysed (the server stopped first); return them.

    Each posted batch is queued as pending in the transaction that stores it and leaves the
    queue once its events and alerts are stored (`geoint.pipeline.incremental`). Of several
    worker processes starting together, one catches up; the others return at once.
    """
    with services.workspace.first_of_processes("catch-up") as turn:
        pending = services.workspace.pending_batches() if turn else []
        if pending:
            log.info("analysing %d ping batches stored before a restart", len(pending))
            analyse, update = _analysis_runs(services)
            services.batch_analysis.request(pending, run=analyse)
            services.cell_refresh.drain(run=update)
    return pending


def ingest_router(service: ServiceSettings) -> APIRouter:
    """``POST /api/v1/{pings,seizures,watchlist,declarations}`` (``/osmand``:
    `geoint.api.osmand`)."""
    router = APIRouter(tags=["ingest"])
    for kind in KINDS:
        router.add_api_route(
            f"/api/v1/{kind}",
            _seizure_upload if kind == "seizures" else _upload_route(kind),
            methods=["POST"],
            name=f"ingest_{kind}",
            summary=_SUMMARIES[kind],
            description=f"Body: {', '.join(sorted(MEDIA_FORMATS))}; at most "
            f"{service.max_body_bytes} bytes. Same validation and quarantine as "
            f"`geoint ingest {kind}`.",
            openapi_extra={"requestBody": _body_schema()},
            responses=RESPONSES,
        )
    return router


def _upload_route(kind: str) -> Callable[..., Response]:
    def upload(
        request: Request,
        tasks: BackgroundTasks,
        note: Annotated[AuditNote, Depends(audited_writer)],
        fmt: Annotated[str, Depends(body_format)],
        body: Annotated[bytes, Depends(bounded_body)],
        column_map: Annotated[dict[str, str], Depends(column_map_param)],
    ) -> Response:
        services = get_services(request)
        name = input_name(request, note)
        sha = hashlib.sha256(body).hexdigest()
        report = prior_ingest(services.workspace, sha, kind, name)
        if report is None:
            read = read_body(body, name, fmt, column_map)
            report = ingest_read(services, kind, read, name, sha, note, request.scope)
            schedule_analysis(services, report, tasks)
        return reported(services, report, note)

    return upload


def _seizure_upload(
    request: Request,
    note: Annotated[AuditNote, Depends(audited_seizure_writer)],
    fmt: Annotated[str, Depends(body_format)],
    body: Annotated[bytes, Depends(bounded_body)],
    column_map: Annotated[dict[str, str], Depends(column_map_param)],
    dry_run: Annotated[
        bool, Query(description="validate and answer, storing nothing (a form's check)")
    ] = False,
) -> Response:
    """Seizures: stored once per seizure id and per ``client_id``, however often they are sent;
    ``records`` says what became of each (docs/field.md)."""
    services = get_services(request)
    name = input_name(request, note)
    read = read_body(body, name, fmt, column_map)
    check = partial(
        check_records, services.workspace, "seizures", read, name, services.settings,
        services.gazetteer, vocabularies=services.vocabularies,
    )  # fmt: skip
    if dry_run:
        checked = check()
        report = checked.report(name, "seizures")
        note.summary = f"seizures: dry run of {report.rows} rows, nothing stored"
        body_out: dict[str, Any] = {**report.to_dict(), "dry_run": True}
    else:
        sha = hashlib.sha256(body).hexdigest()
        with services.ingest_lock:
            report, stored = ingest_checked_records(
                services.workspace, "seizures", read, name, sha, services.settings,
                services.gazetteer, vocabularies=services.vocabularies,
            )  # fmt: skip
        # the same content stored before: each record is judged again against the store
        checked = stored if stored is not None else check()
        body_out = _report_body(services, report, note)
    body_out["records"] = record_outcomes(services.workspace, checked)
    return Response(orjson.dumps(body_out), media_type="application/json")


def input_name(request: Request, note: AuditNote) -> str:
    """How the ledger, the quarantine and error messages name an HTTP input."""
    at = datetime.now(UTC).isoformat(timespec="seconds")[:19] + "Z"  # strftime: 3x slower
    return f"{request.method} {request.scope['path']} (key {note.key_id}, {at})"


def reported(services: Services, report: IngestReport, note: AuditNote) -> Response:
    """The ingest report as the response (`_report_body`)."""
    return Response(orjson.dumps(_report_body(services, report, note)), media_type=JSON)


def _report_body(services: Services, report: IngestReport, note: AuditNote) -> dict[str, Any]:
    """The ingest report as a response body, noted in the audit."""
    note.summary = report.summary()
    body: dict[str, Any] = report.to_dict()
    if not report.already_ingested and (report.quarantined or report.duplicates):
        body["problem"] = _refused_rows(services, report)
    return body


def _refused_rows(services: Services, report: IngestReport) -> dict[str, Any]:
    """The rows of a batch that were not stored, as a problem with per-row errors."""
    limit = services.settings.api.max_row_errors
    rows = services.workspace.quarantined(report.kind, limit, batch=int(report.batch_id))
    errors = [
        {"row": r["row"], "column": r["column"], "reason": r["reason"], "detail": r["detail"]}
        for r in rows.to_dicts()
    ]
    refused = report.quarantined + report.duplicates
    return problem_body(
        422,
        f"{report.quarantined} of {report.rows} rows were quarantined and {report.duplicates} "
        f"were duplicates; the other rows were stored. The first {len(errors)} are listed.",
        "rows-refused",
        errors=errors,
        errors_total=refused,
    )


def _body_schema() -> dict[str, Any]:
    records = {"type": "array", "items": {"type": "object"}}
    text = {"type": "string"}
    binary = {"type": "string", "format": "binary"}
    schemas = {
        "csv": text,
        "ndjson": text,
        "json": records,
        "geojson": {"type": "object"},
        "gpx": text,
        "parquet": binary,
    }
    return {
        "required": True,
        "content": {media: {"schema": schemas[fmt]} for media, fmt in MEDIA_FORMATS.items()},
    }


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the ingest report; `problem` lists refused rows when there are any"},
    401: {"description": "no or unknown key"},
    403: {"description": "the key's role may not ingest"},
    413: {"description": "body too large"},
    415: {"description": "unsupported Content-Type"},
    422: {"description": "the whole input is unreadable (names the file and column)"},
}
