"""Settings of the API service: the core settings plus the region served and HTTP limits.

Built at the edge (``geoint serve``, tests) and passed to `create_app`; from the environment
they read ``GEOINT_REGION`` and ``GEOINT_API__<FIELD>`` besides the core ``GEOINT_*`` variables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from geoint.settings import GeointSettings


class ServiceSettings(BaseModel):
    """HTTP limits and browser-session options."""

    title: str = Field("geoint", description="service title on the landing page and /docs")
    max_body_bytes: int = Field(
        32 * 1024 * 1024, gt=0, description="uploads above this size are refused with 413"
    )
    max_request_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description="bodies of every route but ingest (alert actions, patrol plans, sign-in) "
        "above this size are refused with 413",
    )
    default_limit: int = Field(100, ge=1, description="list size when a request names none")
    max_limit: int = Field(10_000, ge=1, description="largest list size a request may ask for")
    max_row_errors: int = Field(
        100, ge=1, description="per-row errors listed in an ingest response (all are stored)"
    )
    session_ttl_s: float = Field(12 * 3600, gt=0, description="browser session lifetime")
    session_cookie_secure: bool = Field(
        False, description="send the session cookie over HTTPS only (enable behind TLS)"
    )
    heatmap_default_limit: int = Field(2_000, ge=1, description="heatmap cells when none asked")
    heatmap_max_limit: int = Field(20_000, ge=1, description="most heatmap cells per response")
    heatmap_cache_mib: int = Field(256, ge=0, description="heatmap responses kept (LRU; 0: off)")
    tile_cache_mib: int = Field(64, ge=0, description="vector tiles kept (LRU; 0: off)")
    gzip_cache_mib: int = Field(
        64, ge=0, description="gzip forms of cached heatmaps, tiles and alert pages kept (LRU)"
    )
    compute_threads: int = Field(
        1,
        ge=1,
        description="threads computing responses missing from their caches (heatmaps, tiles, "
        "alert pages) at once: more only contend for the interpreter lock, the work being "
        "short and mostly Python",
    )
    page_threads: int = Field(
        4, ge=1, description="threads building map pages and their days' layers at once"
    )
    read_nice: int = Field(
        19,
        ge=0,
        le=19,
        description="niceness added to the threads computing responses and map pages (Linux): "
        "when the cores are busy, device posts and the event loop go first (api/read_threads.py)",
    )
    child_processes: bool = Field(
        True,
        description="store groups of small posts and run incremental analyses in two child "
        "processes per service process, away from its interpreter lock (the analyses at a lower "
        "CPU priority); false: in threads of the service (geoint.api.child_work)",
    )
    alert_cache_mib: int = Field(
        64, ge=0, description="alert list pages kept until the next alert change (LRU; 0: off)"
    )
    map_cache_mib: int = Field(
        64, ge=0, description="served /map pages and their days' layers kept (LRU; 0: off)"
    )
    sign_in_max_failures: int = Field(
        5, ge=1, description="failed sign-ins from one address before it must wait (429)"
    )
    sign_in_window_s: float = Field(
        15 * 60, gt=0, description="period over which failed sign-ins are counted"
    )
    sign_in_max_addresses: int = Field(
        10_000, ge=1, description="client addresses whose failed sign-ins are tracked at once"
    )
    tile_max_features: int = Field(4_000, ge=1, description="most cells in one vector tile")
    inbox_limit: int = Field(
        200, ge=1, le=5_000, description="open alerts the field app's inbox holds, newest first"
    )
    seizure_radius_m: float = Field(
        10_000, gt=0, le=100_000, description="default radius of a cell's nearby seizures"
    )
    max_photo_bytes: int = Field(
        15 * 1024 * 1024,
        gt=0,
        description="photo uploads (the whole multipart body) above this size are refused with 413",
    )
    max_photo_pixels: int = Field(
        50_000_000, gt=0, description="photos of more pixels are refused (413) before decoding"
    )
    thumbnail_px: int = Field(
        320, ge=32, le=2048, description="longest side of a photo's thumbnail, pixels"
    )
    opentelemetry: bool = Field(
        False,
        description="FastAPI's OpenTelemetry spans, metrics and logs through the global providers "
        "(off by default: FastAPI otherwise looks the providers up on every request)",
    )

    @model_validator(mode="after")
    def _default_within_max(self) -> ServiceSettings:
        if self.default_limit > self.max_limit:
            raise ValueError(
                f"default_limit {self.default_limit} exceeds max_limit {self.max_limit}"
            )
        if self.heatmap_default_limit > self.heatmap_max_limit:
            raise ValueError(
                f"heatmap_default_limit {self.heatmap_default_limit} exceeds "
                f"heatmap_max_limit {self.heatmap_max_limit}"
            )
        return self


class ApiSettings(GeointSettings):
    """Everything `create_app` needs: workspace, thresholds, region and service limits."""

    region: Path = Field(description="region folder (with region.toml) served by the API")
    basemap: Path | None = Field(
        None, description="a post's MBTiles or PMTiles file served at /basemap/{z}/{x}/{y}.{ext}"
    )
    api: ServiceSettings = ServiceSettings()
