"""Simulated CEN seizure records near (never on) the sites of planted illicit behaviour.

Each planted site yields a seizure with some probability, 1-10 km from it on either side of the
border, up to a day and a half later, with plausible CEN fields (SPEC §3). Every fifth gives a
town name instead of coordinates; every twelfth description carries HTML/script text, to prove
that every viewer escapes it. Every row ingests cleanly.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from geoint.sim.planting import TRANSIT_ROLES, Site
from geoint.sim.scenery import Scenery
from geoint.sim.traffic import HOUR, Clock

SEIZURE_SHARE = 0.7  # of planted sites
PLACE_NAME_EVERY = 5  # every fifth seizure gives a town name instead of coordinates
HOSTILE_EVERY = 12  # every twelfth description carries HTML/script text
HOSTILE = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
# commodity -> (weight, unit, quantity range, what it looked like)
GOODS = {
    "fuel": (0.25, "litres", (200, 6_000), "petrol in jerrycans"),
    "tobacco": (0.14, "cartons", (50, 2_000), "cigarettes"),
    "drugs": (0.1, "kg", (2, 150), "cannabis resin"),
    "medicines": (0.1, "kg", (5, 400), "tramadol tablets"),
    "alcohol": (0.08, "litres", (50, 1_500), "spirits"),
    "ipr_counterfeit": (0.08, "items", (100, 20_000), "counterfeit clothing"),
    "currency": (0.05, "USD", (20_000, 900_000), "undeclared cash"),
    "wildlife": (0.04, "kg", (5, 300), "pangolin scales"),
    "timber": (0.04, "m3", (2, 40), "rosewood logs"),
    "weapons": (0.03, "items", (1, 30), "shotgun cartridges and pistols"),
    "explosives_precursors": (0.03, "kg", (50, 2_000), "ammonium nitrate"),
    "waste_ods": (0.03, "kg", (20, 500), "refrigerant gas cylinders"),
    "other": (0.03, "items", (10, 5_000), "used tyres"),
}
CONCEALMENTS = (
    "hidden compartment",
    "under legitimate cargo",
    "false floor",
    "modified fuel tank",
    "spare tyre",
    "under a tarpaulin",
    "none (carried openly)",
)
DETECTIONS = (
    "mobile patrol",
    "x-ray scanner",
    "detector dog",
    "intelligence tip-off",
    "random check",
    "risk profiling",
)
COLUMNS = (
    "seizure_id", "date", "lat", "lon", "place", "commodity", "quantity", "unit",
    "transport_mode", "concealment", "detection_method", "direction", "origin_country",
    "destination_country", "vehicle_id", "description",
)  # fmt: skip


def seizure_frame(
    sites: list[Site],
    scenery: Scenery,
    clock: Clock,
    countries: tuple[str, str],
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Return CEN seizure rows (all text, CSV-ready) for a share of the planted sites."""
    towns = [p for p in scenery.places if p.kind == "town"]
    names = list(GOODS)
    weights = np.array([GOODS[n][0] for n in names])
    rows = []
    for site in sites:
        if rng.random() >= SEIZURE_SHARE:
            continue
        xy = _near(site.xy, scenery, rng)
        if xy is None:
            continue
        commodity = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        _, unit, (low, high), what = GOODS[commodity]
        quantity = round(float(rng.uniform(low, high)), 0 if unit in ("items", "cartons") else 1)
        mode = site.vehicle.kind if rng.random() < 0.9 else "pedestrian"
        concealment = CONCEALMENTS[int(rng.integers(len(CONCEALMENTS)))]
        detection = DETECTIONS[int(rng.integers(len(DETECTIONS)))]
        origin, destination = _route(site)
        direction = "transit" if site.vehicle.role in TRANSIT_ROLES else "import"
        when = clock.epoch + timedelta(seconds=round(site.t + rng.uniform(0, 36) * HOUR))
        lat, lon = scenery.lonlat(xy)
        number = len(rows) + 1
        description = f"{quantity:g} {unit} of {what} ({concealment}), {mode}; {detection}"
        if number % HOSTILE_EVERY == 0:
            description += f" {HOSTILE[(number // HOSTILE_EVERY) % len(HOSTILE)]}"
        row = {
            "seizure_id": f"SZ-{clock.start_date.year}-{number:05d}",
            "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lat": f"{lat[0]:.6f}",
            "lon": f"{lon[0]:.6f}",
            "place": None,
            "commodity": commodity,
            "quantity": f"{quantity:g}",
            "unit": unit,
            "transport_mode": mode,
            "concealment": concealment,
            "detection_method": detection,
            "direction": direction,
            "origin_country": countries[origin],
            "destination_country": countries[destination],
            "vehicle_id": site.vehicle.vehicle_id if rng.random() < 0.5 else None,
            "description": description,
        }
        if towns and number % PLACE_NAME_EVERY == 0:
            nearest = min(towns, key=lambda p: float(np.hypot(*(p.xy - xy))))
            row |= {"lat": None, "lon": None, "place": nearest.name}
        rows.append(row)
    schema = dict.fromkeys(COLUMNS, pl.String)
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _route(site: Site) -> tuple[int, int]:
    """Return (origin, destination) sides: across the border the way the vehicle went, or
    from the other side into the site's side when the episode stayed on one side."""
    if site.from_side != site.to_side:
        return site.from_side, site.to_side
    return 1 - site.from_side, site.from_side


def _near(xy: np.ndarray, scenery: Scenery, rng: np.random.Generator) -> np.ndarray | None:
    """Return a point 1-10 km from `xy` on either side of the border (None after 10 tries)."""
    for _ in range(10):
        angle = rng.uniform(0, 2 * np.pi)
        point = xy + rng.uniform(1_000, 10_000) * np.array([np.sin(angle), np.cos(angle)])
        if scenery.side(point)[0] >= 0:
            return point
    return None
