"""Settings: every threshold of the spec with its default, validated at load.

Library code receives these objects; only the edges (CLI, API factory) build them, from
keyword arguments or from ``GEOINT_*`` environment variables (nested with ``__``, for example
``GEOINT_EVENTS__NEAR_BORDER_M=5000``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseModel):
    """Validation rules applied to every ping (SPEC §3)."""

    min_year: int = Field(2000, description="pings before 1 January of this year are implausible")
    max_future_s: float = Field(
        3600, gt=0, description="pings further in the future are implausible"
    )
    spike_speed_kmh: float = Field(
        250, gt=0, description="implied speed to both neighbours above which a ping is a GPS spike"
    )
    chunk_rows: int = Field(2_000_000, gt=0, description="rows validated and written per chunk")
    compact_min_parts: int = Field(
        32, ge=2, description="small ping parts of one date that an ingest merges into one"
    )
    compact_small_bytes: int = Field(
        4 * 2**20, gt=0, description="ping parts smaller than this are merged (bytes)"
    )
    compact_grace_s: float = Field(
        3600, ge=0, description="merged parts' files are deleted this long after the merge"
    )
    post_group_rows: int = Field(
        1_000,
        ge=0,
        description="a posted body of at most this many records (and every OsmAnd position) is "
        "stored together with concurrent posts in one group commit (docs/ingest.md)",
    )
    post_group_max_rows: int = Field(
        20_000, gt=0, description="records one group commit of posts stores at most"
    )
    post_group_wait_s: float = Field(
        0.005, ge=0, description="how long a group commit waits for concurrent posts to join"
    )


class TrackSettings(BaseModel):
    """Track preparation (SPEC §6)."""

    trip_gap_s: float = Field(30 * 60, gt=0)
    moving_speed_kmh: float = Field(5, ge=0)
    near_border_m: float = Field(10_000, gt=0)


class EventSettings(BaseModel):
    """Thresholds of every track event type (SPEC §6), with the spec's defaults."""

    crossing_max_gap_s: float = Field(10 * 60, gt=0)
    crossing_official_radius_m: float = Field(2_000, gt=0)
    crossing_settle_m: float = Field(
        150,
        ge=0,
        description="a crossing counts once the vehicle reports farther than this from the "
        "border on the new side (jitter at a post is no crossing; docs/events.md)",
    )
    settle_accuracy_factor: float = Field(
        3,
        ge=0,
        description="a fix reporting accuracy_m settles (crossings, the watch-list band) only "
        "beyond this many times its accuracy when that is more than the settle distance",
    )
    signal_gap_s: float = Field(30 * 60, gt=0)
    gap_interval_factor: float = Field(
        5,
        ge=0,
        description="a hole in a device's fixes is a gap (dark crossing, signal gap) only when "
        "it is also at least this many times the device's median interval (docs/events.md)",
    )
    stop_diameter_m: float = Field(200, gt=0)
    stop_min_duration_s: float = Field(20 * 60, gt=0)
    stop_outlier_run: int = Field(
        2,
        ge=0,
        description="a stop skips up to this many consecutive fixes off its diameter "
        "when the next fix is back inside (docs/events.md)",
    )
    stop_outlier_share: float = Field(
        0.2, ge=0, lt=1, description="at most this share of a stop's fixes may be outliers"
    )
    loiter_clear_of_official_m: float = Field(2_000, ge=0)
    rendezvous_distance_m: float = Field(300, gt=0)
    rendezvous_min_duration_s: float = Field(10 * 60, gt=0)
    rendezvous_near_border_m: float = Field(20_000, gt=0)
    rendezvous_stray_run: int = Field(
        2,
        ge=0,
        description="a stationary run skips up to this many consecutive moving fixes when "
        "the next fix is still slow from its last one (docs/events.md)",
    )
    off_road_distance_m: float = Field(500, gt=0)
    off_road_min_duration_s: float = Field(10 * 60, gt=0)
    shuttle_min_crossings: int = Field(4, ge=2)
    shuttle_window_s: float = Field(24 * 3600, gt=0)
    route_deviation_m: float = Field(1_000, gt=0)
    route_deviation_min_pings: int = Field(2, ge=1)
    unauthorized_stop_min_s: float = Field(30 * 60, gt=0)
    transit_arrival_radius_m: float = Field(1_000, gt=0)
    watchlist_near_border_m: float = Field(20_000, gt=0)
    watchlist_settle_m: float = Field(
        150,
        ge=0,
        description="a watch-listed vehicle inside the border band stays in it until it "
        "reports farther than the band plus this (docs/events.md)",
    )
    identity_conflict_distance_m: float = Field(50_000, gt=0)
    identity_conflict_alternations: int = Field(3, ge=1)
    identity_conflict_window_s: float = Field(3600, gt=0)
    gnss_anomaly_min_spikes: int = Field(3, ge=1)
    gnss_anomaly_window_s: float = Field(3600, gt=0)
    night_start_hour: int = Field(22, ge=0, le=23)
    night_end_hour: int = Field(5, ge=0, le=23)


