"""Exchange between the Benin and Nigeria sides of the sample: signed, redacted packages.

The sample scenario's seizures are split by the side of the border they lie on into two
workspaces, one per administration. Benin exports to Nigeria under a policy using every rule;
Nigeria must then hold exactly the exported records, each field kept, dropped or coarsened as
the policy says, with their origin, and nothing more; a second import stores nothing, and a
package that was tampered with, signed by another key, of another schema version or holding
an invalid record is refused whole with one line.
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest
import sqlalchemy as sa
from support.cli import geoint
from support.paths import REPO

from geoint.exchange.export import export_package
from geoint.exchange.importer import import_package
from geoint.exchange.package import (
    MANIFEST,
    RECORDS,
    ExchangeError,
    generate_keys,
    load_private_key,
    load_public_key,
    write_package,
)
from geoint.exchange.policy import PolicyError, load_policy, parse_rules
from geoint.exchange.provenance import with_origins
from geoint.h3index import cell_centres, latlng_to_cells
from geoint.layers import Region, RegionIndex
from geoint.store.tables import exchange_records
from geoint.store.workspace import Workspace

SAMPLE = REPO / "sample_tracks" / "scenario"
POLICY = """
[fields]
seizure_id = "keep"
date = "day"
position = "h3:6"
commodity = "keep"
quantity = "band:100"
unit = "keep"
transport_mode = "keep"
vehicle_id = "pseudonym"
description = "drop"
"""


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    """Two workspaces (Benin's and Nigeria's seizures of the sample), key pairs, a policy."""
    root = tmp_path_factory.mktemp("exchange")
    frame = pl.read_csv(SAMPLE / "seizures.csv", infer_schema_length=None)
    frame = frame.filter(pl.col("lat").is_not_null())
    # plates seen on both sides of the border: a partner links repeats through the pseudonym
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 4 == 0)
        .then(pl.lit("RB 4411 TX"))
        .otherwise(pl.col("vehicle_id"))
        .alias("vehicle_id")
    )
    side = RegionIndex(Region.load(SAMPLE / "region")).side(
        frame["lat"].to_numpy(), frame["lon"].to_numpy()
    )
    paths = {}
    for name, code in (("benin", 0), ("nigeria", 1)):
        csv = root / f"{name}.csv"
        frame.filter(pl.Series(side == code)).write_csv(csv)
        workspace = root / name
        done = geoint("ingest", "seizures", str(csv), "--workspace", str(workspace), "--json")
        assert done.returncode == 0, done.stderr
        keys = root / f"keys-{name}"
        made = geoint("exchange", "keygen", "--out", str(keys), "--json")
        assert made.returncode == 0, made.stderr
        paths[name] = {"workspace": workspace, "keys": orjson.loads(made.stdout), "csv": csv}
    policy = root / "policy.toml"
    policy.write_text(POLICY)
    return root, paths, policy


def _export(root: Path, paths: dict, policy: Path, out: str, *extra: str):
    return geoint(
        "exchange", "export",
        "--workspace", str(paths["benin"]["workspace"]),
        "--sender", "Benin Customs",
        "--partner", "Nigeria Customs Service",
        "--policy", str(policy),
        "--key", paths["benin"]["keys"]["private_key"],
        "--out", str(root / out),
        "--json", *extra,
    )  # fmt: skip


def _import(package: Path, workspace: Path, trust: str):
    return geoint(
        "exchange", "import", str(package), "--workspace", str(workspace), "--trust", trust,
        "--json",
    )  # fmt: skip


def _seizures(workspace: Path) -> pl.DataFrame:
    store = Workspace(workspace)
    try:
        return with_origins(store, store.read_table("seizures")).sort("seizure_id")
    finally:
        store.close()


def _received(workspace: Path) -> int:
    store = Workspace(workspace)
    try:
        with store.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(exchange_records)
            ).scalar_one()
    finally:
        store.close()


def test_round_trip_benin_to_nigeria_applies_every_rule(sides):
    root, paths, policy = sides
    benin, nigeria = _seizures(paths["benin"]["workspace"]), paths["nigeria"]["workspace"]
    own = _seizures(nigeria)
    exported = _export(root, paths, policy, "to-nigeria.zip")
    assert exported.returncode == 0, exported.stderr
    assert orjson.loads(exported.stdout)["records"] == benin.height > 10

    trust = paths["benin"]["keys"]["public_key"]
    first = _import(root / "to-nigeria.zip", nigeria, trust)
    assert first.returncode == 0, first.stderr
    report = orjson.loads(first.stdout)
    assert (report["stored"], report["duplicates"], report["conflicts"]) == (benin.height, 0, 0)

    held = _seizures(nigeria)
    # exactly Nigeria's own seizures and the exported ones, nothing more
    assert held.height == own.height + benin.height
    assert set(held["seizure_id"]) == set(own["seizure_id"]) | set(benin["seizure_id"])
    got = held.filter(pl.col("origin") == "Benin Customs").sort("seizure_id")
    assert got["seizure_id"].to_list() == benin["seizure_id"].to_list()
    assert set(held.filter(pl.col("origin") == "local")["seizure_id"]) == set(own["seizure_id"])

    # keep
    for field in ("commodity", "unit", "transport_mode"):
        assert got[field].to_list() == benin[field].to_list()
    # drop (and every field the policy does not name: deny by default)
    for field in ("description", "concealment", "detection_method", "place", "origin_country"):
        assert got[field].null_count() == got.height, field
    # day: the UTC day, at midnight
    assert got["ts"].to_list() == benin["ts"].dt.truncate("1d").to_list()
    assert (got["ts"].dt.hour() == 0).all() and (benin["ts"].dt.hour() != 0).any()
    # h3:6: the centre of the resolution-6 cell holding the position
    cells = latlng_to_cells(benin["lat"].to_numpy(), benin["lon"].to_numpy(), 6)
    lat, lon = cell_centres(cells)
    np.testing.assert_allclose(got["lat"].to_numpy(), lat, atol=1e-6)
    np.testing.assert_allclose(got["lon"].to_numpy(), lon, atol=1e-6)
    assert set(got["position_precision"]) == {"h3:6"}
    # band:100: the middle of the band of width 100 holding the quantity
    bands = (benin["quantity"] // 100) * 100 + 50
    assert got["quantity"].to_list() == bands.to_list()
    # pseudonym: no plate leaves; equal plates give equal pseudonyms, others differ
    plates, aliases = benin["vehicle_id"].to_list(), got["vehicle_id"].to_list()
    assert not set(plates) - {None} & set(aliases)
    assert [p is None for p in plates] == [a is None for a in aliases]
    pairs = {(p, a) for p, a in zip(plates, aliases, strict=True) if p is not None}
    assert len(pairs) == len({p for p, _ in pairs}) == len({a for _, a in pairs})
    assert plates.count("RB 4411 TX") >= 2

    again = _import(root / "to-nigeria.zip", nigeria, trust)
    assert again.returncode == 0, again.stderr
    report = orjson.loads(again.stdout)
    assert (report["stored"], report["duplicates"], report["conflicts"]) == (0, benin.height, 0)
    assert _seizures(nigeria).height == held.height

    # Nigeria passes on only its own records, never Benin's
    store = Workspace(nigeria)
    keys = generate_keys(root / "keys-nigeria-2")
    onward = export_package(
        store, load_policy(policy, "seizures"), "NG", "Togo", load_private_key(keys[0]),
        root / "onward.zip",
    )  # fmt: skip
    store.close()
    assert onward.records == own.height


def test_the_package_says_what_the_policy_says(sides):
    root, paths, policy = sides
    assert _export(root, paths, policy, "look.zip", "--from", "2026-01-01").returncode == 0
    with zipfile.ZipFile(root / "look.zip") as archive:
        manifest = orjson.loads(archive.read(MANIFEST))
        records = [orjson.loads(line) for line in archive.read(RECORDS).splitlines()]
    assert manifest["sender"] == "Benin Customs" and manifest["schema_version"] == 1
    assert manifest["policy"]["description"] == "drop" and manifest["policy"]["place"] == "drop"
    assert manifest["period"] == {"from": "2026-01-01", "to": None}
    assert manifest["counts"] == {"records": len(records)}
    for record in records:
        assert set(record) <= {"seizure_id", "date", "position", "commodity", "quantity"} | {
            "unit",
            "transport_mode",
            "vehicle_id",
        }
        assert len(record["date"]) == 10 and record["position"]["resolution"] == 6
        assert record["quantity"]["max"] - record["quantity"]["min"] == 100
        assert record["vehicle_id"] is None or record["vehicle_id"].startswith("p:")


def test_pseudonyms_differ_per_partner(sides, tmp_path):
    _, paths, policy = sides
    store = Workspace(paths["benin"]["workspace"])
    key = load_private_key(Path(paths["benin"]["keys"]["private_key"]))
    rules = load_policy(policy, "seizures")
    aliases = []
    for partner in ("Nigeria", "Togo", "Nigeria"):
        export_package(store, rules, "BJ", partner, key, tmp_path / f"{partner}.zip")
        with zipfile.ZipFile(tmp_path / f"{partner}.zip") as archive:
            lines = archive.read(RECORDS).splitlines()
        aliases.append({orjson.loads(line)["vehicle_id"] for line in lines} - {None})
    store.close()
    assert aliases[0] and not aliases[0] & aliases[1]
    assert aliases[0] == aliases[2]


def _fresh_receiver(tmp_path: Path, paths: dict) -> Path:
    """A copy of Nigeria's workspace as it was before any import."""
    workspace = tmp_path / "receiver"
    done = geoint("ingest", "seizures", str(paths["nigeria"]["csv"]), "--workspace", str(workspace))
    assert done.returncode == 0, done.stderr
    return workspace


