"""Patrol effort in the risk (PAWS): exploration kept, each cell's finds out of its
detection-weighted searches (catch per unit effort, misses weighed by the presence
probability), the patrols' own seizures weighed by effort in the prior, and rows for cells that
only seizures make known."""

from datetime import UTC, date, datetime, timedelta

import h3
import numpy as np
import polars as pl
import pytest

from geoint.analytics.scoring import (
    CONTRIBUTIONS,
    EFFORT_COLUMNS,
    effort_factors,
    evidence_rows,
    rescore,
    risk_score,
)
from geoint.h3index import cell_centres, hex_to_cells
from geoint.settings import CellSettings

CELL = h3.latlng_to_cell(7.5, 2.75, 8)
NEAR = h3.grid_ring(CELL, 3)[0]  # 1 km away: inside the seizure kernel
FAR = h3.latlng_to_cell(8.2, 2.75, 8)  # beyond the kernel's 15 km
DAY = date(2026, 3, 4)
SETTINGS = CellSettings()


def _days(cells: list[str], day: date) -> pl.DataFrame:
    """Cell-days with every risk input set: events, a hotspot, context."""
    n = len(cells)
    return pl.DataFrame(
        {
            "cell": pl.Series(hex_to_cells(cells), dtype=pl.UInt64),
            "date": [day] * n,
            "severity": [8.0] * n, "gi_z": [2.0] * n, "gi_bin": [2] * n,
            "anomaly_z": [1.0] * n, "night_share": [0.5] * n,
            "distance_to_road_m": [500.0] * n, "distance_to_crossing_m": [9e3] * n,
            "distance_to_place_m": [4e3] * n, "distance_to_border_m": [1e3] * n,
        }
    )  # fmt: skip


def _effort(rows: list[tuple[str, date, float, float, int]]) -> pl.DataFrame:
    """Effort rows (cell hex, date, minutes, nothing_minutes, seizures)."""
    return pl.DataFrame(
        [(hex_to_cells([c])[0], *rest) for c, *rest in rows], schema=EFFORT_COLUMNS, orient="row"
    )


def _seizures(cells: list[str], days: list[date]) -> pl.DataFrame:
    """Seizures at the cells' centres at the start of their day (as debriefs date finds)."""
    lat, lon = cell_centres(hex_to_cells(cells))
    return pl.DataFrame(
        {
            "ts": [datetime.combine(d, datetime.min.time(), UTC)
                   for d in days],
            "lat": lat, "lon": lon, "cell": pl.Series(hex_to_cells(cells), dtype=pl.UInt64),
        },
        schema={"ts": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
                "cell": pl.UInt64},
    )  # fmt: skip


def _adds_up(scored: pl.DataFrame) -> None:
    sums = scored.select(pl.sum_horizontal(CONTRIBUTIONS)).to_series()
    assert np.allclose(sums, scored["risk"])  # the explanation adds up


def test_cells_never_searched_keep_their_whole_risk_and_checkpoint_seizures_are_not_divided():
    """(a) Exploration: effort elsewhere, even a lot of it next door, takes nothing from a cell
    no patrol searched, and a seizure no patrol made (checkpoint, tip) keeps its weight."""
    seizures = _seizures([CELL], [DAY - timedelta(days=3)])
    effort = _effort([(NEAR, DAY - timedelta(days=d), 480.0, 0.0, 0) for d in range(1, 4)])
    days = _days([CELL, FAR], DAY)
    aware = rescore(days, seizures, effort, SETTINGS)
    blind = rescore(days, seizures, None, SETTINGS)
    _adds_up(aware)
    assert aware["c_seizure_prior"][0] > 5
    assert aware["risk"].to_list() == pytest.approx(blind["risk"].to_list())
    assert aware["c_effort"].to_list() == [0.0, 0.0] and aware["c_searched"].to_list() == [0, 0]


def _ratio(trials: float, finds: float, presence: float) -> float:
    """The Gamma-Poisson catch ratio: (finds + a) / (expected finds + a), the expected finds
    the detection-weighted searches times the presence the calibrated risk implies."""
    a = SETTINGS.effort_prior_finds
    return (finds + a) / (trials * presence + a)


