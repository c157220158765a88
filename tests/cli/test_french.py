"""CLI messages shown to units in French: ``--lang fr``, GEOINT_LANG=fr or a French locale choose;
the messages come from the map's catalogues (web/locale; tests/web/test_i18n.py checks every
one is translated); JSON output is the same in every language."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from support.alerts import SectorGround, events

from geoint.alerts.raising import raise_alerts
from geoint.cli.common import choose_language
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

SEIZURES = (
    "seizure_id,date,lat,lon,commodity,transport_mode,concealment\n"
    "S-1,2026-09-14,6.5,2.6,fuel,truck,fuel tank\n"
    "S-2,2026-09-15,6.5,2.6,tobacco,motorcycle,\n"
    "S-3,not a date,6.5,2.6,fuel,truck,\n"
)


def geoint(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the CLI with `env` over a locale-free environment."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("LANG", "LC_ALL", "LC_MESSAGES", "GEOINT_LANG")}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "geoint", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**base, **env},
    )


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, "en"),
        ([], {"LANG": "fr_FR.UTF-8"}, "fr"),
        ([], {"LANG": "fr_FR.UTF-8", "LC_ALL": "C.UTF-8"}, "en"),  # LC_ALL wins, as in POSIX
        ([], {"LC_MESSAGES": "fr_BE", "LANG": "en_GB"}, "fr"),
        ([], {"GEOINT_LANG": "fr", "LANG": "en_US.UTF-8"}, "fr"),
        (["--lang", "en", "alerts", "list"], {"GEOINT_LANG": "fr"}, "en"),
        (["--lang=fr"], {}, "fr"),
        ([], {"LANG": "de_DE.UTF-8"}, "en"),  # no German catalogue
    ],
)
def test_the_language_is_chosen_by_option_then_variable_then_locale(argv, environ, expected):
    assert choose_language(argv, environ) == expected


def test_ingest_of_seizures_reports_in_french_and_json_is_neutral(tmp_path):
    csv = tmp_path / "seizures.csv"
    csv.write_text(SEIZURES)
    shown = geoint("ingest", "seizures", str(csv), "-w", str(tmp_path / "a"), LANG="fr_FR.UTF-8")
    assert shown.returncode == 0, shown.stderr
    for word in ("lignes", "acceptées", "doublons", "en quarantaine", "saisies"):
        assert word in shown.stdout, shown.stdout
    assert "accepted" not in shown.stdout
    payloads = [
        geoint("ingest", "seizures", str(csv), "-w", str(tmp_path / ws), "--json", **env)
        for ws, env in (("fr", {"GEOINT_LANG": "fr"}), ("en", {}))
    ]
    french, english = (orjson.loads(p.stdout) for p in payloads)
    for payload in (french, english):
        payload.pop("seconds")
    assert french == english and french["quarantined"] == 1


@pytest.fixture
def alerts_ws(tmp_path) -> Path:
    """A workspace with two new alerts (ids 1 and 2)."""
    ws = tmp_path / "ws"
    store = Workspace(ws)
    found = events({"event_id": "E1", "vehicle_id": "V1"}, {"event_id": "E2", "vehicle_id": "V2"})
    raise_alerts(store, SectorGround(), GeointSettings(workspace=ws), found)
    store.close()
    return ws


def test_alert_actions_answer_in_french(alerts_ws):
    ws = str(alerts_ws)
    listed = geoint("--lang", "fr", "alerts", "list", "-w", ws)
    assert listed.returncode == 0, listed.stderr
    assert "gravité" in listed.stdout and "nouvelle" in listed.stdout
    acked = geoint("alerts", "ack", "1", "-w", ws, GEOINT_LANG="fr")
    assert acked.stdout.strip() == "alerte 1 : pris en compte", acked.stderr
    resolved = geoint("alerts", "resolve", "1", "-w", ws, LANG="fr_FR.UTF-8")
    assert resolved.stdout.strip() == "alerte 1 : résolue"
    geoint("alerts", "ack", "2", "-w", ws)
    dismissed = geoint("alerts", "dismiss", "2", "-w", ws, "--json", LANG="fr_FR.UTF-8")
    assert orjson.loads(dismissed.stdout)["status"] == "dismissed"  # JSON: language-neutral
    english = geoint("alerts", "show", "2", "-w", ws)
    assert english.stdout.startswith("alert 2 [dismissed]")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["alerts", "ack"], "erreur : argument manquant : 'alert_id'. (voir 'geoint alerts ack"),
        (
            ["alerts", "bogus"],
            "erreur : commande inconnue : 'bogus'. (voir 'geoint alerts --help')",
        ),
        (["alerts", "list", "--bogus"], "erreur : option inconnue : --bogus (voir"),
        (["analyze"], "erreur : option manquante : '--region'."),
        (["alerts", "list", "--limit", "x"], "erreur : valeur invalide pour '--limit' : "),
    ],
)
def test_usage_errors_are_one_french_line(args, expected):
    done = geoint(*args, LANG="fr_FR.UTF-8")
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), done.stderr