class AlertSettings(BaseModel):
    """Alert rules and de-duplication (SPEC §8)."""

    rules_file: Path | None = Field(
        None, description="TOML rules file; default the shipped geoint/alerts/rules.toml"
    )
    dedup_window_s: float = Field(
        6 * 3600, ge=0, description="a repeat within this time of the last one updates an alert"
    )
    cell_lookback_days: int = Field(
        1, ge=1, description="cell conditions are raised for the last N days of the data only"
    )
    sender: str = Field(
        "geoint@localhost",
        pattern=r"^[^\s,<&]+$",
        description="CAP sender of every alert (no spaces, commas, '<' or '&')",
    )
    restriction: str = Field(
        "Border units and analysts of this service only",
        description="CAP restriction text (scope Restricted)",
    )
    stream_poll_s: float = Field(
        0.25, gt=0, le=10, description="how often the SSE stream looks for new alert changes"
    )
    stream_keepalive_s: float = Field(
        15, gt=0, description="an idle SSE stream sends a comment this often"
    )
    stream_batch: int = Field(500, ge=1, description="alert changes read per SSE poll")
    incremental_lookback_s: float = Field(
        24 * 3600,
        gt=0,
        description="new pings are analysed with their vehicles' pings this far back (raised "
        "to the longest event window or duration of EventSettings/TrackSettings when shorter)",
    )
    late_after_s: float = Field(
        30 * 60,
        ge=0,
        description="an event alert is raised late when its event ended more than this before "
        "the vehicle's pings already analysed (buffered pings delivered after later ones)",
    )
    incremental_events_interval_s: float = Field(
        0.5,
        ge=0,
        description="while pings keep arriving, the service analyses their events at most "
        "this often (the batches posted meanwhile together): fewer, larger runs, alerts later "
        "by at most this much",
    )
    incremental_cells_interval_s: float = Field(
        30,
        ge=0,
        description="while pings keep arriving, the service updates the cell tables (and "
        "raises cell-rule alerts) at most this often; each update reloads the heatmaps",
    )


class EvaluationSettings(BaseModel):
    """How `geoint evaluate` matches detections to ground truth (docs/events.md, Evaluation)."""

    match_time_s: float = Field(
        15 * 60, ge=0, description="a detection may lie this far before or after a truth event"
    )
    match_distance_m: float = Field(2_000, ge=0, description="largest detection-truth distance")
    top_k: tuple[int, ...] = Field((10, 50, 200), description="k of the cell top-k precision")


_SEVERITY = {
    "border_crossing": 0.0,
    "unofficial_crossing": 5.0,
    "closed_hours_crossing": 4.0,
    "dark_crossing": 4.0,
    "signal_gap_near_border": 2.0,
    "border_loiter": 3.0,
    "rendezvous": 4.0,
    "off_road_near_border": 3.0,
    "shuttle": 3.0,
    "route_deviation": 2.0,
    "unauthorized_stop": 2.0,
    "transit_overdue": 1.0,
    "watchlist_hit": 3.0,
    "identity_conflict": 3.0,
    "gnss_anomaly": 2.0,
}
_ROAD_SPEED_KMH = {
    "motorway": 90.0,
    "trunk": 80.0,
    "primary": 70.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "track": 25.0,
}
_RISK_WEIGHTS = {
    "events": 35.0,
    "hotspot": 15.0,
    "anomaly": 10.0,
    "seizure_prior": 10.0,
    "remoteness": 10.0,
    "border": 10.0,
    "night": 10.0,
}


