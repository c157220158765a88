"""The land-border unit's API (docs/field.md): vocabularies, place search, one seizure with its
photos, photo upload and download, and the concealment library.

A unit key sees the seizures of its sectors only, and so their photos: anything else is a 404,
as if it did not exist. Photos are content-addressed, so their responses are cached for long.
"""

from typing import Annotated, Any, Self

import anyio
import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from geoint.api.alerts import safe_json
from geoint.api.audit import AuditNote, audited_seizure_writer
from geoint.api.auth import key_sectors, reader, sector_scope, seizure_writer
from geoint.api.collections import Sectors, SeizureCollection
from geoint.api.compression import respond
from geoint.api.dependencies import Paging, paging
from geoint.api.errors import Problem, parameter_error
from geoint.api.settings import ServiceSettings
from geoint.api.state import Services, get_services
from geoint.errors import InputError
from geoint.h3index import latlng_to_cells
from geoint.ingest.gazetteer import search_places
from geoint.ingest.photos import Photo, PhotoTooLargeError, prepare_photo
from geoint.intel.library import concealment_library
from geoint.intel.query import Scope, SeizureFilter, field_values
from geoint.schema import MAX_ID_CHARS, PositionPrecision
from geoint.store.keys import ApiKey
from geoint.store.photos import PhotoStore, StoredPhoto, photo_path, thumbnail_path
from geoint.store.positions import Moved, PositionSource, place_seizure
from geoint.store.tables import MAX_INTEGER
from geoint.vocabularies import all_labelled
from geoint.web.i18n import negotiate

JSON = "application/json"
PLACE_LIMIT = 10  # places a search answers when it names no limit
MAX_PLACE_LIMIT = 100
IMMUTABLE = "private, max-age=31536000, immutable"  # content-addressed, behind auth
LIBRARY_FILTERS = ("concealment", "commodity", "transport_mode", "vehicle_type")
SeizureId = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS, description="seizure id")]
PhotoId = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="photo id")]


class NewPosition(BaseModel):
    """A seizure's new position: a photo of it (its EXIF position), or coordinates with their
    source (``device`` or ``map``; ``photo_exif`` only through ``photo_id``)."""

    model_config = ConfigDict(extra="forbid")
    photo_id: int | None = Field(
        None, ge=1, le=MAX_INTEGER, description="a photo of this seizure with EXIF GPS"
    )
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    source: PositionSource | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        coordinates = (self.lat, self.lon, self.source)
        if self.photo_id is not None:
            if any(v is not None for v in coordinates):
                raise ValueError("give either photo_id or lat, lon and source, not both")
        elif any(v is None for v in coordinates):
            raise ValueError("expected photo_id, or lat, lon and source")
        elif self.source == PositionSource.PHOTO_EXIF:
            raise ValueError("source photo_exif: give photo_id (the server reads its position)")
        return self