def test_a_search_that_found_nothing_lowers_the_risk_by_what_it_could_find_then_fades():
    """A miss is evidence only as far as it could have found something: the risk falls by
    a / (a + q P) (q = 1 − exp(−t/τ), P the calibrated presence, a = effort_prior_finds), not
    by Bayes' rule with q as if activity were present every evening; the search fades over
    searched_days from the next day."""
    effort = _effort([(CELL, DAY, 20.0, 20.0, 0)])
    q = 1 - np.exp(-20 / SETTINGS.detect_minutes)
    seen = {}
    for offset in (0, 1, 8, SETTINGS.searched_days + 1):
        days = _days([CELL, FAR], DAY + timedelta(days=offset))
        aware = rescore(days, _seizures([], []), effort, SETTINGS)
        blind = rescore(days, _seizures([], []), None, SETTINGS)
        _adds_up(aware)
        assert aware["risk"][1] == pytest.approx(blind["risk"][1])  # not searched
        seen[offset] = (aware.row(0, named=True), blind["risk"][0])
    same_day, next_day, week, after = (seen[o] for o in sorted(seen))
    assert same_day[0]["risk"] == pytest.approx(same_day[1])
    row, prior = next_day
    presence = prior / 100 / (q * prior / 100 + 1)  # calibrated on the record: 0 finds
    assert row["f_searched"] == pytest.approx(_ratio(q, 0.0, presence))
    assert row["risk"] == pytest.approx(prior * _ratio(q, 0.0, presence))
    p = prior / 100  # the old update, activity assumed present every evening, lowers more
    assert row["risk"] > prior * (1 - q) / (1 - p * q)
    faded = q * (1 - 7 / SETTINGS.searched_days)
    presence = prior / 100 / (faded * prior / 100 + 1)
    assert week[0]["f_searched"] == pytest.approx(_ratio(faded, 0.0, presence))
    assert prior > week[0]["risk"] > row["risk"]
    assert after[0]["c_searched"] == 0 and after[0]["risk"] == pytest.approx(after[1])


def test_short_searches_are_weak_evidence_and_several_misses_add_up():
    """Five minutes find present activity 22 % of the time: the risk moves less than half as
    much as after an hour's miss; three misses on three evenings add their detection probabilities
    as effective searches."""
    days = _days([CELL], DAY)
    blind = rescore(days, _seizures([], []), None, SETTINGS)["risk"][0]
    risk = {}
    for minutes in (5.0, 60.0):
        effort = _effort([(CELL, DAY - timedelta(1), minutes, minutes, 0)])
        risk[minutes] = rescore(days, _seizures([], []), effort, SETTINGS)["risk"][0]
    q = 1 - np.exp(-5 / SETTINGS.detect_minutes)
    presence = blind / 100 / (q * blind / 100 + 1)
    assert risk[5.0] == pytest.approx(blind * _ratio(q, 0.0, presence))
    assert blind - risk[5.0] < 0.5 * (blind - risk[60.0])
    misses = [(CELL, DAY - timedelta(days=d), 20.0, 20.0, 0) for d in (1, 2, 3)]
    three = effort_factors(_effort(misses), days, SETTINGS).row(0, named=True)
    fade = [1 - (d - 1) / SETTINGS.searched_days for d in (1, 2, 3)]
    assert three["search_trials"] == pytest.approx((1 - np.exp(-1)) * sum(fade))
    assert three["search_finds"] == 0


def test_catch_per_unit_effort_a_place_that_pays_rises_one_searched_in_vain_falls():
    """Two cells with the same risk, each searched four evenings for 20 minutes: A found
    activity on two of them, B on none. The record's finds calibrate the risk as a presence
    probability (2 finds against 8 searches' predicted finds); A, active about one evening in
    two, rises above its risk (the old update lowered it for its two empty evenings); B falls."""
    searches = [(c, DAY - timedelta(days=d), 20.0, 0.0 if found else 20.0, int(found))
                for c, pattern in ((CELL, (1, 0, 1, 0)), (NEAR, (0, 0, 0, 0)))
                for d, found in zip((1, 2, 3, 4), pattern, strict=True)]  # fmt: skip
    days = _days([CELL, NEAR, FAR], DAY)
    aware = rescore(days, _seizures([], []), _effort(searches), SETTINGS)
    blind = rescore(days, _seizures([], []), None, SETTINGS)["risk"].to_list()
    _adds_up(aware)
    a, b, far = aware.iter_rows(named=True)
    q = 1 - np.exp(-1)
    trials = q * sum(1 - (d - 1) / SETTINGS.searched_days for d in (1, 2, 3, 4))
    finds = 1 + 1 - 2 / SETTINGS.searched_days  # the finds 1 and 3 days before, faded
    calibration = (finds + 1) / (2 * trials * blind[0] / 100 + 1)
    presence = calibration * blind[0] / 100
    assert a["f_searched"] == pytest.approx(_ratio(trials, finds, presence))
    assert a["risk"] == pytest.approx(min(100.0, blind[0] * _ratio(trials, finds, presence)))
    assert a["risk"] > blind[0] > b["risk"]
    assert b["risk"] == pytest.approx(blind[1] * _ratio(trials, 0.0, presence))
    assert far["risk"] == pytest.approx(blind[2]) and far["c_searched"] == 0