def _refused(package: Path, workspace: Path, trust: str, expected: str) -> None:
    before = _seizures(workspace).height
    done = _import(package, workspace, trust)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert expected in lines[0] and str(package) in lines[0], lines[0]
    assert _seizures(workspace).height == before and _received(workspace) == 0


def test_a_package_changed_by_one_byte_is_refused_whole(sides, tmp_path):
    root, paths, policy = sides
    assert _export(root, paths, policy, "signed.zip").returncode == 0
    data = (root / "signed.zip").read_bytes()
    receiver = _fresh_receiver(tmp_path, paths)
    store, trusted = (
        Workspace(receiver),
        load_public_key(Path(paths["benin"]["keys"]["public_key"])),
    )
    positions = sorted(
        {0, 5, 14, 40, len(data) // 3, len(data) // 2, len(data) - 140}
        | {len(data) - 129, len(data) - 60, len(data) - 1}
    )  # headers, compressed records, directory, comment length, signature
    for position in positions:
        changed = bytearray(data)
        changed[position] ^= 0x01
        package = tmp_path / f"changed-{position}.zip"
        package.write_bytes(bytes(changed))
        with pytest.raises(ExchangeError, match="refused"):
            import_package(store, package, trusted, 8)
    store.close()
    package = tmp_path / "changed.zip"
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0x40
    package.write_bytes(bytes(changed))
    _refused(package, receiver, paths["benin"]["keys"]["public_key"], "signature does not match")


def test_a_package_signed_by_an_untrusted_key_is_refused(sides, tmp_path):
    root, paths, policy = sides
    assert _export(root, paths, policy, "by-benin.zip").returncode == 0
    receiver = _fresh_receiver(tmp_path, paths)
    other = paths["nigeria"]["keys"]["public_key"]
    _refused(root / "by-benin.zip", receiver, other, "not by the trusted key")


def _signed(tmp_path: Path, paths: dict, manifest_change: dict, records: list[dict]) -> Path:
    """A package signed with Benin's (trusted) key, with a chosen manifest and records."""
    key = load_private_key(Path(paths["benin"]["keys"]["private_key"]))
    rules = parse_rules({"seizure_id": "keep", "date": "day", "position": "h3:6"}, "seizures", "t")
    manifest = {
        "format": "geoint-exchange",
        "schema_version": 1,
        "package_id": "0" * 32,
        "sender": "Benin Customs",
        "partner": "Nigeria Customs Service",
        "created": "2026-11-28T10:00:00Z",
        "kind": "seizures",
        "period": {"from": None, "to": None},
        "policy": rules.to_manifest(),
        "counts": {"records": len(records)},
        **manifest_change,
    }
    body = b"".join(orjson.dumps(r) + b"\n" for r in records)
    return write_package(tmp_path / "crafted.zip", manifest, body, key)


GOOD = {
    "seizure_id": "BJ-1",
    "date": "2026-03-02",
    "position": {"lat": 6.5, "lon": 2.6, "h3": "86754e64fffffff", "resolution": 6},
}


def test_another_schema_version_is_refused(sides, tmp_path):
    _, paths, _ = sides
    receiver = _fresh_receiver(tmp_path, paths)
    package = _signed(tmp_path, paths, {"schema_version": 2}, [GOOD])
    _refused(package, receiver, paths["benin"]["keys"]["public_key"], "schema version 2")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({**GOOD, "description": "a field the policy drops"}, "record 2"),
        ({**GOOD, "date": "2026-03-02T10:00:00Z"}, "field date"),  # policy says day
        ({**GOOD, "position": {"lat": 6.5, "lon": 2.6}}, "field position"),  # policy: h3:6
        ({**GOOD, "position": {"lat": 95, "lon": 2.6, "h3": GOOD["position"]["h3"],
                               "resolution": 6}}, "field position/lat"),
        ({key: value for key, value in GOOD.items() if key != "date"}, "record 2"),
    ],
)  # fmt: skip
def test_a_record_failing_validation_refuses_the_whole_package(sides, tmp_path, record, expected):
    _, paths, _ = sides
    receiver = _fresh_receiver(tmp_path, paths)
    package = _signed(tmp_path, paths, {}, [{**GOOD, "seizure_id": "BJ-0"}, record])
    _refused(package, receiver, paths["benin"]["keys"]["public_key"], expected)