class CellSettings(BaseModel):
    """Cell analytics (SPEC §7, docs/cells.md): windows, anomaly, hotspots, seizure prior, risk."""

    baseline_days: int = Field(28, ge=1, description="trailing baseline of the activity anomaly")
    baseline_min_days: int = Field(7, ge=1, description="no anomaly with a shorter baseline")
    neighbourhood_k: int = Field(2, ge=1, description="H3 rings 1..k form the prior mean")
    prior_floor_per_day: float = Field(
        0.05, gt=0, description="smallest prior mean count per cell-day (empty neighbourhoods)"
    )
    anomaly_alert_p: float = Field(1e-3, gt=0, lt=1, description="anomaly alert threshold")
    gi_k: int = Field(1, ge=1, description="Gi* neighbourhood: rings 0..k (binary weights)")
    fdr_alpha: float = Field(0.05, gt=0, lt=1, description="hotspot significance after BH")
    min_trend_weeks: int = Field(8, ge=3, description="weekly bins needed for emerging classes")
    trend_alpha: float = Field(0.05, gt=0, lt=1, description="Mann-Kendall significance")
    persistent_share: float = Field(0.9, gt=0, le=1, description="Esri's 90 % of the bins")
    severity: dict[str, float] = Field(
        default_factory=lambda: dict(_SEVERITY), description="hotspot weight per event type"
    )
    seizure_half_life_days: float = Field(90, gt=0)
    seizure_sigma_m: float = Field(5_000, gt=0)
    seizure_cutoff_sigmas: float = Field(3, gt=0, description="kernel truncated beyond this")
    risk_weights: dict[str, float] = Field(
        default_factory=lambda: dict(_RISK_WEIGHTS),
        description="points of each factor at full strength; they sum to 100",
    )
    events_scale: float = Field(4, gt=0, description="severity at which events reach 63 %")
    hotspot_z_scale: float = Field(3, gt=0, description="Gi* z at which hotspot saturates")
    anomaly_z_scale: float = Field(4, gt=0, description="anomaly z at which it saturates")
    seizure_scale: float = Field(1, gt=0, description="decayed seizure density reaching 63 %")
    remoteness_scale_m: float = Field(3_000, gt=0, description="distance reaching 63 %")
    border_scale_m: float = Field(5_000, gt=0, description="border factor falls to 37 % here")
    effort_ref_hours: float = Field(
        2,
        gt=0,
        description="hours searched in a cell, up to a patrol's seizure there, that halve the "
        "seizure's weight in the prior",
    )
    detect_minutes: float = Field(
        20,
        gt=0,
        description="search minutes after which activity present in a cell is found with "
        "probability 63 % (1 - exp(-minutes / this))",
    )
    effort_prior_finds: float = Field(
        0.5,
        gt=0,
        description="expected finds' worth of confidence in a cell's risk before its own "
        "patrol record (finds against the finds its risk predicted) moves it",
    )
    effort_explore: float = Field(
        0,
        ge=0,
        description="standard deviations of a cell's catch-rate estimate added to it (upper "
        "confidence bound): searching uncertain cells",
    )
    searched_days: int = Field(
        14, ge=1, description="days over which a search that found nothing fades back to the prior"
    )
    evidence_days: int = Field(
        90,
        ge=0,
        description="days a cell keeps a risk row after a seizure there, with or without pings",
    )

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> CellSettings:
        total = sum(self.risk_weights.values())
        if abs(total - 100) > 1e-9 or min(self.risk_weights.values()) < 0:
            raise ValueError(f"risk_weights must be >= 0 and sum to 100, got {total}")
        return self


class AnalysisSettings(BaseModel):
    """The full analysis by vehicle partitions (docs/scale.md): memory follows the partition."""

    partition_pings: int = Field(
        4_000_000,
        gt=0,
        description="pings per vehicle partition (the count is the stored pings over this)",
    )
    partitions: int | None = Field(
        None, ge=1, description="a fixed number of vehicle partitions instead (null: from the data)"
    )
    threads: int = Field(
        2,
        ge=1,
        description="partitions the local engine analyses at once, one thread each (polars, "
        "shapely and the numba kernels release the interpreter lock); memory grows with it",
    )


