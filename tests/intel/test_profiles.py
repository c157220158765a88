"""CTS-style risk profiles: an operator seen in a fuel seizure flags that operator's next
declaration, which raises one alert once its transit starts (not again on the next run); watch
lists hold persons and companies; a bad profiles file is one line naming file, profile, field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, build_region, create_key
from support.cli import geoint

from geoint.alerts.store import AlertQuery, AlertStore
from geoint.api.app import create_app
from geoint.intel.profiles import load_profiles, raise_declaration_alerts, score_declarations
from geoint.layers import Region, RegionIndex
from geoint.pipeline.ingest import ingest_records
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

PROFILES = """
[[profile]]
id = "operator-fuel"
title = "Operator linked to a fuel seizure in the last 180 days"
score = 80
[[profile.indicator]]
kind = "seizure_history"
party = "operator"
commodity = "fuel"
days = 180

[[profile]]
id = "listed-consignee"
title = "Consignee on the watch list"
score = 50
[[profile.indicator]]
kind = "watchlist"
party = "consignee"

[[profile]]
id = "tobacco-to-niger"
title = "Tobacco bound for Niger with an HS code of chapter 24"
score = 30
[[profile.indicator]]
kind = "route"
destination_country = "niger"
commodity = "tobacco"
hs_prefix = "24"
"""
SEIZURES = (
    "seizure_id,date,lat,lon,commodity,quantity,unit,transport_mode,vehicle_id\n"
    "F-1,2026-03-01T09:00:00Z,6.40,2.70,fuel,900,litres,truck,TRK-1\n"
    "T-1,2026-03-02T09:00:00Z,6.40,2.70,tobacco,30,cartons,truck,TRK-9\n"
)
# TRK-1 (operator Acme) was seized with fuel on 1 March; its operator's next declaration, on
# another truck, is flagged; an earlier one, another operator's and Acme's tobacco are not.
DECLARATIONS = (
    "vehicle_id,corridor_id,start,deadline,dest_lat,dest_lon,operator,consignee,commodity,"
    "hs_code,origin_country,destination_country\n"
    "TRK-1,TC1,2026-02-20T08:00:00Z,2026-02-21T08:00:00Z,6.45,3.39,Acme Haulage,Bolt SA,fuel,"
    "2710.19,Nigeria,Benin\n"
    "TRK-2,TC1,2026-03-10T08:00:00Z,2026-03-11T08:00:00Z,6.45,3.39,ACME HAULAGE,Bolt SA,fuel,"
    "271019,Nigeria,Benin\n"
    "TRK-3,TC1,2026-03-10T09:00:00Z,2026-03-11T09:00:00Z,6.45,3.39,Other Ltd,Bolt SA,fuel,,"
    "Nigeria,Benin\n"
    "TRK-4,TC2,2026-03-12T09:00:00Z,2026-03-13T09:00:00Z,10.0,3.0,Acme Haulage,Jane Doe,"
    "tobacco,2402.20,Benin,Niger\n"
    "TRK-5,TC2,2026-03-12T09:00:00Z,2026-03-13T09:00:00Z,10.0,3.0,Acme Haulage,,gold,,"
    "Benin,Niger\n"
    "TRK-6,TC2,2026-03-12T09:00:00Z,2026-03-13T09:00:00Z,10.0,3.0,Acme Haulage,,fuel,27AB,"
    "Benin,Niger\n"
)
WATCHLIST = (
    "subject,kind,reason,expires\n"
    "Jane Doe,person,convicted smuggler,\n"
    "Bolt SA,company,front company,2026-03-01\n"
    "TRK-9,vehicle,prior seizure: tobacco,\n"
    "Someone,alien,not a kind,\n"
)


@pytest.fixture
def stored(tmp_path):
    region = build_region(tmp_path / "region")
    ws = Workspace(tmp_path / "ws")
    settings = GeointSettings(workspace=tmp_path / "ws")
    files = {"seizures": SEIZURES, "declarations": DECLARATIONS, "watchlist": WATCHLIST}
    reports = {}
    for kind, text in files.items():
        (tmp_path / f"{kind}.csv").write_text(text, encoding="utf-8")
        reports[kind] = ingest_records(ws, kind, tmp_path / f"{kind}.csv", settings)
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(PROFILES, encoding="utf-8")
    settings = settings.model_copy(update={"intel": settings.intel.model_copy(
        update={"profiles_file": profiles})})  # fmt: skip
    yield ws, region, settings, reports
    ws.engine.dispose()


def test_declaration_fields_and_watch_list_kinds_are_validated(stored):
    _, _, _, reports = stored
    assert reports["declarations"].accepted == 4
    assert reports["declarations"].quarantined_by_reason == {"invalid_value": 2}  # gold, 27AB
    assert reports["watchlist"].accepted == 3
    assert reports["watchlist"].quarantined_by_reason == {"invalid_value": 1}  # alien


def test_an_operator_seen_in_a_fuel_seizure_flags_its_next_declaration(stored):
    ws, region, settings, _ = stored
    index = RegionIndex(Region.load(region))
    scored = score_declarations(ws, load_profiles(settings.intel.profiles_file), index, settings)
    by_vehicle = {row["vehicle_id"]: row for row in scored.to_dicts()}
    flagged = by_vehicle["TRK-2"]
    assert flagged["score"] == 80 and flagged["level"] == "high"
    assert [h["profile"] for h in flagged["hits"]] == ["operator-fuel"]
    assert flagged["hits"][0]["evidence"] == ["operator linked to seizure F-1 (fuel, 2026-03-01)"]
    # TRK-1's seizure came after it, but its consignee was listed until 1 March
    assert [h["profile"] for h in by_vehicle["TRK-1"]["hits"]] == ["listed-consignee"]
    assert by_vehicle["TRK-3"]["score"] == 0  # another operator; the listing has expired
    # Acme's tobacco: the operator's fuel seizure, the listed consignee and the route hit
    assert {h["profile"] for h in by_vehicle["TRK-4"]["hits"]} == {
        "operator-fuel", "listed-consignee", "tobacco-to-niger"
    }  # fmt: skip
    assert by_vehicle["TRK-4"]["score"] == 100  # 80 + 50 + 30, capped

    now = datetime(2026, 3, 10, 12, tzinfo=UTC)  # TRK-2 has started; TRK-4 has not
    first = raise_declaration_alerts(ws, index, settings, now)
    again = raise_declaration_alerts(ws, index, settings, now)
    assert first["created"] == 1 and again["created"] == 0
    found, _ = AlertStore(ws).list(AlertQuery(limit=10, alert_type=("high_risk_declaration",)))
    assert len(found) == 1 and found[0]["vehicles"] == ["TRK-2"]
    assert "operator linked to seizure F-1" in found[0]["explanation"]
    later = raise_declaration_alerts(ws, index, settings, datetime(2026, 3, 12, 10, tzinfo=UTC))
    assert later["created"] == 1  # TRK-4 once its transit starts


def test_declarations_list_and_the_api_show_scores(stored, tmp_path):
    ws, region, settings, _ = stored
    profiles = str(settings.intel.profiles_file)
    done = geoint("declarations", "list", "-w", str(ws.root), "--region", str(region),
                  "--profiles", profiles, "--level", "high", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["declarations"]
    assert sorted(d["vehicle_id"] for d in listed) == ["TRK-2", "TRK-4"]
    assert all(d["hits"] for d in listed)
    key = create_key(ws.root, "analyst")
    app = create_app(api_settings(ws.root, region).model_copy(update={"intel": settings.intel}))
    with TestClient(app) as client:
        body = client.get("/api/v1/declarations", params={"level": "high"},
                          headers=bearer(key)).json()  # fmt: skip
        assert sorted(d["vehicle_id"] for d in body["declarations"]) == ["TRK-2", "TRK-4"]
        bad = client.get("/api/v1/declarations", params={"levels": "high"}, headers=bearer(key))
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "levels"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PROFILES.replace("days = 180", "days = -3"),
         "profile 'operator-fuel', field 'indicator.0.days'"),
        (PROFILES.replace('commodity = "fuel"', 'commodity = "gold"'),
         "profile 'operator-fuel', field 'indicator.0.commodity'"),
        (PROFILES.replace('kind = "watchlist"', 'kind = "hunch"'),
         "profile 'listed-consignee', field 'indicator.0'"),
        (PROFILES.replace('score = 30', 'score = 300'),
         "profile 'tobacco-to-niger', field 'score'"),
        (PROFILES.replace('hs_prefix = "24"', 'hs_prefix = "2A"'),
         "profile 'tobacco-to-niger', field 'indicator.0.hs_prefix'"),
        (PROFILES + '\n[[profile]]\nid = "operator-fuel"\ntitle = "t"\nscore = 1\n'
         '[[profile.indicator]]\nkind = "crossing_closed"\n',
         "profile 'operator-fuel', field 'id'"),
        ("[[profile]\n", "expected a readable TOML profiles file"),
    ],
)  # fmt: skip
def test_a_bad_profiles_file_is_one_line_naming_file_profile_field(stored, tmp_path, text, message):
    ws, _, _, _ = stored
    bad = tmp_path / "bad-profiles.toml"
    bad.write_text(text, encoding="utf-8")
    done = geoint("declarations", "list", "-w", str(ws.root), "--profiles", str(bad))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: {bad}: ") and message in done.stderr, done.stderr


def test_scoring_copes_with_columns_that_hold_only_nulls(tmp_path):
    """Seizures without vehicle ids and a watch list without kinds (the schema test's 500)."""
    ws = Workspace(tmp_path / "ws")
    settings = GeointSettings(workspace=tmp_path / "ws")
    files = {
        "seizures": "seizure_id,date,lat,lon,commodity\nN-1,2026-03-01,6.4,2.7,fuel\n",
        "declarations": DECLARATIONS.split("\n", 2)[0] + "\n" + DECLARATIONS.split("\n")[2],
        "watchlist": "vehicle_id,reason\nTRK-2,tip-off\n",
    }
    for kind, text in files.items():
        (tmp_path / f"{kind}.csv").write_text(text + "\n", encoding="utf-8")
        ingest_records(ws, kind, tmp_path / f"{kind}.csv", settings)
    scored = score_declarations(ws, load_profiles(), None, settings)
    # fuel from Nigeria (shipped profile, 30); no vehicle id links TRK-2 to the seizure
    assert scored["vehicle_id"].to_list() == ["TRK-2"] and scored["score"].to_list() == [30.0]
    ws.engine.dispose()