def test_a_conflict_is_reported_and_never_overwrites(sides, tmp_path):
    _, paths, _ = sides
    receiver = _fresh_receiver(tmp_path, paths)
    store = Workspace(receiver)
    trusted = load_public_key(Path(paths["benin"]["keys"]["public_key"]))
    first = import_package(store, _signed(tmp_path, paths, {}, [GOOD]), trusted, 8)
    assert (first.stored, first.conflicts) == (1, 0)
    changed = {**GOOD, "date": "2026-03-05"}
    second_package = _signed(tmp_path, paths, {"package_id": "1" * 32}, [changed])
    second = import_package(store, second_package, trusted, 8)
    assert (second.stored, second.duplicates, second.conflicts) == (0, 0, 1)
    assert second.conflict_ids == ["BJ-1"]
    own_id = store.read_table("seizures")["seizure_id"][0]
    clash = {**GOOD, "seizure_id": own_id}
    third = import_package(
        store, _signed(tmp_path, paths, {"package_id": "2" * 32}, [clash]), trusted, 8
    )
    assert (third.stored, third.conflicts) == (0, 1)
    kept = store.read_table("seizures").filter(pl.col("seizure_id") == "BJ-1")
    assert kept["ts"].dt.day().to_list() == [2]
    store.close()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"seizure_id": "keep", "date": "day"}, "[fields] position: every seizures record needs"),
        ({"seizure_id": "keep", "date": "day", "position": "h3:6", "colour": "keep"},
         "[fields] colour: not a field of seizures"),
        ({"seizure_id": "keep", "date": "hour", "position": "keep"}, "[fields] date: expected"),
        ({"seizure_id": "keep", "date": "day", "position": "band:10"},
         "[fields] position: rule 'band:10' does not apply"),
        ({"seizure_id": "keep", "date": "day", "position": "h3:16"}, "resolution from 0 to 15"),
        ({"seizure_id": "keep", "date": "day", "position": "keep", "quantity": "band:0"},
         "positive band width"),
        ({"seizure_id": "drop", "date": "day", "position": "keep"}, "[fields] seizure_id"),
    ],
)  # fmt: skip
def test_a_bad_policy_names_its_file_and_field(tmp_path, fields, expected):
    path = tmp_path / "policy.toml"
    path.write_text("[fields]\n" + "".join(f'{k} = "{v}"\n' for k, v in fields.items()))
    with pytest.raises(PolicyError) as caught:
        load_policy(path, "seizures")
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_alert_text_naming_vehicles_leaves_only_with_the_vehicles(tmp_path):
    fields = {"alert_id": "keep", "event_time": "keep", "position": "keep"}
    with pytest.raises(PolicyError, match="explanation: it names the vehicles"):
        parse_rules({**fields, "explanation": "keep", "vehicles": "pseudonym"}, "alerts", "p")
    assert parse_rules({**fields, "explanation": "keep", "vehicles": "keep"}, "alerts", "p")


