"""gzip for the large cached responses (heatmaps, tiles, alert pages), compressed once.

Units often work over poor links: a page of 100 alerts is ~120 kB of JSON and ~10 % of that
gzipped. Compressing every response (Starlette's ``GZipMiddleware``) would redo the work on each
request for bytes the service already caches, so a body is compressed once, in the compute
threads, and its gzip kept in an LRU keyed by the body itself (``bytes`` cache their hash, so a
lookup of a cached body costs a dictionary probe). Clients that do not send
``Accept-Encoding: gzip`` get the plain bytes; every answer says ``Vary: Accept-Encoding``.
"""

import gzip
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from geoint.api.read_threads import ReadThreads
from geoint.serve.caches import BytesLRU

MIN_BYTES = 4096  # smaller bodies save under 2 KiB: not worth compressing and inflating
LEVEL = 1  # 4 ms a MB; level 6 takes 4x longer for ~10 % fewer bytes


def accepts_gzip(request: Request) -> bool:
    """Whether the client's ``Accept-Encoding`` names gzip (``gzip;q=0`` refuses it)."""
    for coding in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, weight = coding.partition(";")
        if name.strip() == "gzip":
            weight = weight.replace(" ", "").removeprefix("q=")
            try:
                return not weight or float(weight) > 0
            except ValueError:
                return False
    return False


class GzipVariants:
    """gzip forms of response bodies, bounded in bytes (the body and its gzip both count)."""

    def __init__(self, max_bytes: int) -> None:
        self._lru = BytesLRU(max_bytes)

    def get(self, body: bytes) -> bytes | None:
        """The body's gzip if it was compressed before and is still kept."""
        return self._lru.get(body)[1]

    def compress(self, body: bytes) -> bytes:
        """gzip the body (no timestamp, so equal bodies give equal bytes) and keep it."""
        packed = gzip.compress(body, compresslevel=LEVEL, mtime=0)
        self._lru.put(body, packed, extra_bytes=len(body))
        return packed


async def respond(
    request: Request,
    body: bytes | None,
    compute: Callable[[], bytes | None],
    media_type: str,
    variants: GzipVariants,
    threads: ReadThreads,
    headers: dict[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    """A cached `body` or, when None, what `compute()` gives (None: 204 No Content), gzipped
    when the client accepts it and it is worth it. Computing and compressing happen in one
    trip to one of `threads`; a cached body whose gzip is kept needs none. With an `etag`
    (which must change whenever the body would), a client sending it back in
    ``If-None-Match`` gets 304 Not Modified and no body."""
    headers = {**(headers or {}), "Vary": "Accept-Encoding"}
    if etag is not None:
        headers["ETag"] = etag
        if etag in _tags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
    wants_gzip = accepts_gzip(request)
    packed = variants.get(body) if body is not None and wants_gzip else None
    if body is None or (wants_gzip and packed is None and len(body) >= MIN_BYTES):
        body, packed = await threads.run(_prepare, body, compute, wants_gzip, variants)
    if body is None:
        return Response(status_code=204, headers=headers)
    if packed is None:
        return Response(body, media_type=media_type, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(packed, media_type=media_type, headers=headers)


def _tags(header: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` header (weak ones as strong: GET compares weakly)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",")} - {""}


def _prepare(
    body: bytes | None,
    compute: Callable[[], bytes | None],
    wants_gzip: bool,
    variants: GzipVariants,
) -> tuple[bytes | None, bytes | None]:
    if body is None:
        body = compute()
    if body is None or not wants_gzip or len(body) < MIN_BYTES:
        return body, None
    return body, variants.get(body) or variants.compress(body)
