"""A served workspace holding the sample scenario's seizures plus a few hand-made ones, and the
pandas oracle the seizure queries are held equal to."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from geoint.layers import Region
from support.paths import REPO

SAMPLE_SEIZURES = REPO / "sample_tracks" / "scenario" / "seizures.csv"
# Near Seme crossing (6.3794, 2.7035), mixed case and units, hostile text: what filters meet.
EXTRA_SEIZURES_CSV = (
    "seizure_id,date,lat,lon,commodity,quantity,unit,transport_mode,concealment,"
    "detection_method,direction,origin_country,destination_country,vehicle_id,description\n"
    "X-SEME-1,2026-03-04T10:00:00Z,6.39,2.71,fuel,500,litres,truck,False Floor,"
    "X-ray scanner,import,nigeria,Benin,OP-7,jerrycans under a false floor\n"
    "X-SEME-2,2026-03-09T10:00:00Z,6.385,2.70,fuel,20,kg,car,spare tyre,random check,"
    'import,Nigeria,Benin,OP-7,"<script>alert(1)</script> & ""50%_off"""\n'
    "X-APRIL,2026-04-02T06:00:00Z,10.0,3.0,tobacco,,,motorcycle,,detector dog,export,"
    "Benin,Niger,,no quantity\n"
)


def stored_frame(engine: sa.Engine) -> pd.DataFrame:
    """The stored seizures as pandas reads the table (times as naive UTC)."""
    return pd.read_sql_table("seizures", engine)


def crossing_oracle(frame: pd.DataFrame, region: Region, radius_m: float) -> pd.Series:
    """The nearest crossing's name within `radius_m` of each seizure (geopandas; None: none)."""
    crossings = region.read("crossings").to_crs(region.crs)[["name", "geometry"]]
    points = gpd.GeoDataFrame(
        frame[["seizure_id"]],
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs="EPSG:4326",
    ).to_crs(region.crs)
    nearest = gpd.sjoin_nearest(points, crossings, how="left", max_distance=radius_m)
    nearest = nearest[~nearest.index.duplicated()]
    return nearest["name"].where(nearest["name"].notna(), None).reindex(frame.index)


def _period(ts: pd.Series, period: str) -> pd.Series:
    """The first day of each time's ISO week (Monday) or month, as an ISO date."""
    code = "W-SUN" if period == "week" else "M"
    return ts.dt.to_period(code).dt.start_time.dt.strftime("%Y-%m-%d")


def pandas_trends(frame: pd.DataFrame, by: str, period: str) -> pd.DataFrame:
    """Count and single-unit quantity per value and period: the plain pandas group-by."""
    frame = frame.assign(period=_period(frame.ts, period), key=frame[by])
    groups = frame.groupby(["key", "period"], dropna=False)
    counted = groups.size().rename("count")
    measured = frame[frame.quantity.notna()].groupby(["key", "period"], dropna=False)
    one_unit = measured.unit.nunique(dropna=False) == 1
    quantity = measured.quantity.sum().where(one_unit)
    return pd.concat([counted, quantity.rename("quantity")], axis=1).reset_index()
