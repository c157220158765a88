"""The seizure vocabularies shipped as data: every former code still valid, labels and aliases
standing for their code, a region's extension checked with errors naming the file and field."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from support.paths import REPO

from geoint.errors import RegionError
from geoint.ingest.validate import validate_seizures
from geoint.schema import GAZETTEER_SCHEMA, ROW_NUMBER
from geoint.vocabularies import FIELDS, SHIPPED, region_vocabularies

NOW = datetime(2026, 12, 1, tzinfo=UTC)
# the codes that were tuples in geoint.schema before they became data
FORMER = {
    "commodity": ("drugs", "tobacco", "alcohol", "ipr_counterfeit", "wildlife", "timber",
                  "weapons", "explosives_precursors", "currency", "waste_ods", "medicines",
                  "fuel", "other"),
    "transport_mode": ("truck", "car", "motorcycle", "bus", "pedestrian", "animal", "boat",
                       "rail", "other"),
    "direction": ("import", "export", "transit"),
}  # fmt: skip


def test_former_codes_stay_valid_in_their_order():
    for field, codes in FORMER.items():
        assert SHIPPED.codes(field) == codes


def test_every_term_has_english_and_french_labels_that_stand_for_it():
    for field in FIELDS:
        for term in SHIPPED.terms[field]:
            assert term.en and term.fr
            for text in (term.code, term.en, term.fr, term.en.upper(), *term.aliases):
                assert SHIPPED.code_of(field, text) == term.code, (field, text)
    assert SHIPPED.code_of("concealment", "RESERVOIR de carburant") == "fuel_tank"
    assert SHIPPED.code_of("concealment", "in the teapot") is None


def test_the_sample_seizures_ingest_without_a_vocabulary_refusal():
    for path in (REPO / "sample_tracks" / "scenario" / "seizures.csv",
                 REPO / "sample_tracks" / "seizures_example.csv"):  # fmt: skip
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        for field in ("concealment", "detection_method", "transport_mode"):
            unknown = {
                r[field] for r in rows if r[field] and SHIPPED.code_of(field, r[field]) is None
            }
            assert unknown == set(), (path.name, field)


def _frame(**columns: list[str]) -> pl.DataFrame:
    size = len(next(iter(columns.values())))
    return pl.DataFrame(
        {ROW_NUMBER: list(range(1, size + 1)), "seizure_id": [f"S{i}" for i in range(size)],
         "date": ["2026-09-14"] * size, "lat": ["6.5"] * size, "lon": ["2.6"] * size, **columns}
    )  # fmt: skip


def test_validation_stores_codes_and_refuses_unknown_terms_naming_the_allowed():
    frame = _frame(
        concealment=["False Floor", "Roue de secours", "inside a teapot", ""],
        detection_method=["x-ray", "Chien détecteur", "dog", None],
    )
    found = validate_seizures(frame, "f.csv", pl.DataFrame(schema=GAZETTEER_SCHEMA), NOW)
    assert found.good["concealment"].to_list() == ["roof_floor", "spare_wheel", None]
    assert found.good["detection_method"].to_list() == ["scanner", "dog", None]
    [bad] = found.quarantined.to_dicts()
    assert (bad[ROW_NUMBER], bad["column"], bad["reason"]) == (3, "concealment", "invalid_value")
    assert "natural_cavity" in bad["detail"] and bad["detail"].endswith("got inside a teapot")


def test_a_region_extends_its_vocabularies(tmp_path: Path):
    (tmp_path / "vocabularies.toml").write_text(
        '[[concealment]]\ncode = "cattle_feed"\nen = "In cattle feed"\nfr = "Dans le fourrage"\n'
        'aliases = ["fodder"]\n',
        encoding="utf-8",
    )
    extended = region_vocabularies(tmp_path)
    assert extended.codes("concealment")[-1] == "cattle_feed"
    assert extended.code_of("concealment", "Fodder") == "cattle_feed"
    assert {"code": "cattle_feed", "label": "Dans le fourrage"} in extended.labelled(
        "concealment", "fr"
    )
    frame = _frame(concealment=["fodder"])
    gazetteer = pl.DataFrame(schema=GAZETTEER_SCHEMA)
    stored = validate_seizures(frame, "f.csv", gazetteer, NOW, extended).good
    assert stored["concealment"].to_list() == ["cattle_feed"]
    assert validate_seizures(frame, "f.csv", gazetteer, NOW).quarantined.height == 1
    assert region_vocabularies(tmp_path / "none") is SHIPPED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[concealment]]\ncode = "x y"\nen = "A"\nfr = "B"\n', "field 'concealment.0.code'"),
        ('[[concealment]]\ncode = "x"\nen = "A"\n', "field 'concealment.0.fr'"),
        ('[[colour]]\ncode = "x"\nen = "A"\nfr = "B"\n', "field 'colour'"),
        ('[[commodity]]\ncode = "gold"\nen = "Gold"\nfr = "Or"\n', "field 'commodity'"),
        ('[[concealment]]\ncode = "tyre"\nen = "A"\nfr = "B"\n', "code 'tyre' is defined twice"),
        ('[[concealment]]\ncode = "rim"\nen = "Spare tyre"\nfr = "B"\n', "'spare_wheel' and 'rim'"),
        ("[[concealment]\n", "readable TOML"),
    ],
)
def test_a_bad_region_file_is_refused_naming_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "vocabularies.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegionError) as raised:
        region_vocabularies(tmp_path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)
