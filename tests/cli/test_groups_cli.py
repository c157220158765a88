"""`geoint groups ...`: create, list, add-member, remove-member, with one-line errors."""

import orjson
from support.cli import geoint
from support.paths import REPO

from geoint.store.groups import GroupStore
from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace

REGION = REPO / "sample_tracks" / "scenario" / "region"  # its sectors include BEN-01


def test_groups_commands(tmp_path):
    ws = str(tmp_path / "ws")
    unit = orjson.loads(
        geoint(
            "keys",
            "create",
            "--role",
            "unit",
            "--sector",
            "BEN-01",
            "-w",
            ws,
            "--region",
            str(REGION),
            "--json",
        ).stdout
    )
    made = geoint("groups", "create", "Harmattan", "--description", "BJ-NG", "-w", ws, "--json")
    group = orjson.loads(made.stdout)
    assert made.returncode == 0 and group["name"] == "Harmattan" and group["members"] == []
    added = geoint("groups", "add-member", str(group["id"]), unit["id"], "-w", ws, "--json")
    assert orjson.loads(added.stdout)["members"] == [unit["id"]]
    listed = orjson.loads(geoint("groups", "list", "-w", ws, "--json").stdout)["groups"]
    assert [(g["name"], g["members"]) for g in listed] == [("Harmattan", [unit["id"]])]

    store = Workspace(tmp_path / "ws")
    groups = GroupStore(store)
    groups.share(group["id"], unit["id"], "seizure", "S-1", {"id": "S-1"}, "note")
    assert groups.shares_since(0, unit["id"], 10)[0]["item_id"] == "S-1"
    removed = geoint("groups", "remove-member", str(group["id"]), unit["id"], "-w", ws, "--json")
    assert orjson.loads(removed.stdout)["members"] == []
    assert groups.shares_since(0, unit["id"], 10) == []  # a former member sees nothing
    KeyStore(store).revoke(unit["id"])
    store.close()

    for args, expected in (
        (("add-member", str(group["id"]), "nokey"), "no live API key 'nokey'"),
        (("add-member", "99", unit["id"]), "no group 99"),
        (("create", "Harmattan"), "a group named 'Harmattan' exists"),
        (("add-member", str(group["id"]), unit["id"]), "no live API key"),  # revoked
    ):
        done = geoint("groups", *args, "-w", ws)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
        assert expected in done.stderr
