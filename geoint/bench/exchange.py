"""`geoint bench exchange`: export and import of 100 k seizures (each ≤ 10 s).

Seeded synthetic seizures (CEN fields, 5,000 plates, positions over the sample region) are
ingested into one workspace from CSV, which is the baseline of the same run: the time to take
the same seizures in locally. They are then exported under a policy using every rule, the
package imported into a second workspace, and imported again (every record a duplicate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from geoint.exchange.export import export_package
from geoint.exchange.importer import import_package
from geoint.exchange.package import generate_keys, load_private_key, load_public_key
from geoint.exchange.policy import parse_rules
from geoint.pipeline.ingest import ingest_records
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

COMMODITIES = ("drugs", "tobacco", "alcohol", "fuel", "currency", "medicines", "other")
MODES = ("truck", "car", "motorcycle", "bus", "pedestrian")
BENCH_POLICY = {
    "seizure_id": "keep",
    "date": "day",
    "position": "h3:7",
    "commodity": "keep",
    "quantity": "band:100",
    "unit": "keep",
    "transport_mode": "keep",
    "concealment": "keep",
    "vehicle_id": "pseudonym",
    "description": "drop",
}


def synthetic_seizures(count: int, seed: int = 7) -> pl.DataFrame:
    """`count` seeded seizures over the sample region (a year, 5,000 plates)."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 365 * 86_400, count))
    return pl.DataFrame(
        {
            "seizure_id": [f"BJ-{i:07d}" for i in range(count)],
            "date": pl.Series([start] * count)
            + pl.Series(seconds * 1_000_000).cast(pl.Duration("us")),
            "lat": np.round(rng.uniform(6.4, 12.0, count), 6),
            "lon": np.round(rng.uniform(2.3, 3.8, count), 6),
            "commodity": rng.choice(COMMODITIES, count),
            "quantity": np.round(rng.lognormal(5, 1.5, count), 1),
            "unit": "kg",
            "transport_mode": rng.choice(MODES, count),
            "concealment": rng.choice(["false floor", "hidden compartment", "in cargo"], count),
            "vehicle_id": [f"BJ {p:04d} RB" for p in rng.integers(0, 5_000, count)],
            "description": [f"seizure {i}: see report" for i in range(count)],
        }
    ).with_columns(pl.col("date").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def run_exchange_benchmark(
    folder: Path, seizures: int = 100_000, log: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Ingest (baseline), export, import and re-import `seizures` seizures under `folder`."""
    settings = GeointSettings(workspace=folder / "sender")
    csv = folder / "seizures.csv"
    synthetic_seizures(seizures).write_csv(csv)
    sender, receiver = Workspace(folder / "sender"), Workspace(folder / "receiver")
    began = time.perf_counter()
    ingested = ingest_records(sender, "seizures", csv, settings)
    ingest_s = time.perf_counter() - began
    if log:
        log(f"baseline: ingested {ingested.accepted:,} seizures from CSV in {ingest_s:.2f} s")
    private, public = generate_keys(folder / "keys")
    policy = parse_rules(BENCH_POLICY, "seizures", "bench policy")
    package = folder / "package.zip"
    exported = export_package(sender, policy, "BJ", "NG", load_private_key(private), package)
    if log:
        log(f"export: {exported.records:,} records in {exported.seconds:.2f} s")
    trusted = load_public_key(public)
    imported = import_package(receiver, package, trusted, settings.h3_resolution)
    if log:
        log(f"import: {imported.stored:,} stored in {imported.seconds:.2f} s")
    again = import_package(receiver, package, trusted, settings.h3_resolution)
    for store in (sender, receiver):
        store.close()
    return {
        "seizures": seizures,
        "export_seconds": round(exported.seconds, 3),
        "import_seconds": round(imported.seconds, 3),
        "reimport_seconds": round(again.seconds, 3),
        "target_seconds": 10,
        "baseline_csv_ingest_seconds": round(ingest_s, 3),
        "package_bytes": package.stat().st_size,
        "stored": imported.stored,
        "reimport_stored": again.stored,
        "reimport_duplicates": again.duplicates,
        "policy": BENCH_POLICY,
    }