def field_router(service: ServiceSettings) -> APIRouter:
    """The field routes under ``/api/v1`` (include after the seizure routes: ``/seizures/{id}``
    must not shadow ``/seizures/trends``)."""
    router = APIRouter(prefix="/api/v1", tags=["field"])
    ScopeDep = Annotated[Sectors, Depends(sector_scope)]

    @router.get("/vocabularies", summary="The seizure vocabularies with labels in one language")
    def vocabularies(
        request: Request,
        _key: Annotated[ApiKey, Depends(reader)],
        lang: Annotated[
            str | None, Query(pattern="^(en|fr)$", description="en or fr (else Accept-Language)")
        ] = None,
    ) -> Response:
        language = negotiate(lang, request.headers.get("accept-language"))
        body = all_labelled(get_services(request).vocabularies, language)
        headers = {"Content-Language": language, "Vary": "Accept-Language"}
        return _json(body, headers)

    @router.get("/places", summary="Gazetteer places by name prefix (all of them without q)")
    async def places(  # async: the search runs in a compute thread via `respond`
        request: Request,
        _key: Annotated[ApiKey, Depends(reader)],
        q: Annotated[
            str | None, Query(max_length=100, description="start of the name or of a word")
        ] = None,
        limit: Annotated[
            int | None,
            Query(ge=1, le=MAX_PLACE_LIMIT, description=f"with q; default {PLACE_LIMIT}"),
        ] = None,
    ) -> Response:
        services = get_services(request)
        count = (limit or PLACE_LIMIT) if q else None

        def compute() -> bytes:
            found = search_places(services.gazetteer, q, count)
            return safe_json({"places": found.to_dicts()})

        return await respond(
            request, None, compute, JSON, services.gzip, services.compute,
            headers={"Cache-Control": "private, max-age=3600"},
        )  # fmt: skip

    @router.get("/seizures/{seizure_id}", summary="One seizure with its photos")
    def seizure(request: Request, seizure_id: SeizureId, sectors: ScopeDep) -> Response:
        services = get_services(request)
        found = _visible_seizure(services, seizure_id, sectors)
        photos = PhotoStore(services.workspace).of_seizures([seizure_id]).get(seizure_id, [])
        offer = found["position_precision"] != PositionPrecision.EXACT.value
        return _json({**found, "photos": [_photo_json(p, offer) for p in photos]})

    @router.post(
        "/seizures/{seizure_id}/photos",
        status_code=201,
        summary="Attach a photo (multipart field `file`; JPEG, PNG or WebP)",
        responses={
            200: {"description": "the same photo was stored before (a resend)"},
            404: {"description": "no such seizure the key may see"},
            413: {"description": "body or image too large"},
            415: {"description": "not multipart, or `file` is not a JPEG, PNG or WebP image"},
        },
    )
    async def upload_photo(  # async: reads the multipart body; the work runs in threads
        request: Request,
        seizure_id: SeizureId,
        note: Annotated[AuditNote, Depends(audited_seizure_writer)],
        key: Annotated[ApiKey, Depends(seizure_writer)],
    ) -> Response:
        services = get_services(request)
        sectors = key_sectors(key)
        found = await anyio.to_thread.run_sync(_visible_seizure, services, seizure_id, sectors)
        upload, client_id = await _photo_form(request)
        settings = services.settings.api
        photo = await anyio.to_thread.run_sync(
            _prepared, upload, settings.max_photo_pixels, settings.thumbnail_px
        )
        stored, new = await anyio.to_thread.run_sync(
            _store_photo, services, seizure_id, photo, key.id, client_id
        )
        note.summary = f"photo {stored.id} of seizure {seizure_id}" + ("" if new else " (resent)")
        offer = found["position_precision"] != PositionPrecision.EXACT.value
        return _json(_photo_json(stored, offer), status=201 if new else 200)

    @router.post(
        "/seizures/{seizure_id}/position",
        summary="Place a seizure entered by place name at a photo's EXIF position or coordinates",
        responses={
            403: {"description": "a unit key: the new position is outside its sectors"},
            404: {"description": "no such seizure the key may see"},
            409: {"description": "the seizure's position is exact already"},
            422: {"description": "bad body, or the photo is not this seizure's or has no GPS"},
        },
    )
    def place(
        request: Request,
        seizure_id: SeizureId,
        body: NewPosition,
        note: Annotated[AuditNote, Depends(audited_seizure_writer)],
        key: Annotated[ApiKey, Depends(seizure_writer)],
    ) -> Response:
        services = get_services(request)
        sectors = key_sectors(key)
        found = _visible_seizure(services, seizure_id, sectors)
        lat, lon, source = _new_position(services, seizure_id, body)
        if found["position_precision"] == PositionPrecision.EXACT.value:
            raise _exact(seizure_id)
        if sectors is not None:
            collection = services.collections["seizures"]
            assert isinstance(collection, SeizureCollection)
            sector = collection.sectors_of(np.array([lat]), np.array([lon]))[0]
            if sector not in sectors:
                raise Problem(403, f"({lat}, {lon}) is outside your sectors", slug="forbidden")
        cell = int(
            latlng_to_cells(np.array([lat]), np.array([lon]), services.settings.h3_resolution)[0]
        )
        moved = place_seizure(services.workspace, seizure_id, lat, lon, cell, source)
        if moved is Moved.EXACT:  # placed by another request since it was read
            raise _exact(seizure_id)
        if moved is Moved.MISSING:
            raise Problem(404, f"no seizure {seizure_id!r}", slug="not-found")
        note.summary = f"seizure {seizure_id} placed at {lat:.5f}, {lon:.5f} ({source})"
        return _json(_visible_seizure(services, seizure_id, sectors))

    @router.get("/photos/{photo_id}", summary="A photo (JPEG, PNG or WebP, without metadata)")
    def photo(request: Request, photo_id: PhotoId, sectors: ScopeDep) -> FileResponse:
        services = get_services(request)
        found = _visible_photo(services, photo_id, sectors)
        path = photo_path(services.workspace.root, found.sha256, found.media_type)
        return _file(path, found.media_type, found.sha256)

    @router.get("/photos/{photo_id}/thumbnail", summary="A photo's thumbnail (JPEG)")
    def thumbnail(request: Request, photo_id: PhotoId, sectors: ScopeDep) -> FileResponse:
        services = get_services(request)
        found = _visible_photo(services, photo_id, sectors)
        path = thumbnail_path(services.workspace.root, found.sha256)
        return _file(path, "image/jpeg", f"{found.sha256}-thumb")

    @router.get("/concealments", summary="Seizures with photos, newest first (the library)")
    def concealments(
        request: Request,
        sectors: ScopeDep,
        page: Annotated[Paging, Depends(paging(service))],
        concealment: Annotated[list[str] | None, Query(description="code or label")] = None,
        commodity: Annotated[list[str] | None, Query(description="code or label")] = None,
        transport_mode: Annotated[list[str] | None, Query(description="code or label")] = None,
        vehicle_type: Annotated[list[str] | None, Query(description="code or label")] = None,
        q: Annotated[
            str | None,
            Query(max_length=200, description="text in id, description, place, concealment"),
        ] = None,
    ) -> Response:
        known = {*LIBRARY_FILTERS, "q", "limit", "offset"}
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise parameter_error(unknown[0], f"unknown parameter; expected {', '.join(known)}")
        services = get_services(request)
        chosen_values = (concealment, commodity, transport_mode, vehicle_type)
        given = zip(LIBRARY_FILTERS, chosen_values, strict=True)
        pairs = [(name, value) for name, values in given for value in values or ()]
        chosen = SeizureFilter(field_values(pairs, services.vocabularies), text=q or None)
        scope = None if sectors is None else Scope(services.index, sectors)
        frame, matched = concealment_library(
            services.workspace, chosen, page.limit, page.offset, scope
        )
        rows = frame.with_columns(frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_dicts()
        photos = PhotoStore(services.workspace).of_seizures([r["seizure_id"] for r in rows])
        for row in rows:
            row["photos"] = [
                {"id": p.id, "url": _photo_url(p.id), "thumbnail": _photo_url(p.id, True)}
                for p in photos.get(row["seizure_id"], [])
            ]
        links = [{"rel": "self", "href": str(request.url)}]
        if page.offset + len(rows) < matched:
            following = request.url.include_query_params(offset=page.offset + page.limit)
            links.append({"rel": "next", "href": str(following)})
        body = {
            "concealments": rows,
            "numberMatched": matched,
            "numberReturned": len(rows),
            "links": links,
        }
        return _json(body)

    return router


def _visible_seizure(services: Services, seizure_id: str, sectors: Sectors) -> dict[str, Any]:
    """A seizure's properties with ``lat``, ``lon``, if the caller may see it (else 404)."""
    collection = services.collections["seizures"]
    assert isinstance(collection, SeizureCollection)
    feature = collection.item(seizure_id, sectors)
    if feature is None:
        raise Problem(404, f"no seizure {seizure_id!r}", slug="not-found")
    lon, lat = feature["geometry"]["coordinates"]
    return {**feature["properties"], "lat": lat, "lon": lon}


def _new_position(
    services: Services, seizure_id: str, body: NewPosition
) -> tuple[float, float, PositionSource]:
    """The body's coordinates and source; a photo's from its stored EXIF position (else 422)."""
    if body.photo_id is None:
        assert body.lat is not None and body.lon is not None and body.source is not None
        return body.lat, body.lon, body.source
    photo = PhotoStore(services.workspace).get(body.photo_id)
    if photo is None or photo.seizure_id != seizure_id:
        raise _field_problem(422, "photo_id", f"expected a photo of seizure {seizure_id!r}")
    if photo.exif_lat is None or photo.exif_lon is None:
        raise _field_problem(422, "photo_id", "expected a photo with a GPS position in its EXIF")
    return photo.exif_lat, photo.exif_lon, PositionSource.PHOTO_EXIF


def _exact(seizure_id: str) -> Problem:
    return Problem(409, f"seizure {seizure_id!r} has an exact position already", slug="conflict")


def _visible_photo(services: Services, photo_id: int, sectors: Sectors) -> StoredPhoto:
    """A photo whose seizure the caller may see (else 404, as if there were none)."""
    found = PhotoStore(services.workspace).get(photo_id)
    if found is not None and sectors is not None:
        try:
            _visible_seizure(services, found.seizure_id, sectors)
        except Problem:
            found = None
    if found is None:
        raise Problem(404, f"no photo {photo_id}", slug="not-found")
    return found


async def _photo_form(request: Request) -> tuple[UploadFile, str | None]:
    """The multipart body's ``file`` and optional ``client_id`` (415 or 422 naming the field)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise _field_problem(
            415, "file", f"expected multipart/form-data with a field 'file', got {media!r}"
        )
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise _field_problem(422, "file", "expected a file in the multipart field 'file'")
    client_id = form.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise _field_problem(422, "client_id", "expected text")
    client_id = (client_id or "").strip() or None
    if client_id is not None and (
        len(client_id) > MAX_ID_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in client_id)
    ):
        raise _field_problem(
            422, "client_id", f"expected at most {MAX_ID_CHARS} characters, no control characters"
        )
    return upload, client_id


def _prepared(upload: UploadFile, max_pixels: int, thumbnail_px: int) -> Photo:
    try:
        return prepare_photo(upload.file, "file", max_pixels, thumbnail_px)
    except PhotoTooLargeError as exc:
        raise _field_problem(413, "file", exc.expected) from None
    except InputError as exc:
        raise _field_problem(415, "file", f"expected {exc.expected}") from None


def _store_photo(
    services: Services, seizure_id: str, photo: Photo, key_id: str, client_id: str | None
) -> tuple[StoredPhoto, bool]:
    lat, lon = photo.exif_position or (None, None)
    described = {
        "sha256": photo.sha256,
        "media_type": photo.media_type,
        "width": photo.width,
        "height": photo.height,
        "exif_lat": lat,
        "exif_lon": lon,
    }
    store = PhotoStore(services.workspace)
    return store.add(seizure_id, photo.content, photo.thumbnail, described, key_id, client_id)


def _photo_json(photo: StoredPhoto, offer_position: bool) -> dict[str, Any]:
    """A photo as the API gives it; its EXIF position is offered when the seizure has none."""
    position = None
    if offer_position and photo.exif_lat is not None and photo.exif_lon is not None:
        position = {"lat": photo.exif_lat, "lon": photo.exif_lon}
    return {
        "id": photo.id,
        "seizure_id": photo.seizure_id,
        "sha256": photo.sha256,
        "width": photo.width,
        "height": photo.height,
        "media_type": photo.media_type,
        "exif_position": position,
        "thumbnail": _photo_url(photo.id, True),
    }


def _photo_url(photo_id: int, thumbnail: bool = False) -> str:
    return f"/api/v1/photos/{photo_id}" + ("/thumbnail" if thumbnail else "")


def _file(path: Any, media_type: str, tag: str) -> FileResponse:
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{tag}"'}
    return FileResponse(path, media_type=media_type, headers=headers)


def _field_problem(status: int, field: str, detail: str) -> Problem:
    slugs = {413: "body-too-large", 415: "unsupported-media-type", 422: "invalid-field"}
    return Problem(
        status,
        f"field '{field}': {detail}",
        slug=slugs[status],
        errors=[{"in": "body", "field": field, "reason": slugs[status], "detail": detail}],
    )


def _json(body: Any, headers: dict[str, str] | None = None, status: int = 200) -> Response:
    """JSON with ``<``, ``>`` and ``&`` escaped: untrusted text stays inert if pasted in HTML."""
    return Response(
        safe_json(body),
        status,
        media_type=JSON,
        headers={"X-Content-Type-Options": "nosniff", **(headers or {})},
    )