def test_a_bad_policy_file_is_one_line_on_the_command_line(sides, tmp_path):
    root, paths, _ = sides
    policy = tmp_path / "bad.toml"
    policy.write_text('[fields]\nseizure_id = "keep"\ndate = "day"\nposition = "h3:6"\nfoo = "x"\n')
    done = _export(root, paths, policy, "never.zip")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert f"{policy}: [fields] foo: not a field of seizures records" in done.stderr
    assert not (root / "never.zip").exists()


def test_zip_headers_are_covered_by_the_signature(sides, tmp_path):
    """A byte of ZIP metadata no reader checks (a file's time) still breaks the signature."""
    root, paths, policy = sides
    assert _export(root, paths, policy, "meta.zip").returncode == 0
    data = bytearray((root / "meta.zip").read_bytes())
    data[10] ^= 0x01  # the first local header's modification time
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        assert archive.testzip() is None  # still a valid ZIP
    package = tmp_path / "meta.zip"
    package.write_bytes(bytes(data))
    store = Workspace(tmp_path / "ws")
    with pytest.raises(ExchangeError, match="signature does not match"):
        import_package(
            store, package, load_public_key(Path(paths["benin"]["keys"]["public_key"])), 8
        )
    store.close()


def test_alerts_and_events_travel_with_their_origin(tmp_path):
    from support.alerts import SectorGround, events

    from geoint.alerts.raising import raise_alerts
    from geoint.settings import GeointSettings

    sender, receiver = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    found = events(
        {"event_id": "E1", "vehicle_id": "BJ 1 RB"},
        {"event_id": "E2", "vehicle_id": "BJ 2 RB", "lat": 10.0, "lon": 3.0},
    )
    sender.write_events(found)
    raise_alerts(sender, SectorGround(), GeointSettings(workspace=tmp_path / "a"), found)
    private, public = generate_keys(tmp_path / "keys")
    key, trusted = load_private_key(private), load_public_key(public)
    policies = {
        "alerts": {"alert_id": "keep", "event_time": "day", "position": "h3:7",
                   "severity": "keep", "vehicles": "pseudonym", "explanation": "drop"},
        "events": {"event_id": "keep", "start": "keep", "position": "keep",
                   "event_type": "keep", "vehicle_id": "pseudonym", "night": "keep"},
    }  # fmt: skip
    for kind, fields in policies.items():
        package = tmp_path / f"{kind}.zip"
        sent = export_package(sender, parse_rules(fields, kind, "p"), "BJ", "NG", key, package)
        assert sent.records == 2
        got = import_package(receiver, package, trusted, 8)
        assert (got.kind, got.stored, got.origin) == (kind, 2, "BJ")
    with receiver.engine.connect() as conn:
        rows = conn.execute(sa.select(exchange_records)).mappings().all()
    assert {(r["kind"], r["origin"]) for r in rows} == {("alerts", "BJ"), ("events", "BJ")}
    for row in rows:
        record = orjson.loads(row["content"])
        if row["kind"] == "alerts":
            assert set(record) == {"alert_id", "event_time", "position", "severity", "vehicles"}
            assert record["vehicles"][0].startswith("p:") and len(record["event_time"]) == 10
            assert record["position"]["resolution"] == 7
        else:
            assert record["vehicle_id"].startswith("p:") and "distance_to_border_m" not in record
    assert receiver.read_table("seizures").height == 0
    for store in (sender, receiver):
        store.close()