class PatrolSettings(BaseModel):
    """Patrol planning (SPEC §9, docs/patrol.md): travel model, targets, solver, sampling."""

    road_speed_kmh: dict[str, float] = Field(
        default_factory=lambda: dict(_ROAD_SPEED_KMH),
        description="patrol vehicle speed on a cell crossed by a road of each class",
    )
    offroad_speed_kmh: float = Field(15, gt=0, description="off-road speed on flat ground")
    slope_scale_deg: float = Field(
        20, gt=0, description="off-road speed falls to 37 % at this slope (exp(-slope/scale))"
    )
    slope_limit_deg: float = Field(
        25, gt=0, le=90, description="off-road cells steeper than this are impassable"
    )
    graph_buffer_m: float = Field(
        30_000, gt=0, description="the travel graph: the region bbox within this of the border"
    )
    transit_resolution: int = Field(
        7, ge=0, le=15, description="H3 resolution of the transit graph joining far bases"
    )
    dwell_min: float = Field(20, ge=0, description="minutes spent at each stop")
    dwell_extra_cell_min: float = Field(
        5, ge=0, description="more minutes at a stop for each target cell beyond its first"
    )
    look_back_days: int = Field(
        7, ge=1, description="a stop's words count the events of this many days before the shift"
    )
    seizure_look_back_days: int = Field(
        90, ge=1, description="a stop's words name the seizures of this many days before the shift"
    )
    seizure_radius_m: float = Field(
        5_000, gt=0, description="a stop's words name the seizures within this distance"
    )
    track_gap_min: float = Field(
        30, gt=0, description="debrief tracks: a gap longer than this counts no time in a cell"
    )
    stop_rings: int = Field(
        1, ge=0, le=3, description="targets within this many H3 rings of a stop join it"
    )
    max_teams: int = Field(20, ge=1, description="most teams one request may plan for")
    max_shift_h: float = Field(24, gt=0, description="longest shift one request may plan")
    candidates: int = Field(100, ge=1, le=500, description="top-risk cells offered to the solver")
    emerging_boost: float = Field(
        0.25, ge=0, description="prize multiplier 1 + boost for cells in an emerging hot-spot class"
    )
    solver_time_s: float = Field(
        2.0, gt=0, description="solver time: half OR-Tools routing, half iterated local search"
    )
    solver_strategies: tuple[str, ...] = Field(
        ("PARALLEL_CHEAPEST_INSERTION", "ALL_UNPERFORMED"),
        min_length=1,
        description="OR-Tools first-solution strategies, each followed by guided local search",
    )
    unpredictability: float = Field(
        0.5, ge=0, lt=1, description="seeded plans perturb each prize by a factor in 1 ± this"
    )
    near_optimal_share: float = Field(
        0.9, gt=0, le=1, description="seeded plans collect at least this share of the best plan"
    )


class ExchangeSettings(BaseModel):
    """Exchange of records with partner administrations (docs/exchange.md)."""

    administration: str = Field(
        "", max_length=128, description="the name packages are signed as (default of --sender)"
    )


class IntelSettings(BaseModel):
    """Seizure intelligence (docs/seizures.md): crossings, trends, reports."""

    crossing_radius_m: float = Field(
        10_000, gt=0, description="a seizure belongs to the nearest official crossing this close"
    )
    top_routes: int = Field(10, ge=1, description="origin → destination routes listed")
    max_points: int = Field(
        5_000, ge=1, description="seizure positions drawn on a trends or report map (latest)"
    )
    report_alerts: int = Field(20, ge=0, description="notable alerts listed in a report")
    profiles_file: Path | None = Field(
        None, description="CTS-style risk profiles (TOML); default geoint/intel/profiles.toml"
    )
    high_risk_score: float = Field(
        70, ge=0, le=100, description="a declaration scoring this much is high risk"
    )
    medium_risk_score: float = Field(
        40, ge=0, le=100, description="a declaration scoring this much is medium risk"
    )


class MapSettings(BaseModel):
    """The web map (SPEC §11)."""

    complete_day_margin_s: float = Field(
        3600,
        ge=0,
        description="a UTC day counts as complete (the map opens on the latest such day) when "
        "the latest ping is at most this long before the day's end",
    )


class GeointSettings(BaseSettings):
    """Top-level settings; built once at the edge and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="GEOINT_", env_nested_delimiter="__", extra="forbid"
    )

    workspace: Path = Field(Path("geoint-data"), description="workspace folder")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the operational database; default SQLite in the workspace",
    )
    h3_resolution: int = Field(8, ge=0, le=15, description="analysis resolution")
    coarse_resolutions: tuple[int, ...] = Field((5, 6, 7), description="parent aggregations")
    ingest: IngestSettings = IngestSettings()
    tracks: TrackSettings = TrackSettings()
    events: EventSettings = EventSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    alerts: AlertSettings = AlertSettings()
    cells: CellSettings = CellSettings()
    analysis: AnalysisSettings = AnalysisSettings()
    patrol: PatrolSettings = PatrolSettings()
    exchange: ExchangeSettings = ExchangeSettings()
    intel: IntelSettings = IntelSettings()
    map: MapSettings = MapSettings()

    @model_validator(mode="after")
    def _coarse_are_parents(self) -> GeointSettings:
        bad = [r for r in self.coarse_resolutions if not 0 <= r < self.h3_resolution]
        if bad:
            raise ValueError(
                f"coarse_resolutions {bad} must be coarser than h3_resolution {self.h3_resolution}"
            )
        return self