def test_a_patrol_seizure_weighs_by_the_effort_that_produced_it():
    """(c) Catch per unit effort: a patrol's seizure after H hours searched in its cell counts
    1 / (1 + H / effort_ref_hours) in the prior; the same seizure made at a checkpoint counts 1."""
    seized_on = DAY - timedelta(days=2)
    seizures = _seizures([CELL], [seized_on])
    days = _days([CELL, FAR], DAY)
    blind = rescore(days, seizures, None, SETTINGS)
    weights = {}
    for hours in (1 / 6, 10):
        effort = _effort([(CELL, seized_on, hours * 60, 0.0, 1)])
        aware = rescore(days, seizures, effort, SETTINGS)
        _adds_up(aware)
        row = aware.row(0, named=True)
        weights[hours] = row["seizure_density_effort"] / row["seizure_density"]
        assert row["c_effort"] == pytest.approx(
            SETTINGS.risk_weights["seizure_prior"]
            * (1 - np.exp(-row["seizure_density_effort"] / SETTINGS.seizure_scale))
            - blind["c_seizure_prior"][0]
        )
        assert row["f_effort"] == pytest.approx(-row["c_effort"] / row["c_seizure_prior"])
    ref = SETTINGS.effort_ref_hours
    assert weights[1 / 6] == pytest.approx(1 / (1 + 1 / 6 / ref), rel=1e-9)
    assert weights[10] == pytest.approx(1 / (1 + 10 / ref), rel=1e-9)
    checkpoint = rescore(days, seizures, _effort([(CELL, seized_on, 600.0, 0.0, 0)]), SETTINGS)
    assert checkpoint["c_effort"][0] == 0  # the search lowers it (c_searched), not the prior


def test_effort_factors_without_effort_are_zero():
    days = _days([CELL], DAY)
    factors = effort_factors(pl.DataFrame(schema=EFFORT_COLUMNS), days, SETTINGS)
    assert factors.select("patrol_excess", "search_finds", "search_trials").row(0) == (0, 0, 0)
    scored = risk_score(days.with_columns(seizure_density=pl.lit(0.0)), SETTINGS)
    assert scored["c_effort"].to_list() == [0.0] and scored["c_searched"].to_list() == [0.0]


def test_a_cell_without_pings_gets_risk_rows_after_a_seizure_there():
    """A seizure where no sensor sees anything makes its cell a row (so a patrol target) on
    the evidence_days after it, with its context; never before, never twice."""
    seizures = _seizures([FAR], [DAY - timedelta(days=1)])
    context = _days([FAR], DAY).select(
        "cell", "distance_to_road_m", "distance_to_crossing_m", "distance_to_place_m",
        "distance_to_border_m",
    )  # fmt: skip
    days = pl.concat([_days([CELL], DAY - timedelta(days=d)) for d in (-1, 0, 1, 2)])
    rows = evidence_rows(days, seizures, context, SETTINGS)
    assert sorted(rows["date"].to_list()) == [DAY, DAY + timedelta(days=1)]
    assert rows["cell"].unique().to_list() == hex_to_cells([FAR]).tolist()
    assert rows["severity"].to_list() == [0.0, 0.0] and rows["distance_to_border_m"][0] == 1e3
    scored = rescore(days, seizures, None, SETTINGS, context)
    far = scored.filter(pl.col("cell") == hex_to_cells([FAR])[0])
    _adds_up(far)
    assert far.height == 2 and (far["c_seizure_prior"] > 5).all()
    assert (far["c_events"] == 0).all() and (far["c_border"] > 8).all()
    again = rescore(scored, seizures, None, SETTINGS, context)
    assert again.height == scored.height  # rows that exist are not added twice
    late = SETTINGS.model_copy(update={"evidence_days": 1})
    assert evidence_rows(days, seizures, context, late)["date"].to_list() == [DAY]