def test_partner_seizures_are_served_and_mapped_with_their_origin(sides, tmp_path):
    from geoint.api.collections import ItemQuery, SeizureCollection
    from geoint.serve.map_data import map_data

    root, paths, policy = sides
    assert _export(root, paths, policy, "served.zip").returncode == 0
    receiver = _fresh_receiver(tmp_path, paths)
    store = Workspace(receiver)
    trusted = load_public_key(Path(paths["benin"]["keys"]["public_key"]))
    stored = import_package(store, root / "served.zip", trusted, 8).stored
    own = store.read_table("seizures").height - stored
    index = RegionIndex(Region.load(SAMPLE / "region"))
    seizures = SeizureCollection(store, index)

    def served(origin: str | None, sectors=None) -> list[dict]:
        return seizures.items(ItemQuery(None, None, 1000, 0, sectors, origin)).features

    assert len(served(None)) == own + stored
    partner = served("Benin Customs")
    assert len(partner) == stored and {f["properties"]["origin"] for f in partner} == {
        "Benin Customs"
    }
    assert len(served("local")) == own and not served("Togo")
    # a unit filters by origin within its sectors
    benin_sectors = frozenset(f"BEN-{i:02d}" for i in range(1, 10))
    scoped = served("Benin Customs", benin_sectors)
    assert 0 < len(scoped) <= stored
    assert seizures.item(partner[0]["id"], None)["properties"]["origin"] == "Benin Customs"
    mapped = map_data(store).seizures
    assert set(mapped["origin"]) == {"Benin Customs", "local"}
    store.close()

    # trends by origin: on the command line, in the API and on the /trends page
    def trend_total(*where: str) -> int:
        args = [f"--where={w}" for w in where]
        done = geoint("seizures", "trends", "-w", str(receiver), "--by", "commodity", *args,
                      "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr
        return sum(row["count"] for row in orjson.loads(done.stdout)["series"])

    assert trend_total("origin=Benin Customs") == stored
    assert trend_total("origin=local") == own
    assert trend_total("origin=local,Benin Customs") == own + stored
    assert trend_total("origin=Togo") == 0


HOSTILE_ORIGIN = "Douanes <b>BJ</b>"


def _receive_partner_alerts_and_events(tmp_path: Path) -> tuple[Path, Path]:
    """A region with sectors south and north, and a workspace holding two alerts and two events
    (one of each per sector) received from HOSTILE_ORIGIN: (region, workspace) folders."""
    from support.alerts import events
    from support.api import NORTH, SOUTH, build_region

    from geoint.alerts.raising import raise_alerts
    from geoint.settings import GeointSettings

    region = build_region(tmp_path / "region")
    ground = RegionIndex(Region.load(region))
    sender, receiver = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    found = events(
        {"event_id": "E-S", "vehicle_id": "BJ 1 RB", "lat": SOUTH[0], "lon": SOUTH[1]},
        {"event_id": "E-N", "vehicle_id": "BJ 2 RB", "lat": NORTH[0], "lon": NORTH[1]},
    )
    sender.write_events(found)
    raise_alerts(sender, ground, GeointSettings(workspace=tmp_path / "a"), found)
    private, public = generate_keys(tmp_path / "keys")
    key, trusted = load_private_key(private), load_public_key(public)
    policies = {
        "alerts": {"alert_id": "keep", "event_time": "keep", "position": "keep",
                   "severity": "keep", "vehicles": "pseudonym"},
        "events": {"event_id": "keep", "start": "keep", "position": "keep",
                   "event_type": "keep", "vehicle_id": "pseudonym"},
    }  # fmt: skip
    for kind, fields in policies.items():
        package = tmp_path / f"{kind}.zip"
        rules = parse_rules(fields, kind, "p")
        export_package(sender, rules, HOSTILE_ORIGIN, "NG", key, package)
        assert import_package(receiver, package, trusted, 8).stored == 2
    sender.close()
    receiver.close()
    return region, tmp_path / "b"


def test_partner_alerts_and_events_reach_the_map_and_the_api_with_their_origin(tmp_path):
    from fastapi.testclient import TestClient
    from support.alerts import T0
    from support.api import api_settings, bearer, create_key

    from geoint.api.app import create_app
    from geoint.serve.map_data import map_data
    from geoint.web.map import day_layers

    region, received = _receive_partner_alerts_and_events(tmp_path)
    ground = RegionIndex(Region.load(region))
    receiver = Workspace(received)

    # the map: a layer of its own, the origin escaped in every popup
    data = map_data(receiver, T0.date())
    assert set(data.partner["kind"]) == {"alerts", "events"} and data.partner.height == 4
    layer = day_layers(Region.load(region), data)["layers"]["partner"]
    assert len(layer["features"]) == 4
    for feature in layer["features"]:
        assert feature["properties"]["origin"] == HOSTILE_ORIGIN  # filter value: DOM text only
        popup = feature["properties"]["popup"]
        assert "Douanes &lt;b&gt;BJ&lt;/b&gt;" in popup and "<b>BJ" not in popup
        assert "BJ 1 RB" not in popup and "p:" in popup  # pseudonymised as the policy says
    scoped = map_data(receiver, T0.date(), sectors=frozenset({"south"}), ground=ground)
    assert scoped.partner.height == 2  # an alert and an event in the south
    assert map_data(receiver, T0.date() + timedelta(days=1)).partner.height == 0
    receiver.close()

    # the API: /api/v1/partner/{alerts,events}, filtered by origin, a unit within its sectors
    keys = {role: create_key(tmp_path / "b", role, sectors) for role, sectors in
            (("analyst", ()), ("unit", ("south",)))}  # fmt: skip
    with TestClient(create_app(api_settings(tmp_path / "b", region))) as client:

        def listed(path: str, who: str = "analyst") -> dict:
            response = client.get(f"/api/v1/partner/{path}", headers=bearer(keys[who]))
            assert response.status_code == 200, response.text
            return response.json()

        got = listed("events")
        assert [(e["id"], e["origin"]) for e in got["events"]] == [
            ("E-N", HOSTILE_ORIGIN),
            ("E-S", HOSTILE_ORIGIN),
        ]
        assert got["events"][0]["record"]["vehicle_id"].startswith("p:")
        assert listed("alerts")["numberMatched"] == 2
        assert listed("alerts?origin=Togo")["numberMatched"] == 0
        assert listed("events?origin=Douanes%20%3Cb%3EBJ%3C/b%3E")["numberMatched"] == 2
        assert [e["id"] for e in listed("events", "unit")["events"]] == ["E-S"]
        raw = client.get("/api/v1/partner/alerts", headers=bearer(keys["analyst"])).content
        assert b"<b>" not in raw and b"\\u003cb\\u003e" in raw
        assert listed("events?from=2026-09-15")["numberMatched"] == 0
        bad = client.get("/api/v1/partner/events?kind=x", headers=bearer(keys["analyst"]))
        assert bad.status_code == 400 and "kind" in bad.text
        assert (
            client.get("/api/v1/partner/seizures", headers=bearer(keys["analyst"])).status_code
            == 400
        )
        day = client.get(
            f"/api/v1/map/day?date={T0.date()}", headers=bearer(keys["analyst"])
        ).json()
        assert len(day["layers"]["partner"]["features"]) == 4


def test_the_served_map_draws_partner_alerts_and_events_with_their_origin_as_text(tmp_path):
    from support.alerts import T0
    from support.api import create_key, start_server, stop_server
    from support.browser import chromium

    region, received = _receive_partner_alerts_and_events(tmp_path)
    analyst = create_key(received, "analyst")
    server = start_server(received, region, tmp_path / "server.log", timeout_s=180)
    map_ = "window[Object.keys(window).find(k => k.startsWith('map_'))]"
    try:
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"{server.url}/login?next=/map%3Fday={T0.date()}")
            page.fill("input[name=key]", analyst)
            with page.expect_navigation(wait_until="load"):
                page.click("[type=submit]")
            page.wait_for_function(
                f"() => {map_}.geoint.holders.partner.getLayers().length === 4", timeout=30000
            )
            assert "Partner alerts and events" in page.inner_text(".leaflet-control-layers")
            assert "sent by a partner administration" in page.inner_text(".geoint-legend")
            page.evaluate(f"() => {map_}.geoint.items.partner[0].item.openPopup()")
            popup = page.wait_for_selector(".leaflet-popup-content", timeout=15000)
            assert HOSTILE_ORIGIN in popup.inner_text()  # shown as text, never as markup
            assert page.query_selector(".leaflet-popup-content td b") is None
            options = page.inner_text("select[data-filter=origin]")
            assert HOSTILE_ORIGIN in options
    finally:
        stop_server(server)