def test_the_upper_confidence_bound_favours_the_cell_searched_less():
    """With effort_explore z, a cell's catch ratio is (μ + z σ) / (1 + z / √a), μ and σ its
    Gamma posterior's mean and deviation: two cells with the same risk and no find, searched
    the equivalent of 0.5 and 5 times, both fall, the one searched less by less than without
    the bound; a cell never searched keeps its risk."""
    days = _days([CELL, NEAR, FAR], DAY).with_columns(
        seizure_density=pl.lit(0.0),
        search_finds=pl.lit(0.0),
        search_trials=pl.Series([0.5, 5.0, 0.0]),
    )
    plain = risk_score(days, SETTINGS)
    z = 1.0
    bound = risk_score(days, SETTINGS.model_copy(update={"effort_explore": z}))
    _adds_up(bound)
    a = SETTINGS.effort_prior_finds
    before = plain["risk"][2]  # the risk before the factor: the cell never searched
    presence = 1 / (5.5 * before / 100 + 1) * before / 100  # no find in 5.5 searches' worth
    for row, trials in ((0, 0.5), (1, 5.0)):
        expected = trials * presence
        upper = (a + z * np.sqrt(a)) / (expected + a)
        assert bound["f_searched"][row] == pytest.approx(upper / (1 + z / np.sqrt(a)))
        assert plain["f_searched"][row] == pytest.approx(a / (expected + a))
    assert before > bound["risk"][0] > plain["risk"][0] > bound["risk"][1]
    assert bound["risk"][2] == pytest.approx(before) == plain["risk"][2]


def _record(cells: int, evenings: int, finds: int) -> pl.DataFrame:
    """Habitual patrols: `cells` cells searched 20 minutes on each of `evenings` evenings
    before DAY, the first `finds` cells with a find on every evening (a busy or a poor world)."""
    ring = h3.grid_ring(CELL, 6)[:cells]
    return _effort(
        [(c, DAY - timedelta(days=d), 20.0, 0.0 if i < finds else 20.0, int(i < finds))
         for i, c in enumerate(ring) for d in range(1, evenings + 1)]
    )  # fmt: skip


def test_empty_searches_in_a_poor_world_are_weak_evidence_the_planner_stays_near_blind():
    """Seed 7's lesson: the same six empty evenings near the base lower a cell much less when
    the whole record found little (the risk predicted more finds than were made, so the
    calibrated presence is low and a search could have found little) than when the record
    is rich; the old Beta-Bernoulli lowered both alike (m / (m + n), about a half)."""
    cells = h3.grid_ring(CELL, 6)[:12]
    days = _days(cells, DAY)
    blind = rescore(days, _seizures([], []), None, SETTINGS)["risk"][0]
    poor = rescore(days, _seizures([], []), _record(12, 6, 0), SETTINGS)
    rich = rescore(days, _seizures([], []), _record(12, 6, 8), SETTINGS)
    _adds_up(poor)
    empty_poor = poor["risk"][-1] / blind  # the last cells found nothing in either world
    empty_rich = rich["risk"][-1] / blind
    assert 0.8 < empty_poor < 1 and empty_rich < 0.5 * empty_poor
    old = 2 / (2 + rich["search_trials"][-1])  # the previous model, in both worlds
    assert old < 0.55 and empty_poor > old + 0.25
    assert rich["risk"][0] > blind  # the cells that paid on every evening rise


def test_a_find_in_a_poor_record_raises_a_cell_by_at_most_one_plus_one_over_a():
    """One lucky find in a record of empty searches cannot pull every team to that cell: its
    ratio is (1 + a) / (E + a) ≤ 1 + 1 / a, whatever the calibration (the previous model
    gave 1 / (m P), ×3.7 on seed 7, where the presence P was 5 %)."""
    record = _record(12, 6, 0).with_columns(
        seizures=pl.when(pl.int_range(pl.len()) == 0).then(1).otherwise(0),
        nothing_minutes=pl.when(pl.int_range(pl.len()) == 0).then(0.0).otherwise(20.0),
    )
    cells = h3.grid_ring(CELL, 6)[:12]
    days = _days(cells, DAY).with_columns(severity=pl.lit(1.0))  # low risk: low presence
    aware = rescore(days, _seizures([], []), record, SETTINGS)
    a = SETTINGS.effort_prior_finds
    assert 1 < aware["f_searched"][0] <= 1 + 1 / a
