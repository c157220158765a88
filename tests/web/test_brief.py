"""Patrol briefs on paper: one page per team, rendered by poppler, offline in Chromium, escaped,
in English or French. A hand-built plan on the toy region, with a hostile place name and hostile
words in a stop (a plan file is user input)."""

from __future__ import annotations

import html
import io
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import orjson
import pytest
import shapely
from pypdf import PdfReader
from support.cli import geoint
from support.toy_region import MIDTOWN, TIMEZONE, build_toy_region
from typer.testing import CliRunner

from geoint.cli.main import app as cli_app
from geoint.errors import GeointError
from geoint.web.brief import brief_html, brief_pdf, plain, read_brief_plan

CHROMIUM = "/usr/bin/chromium"
HOSTILE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> $x^2$ & Co'


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    """The toy region with one more town whose name is hostile HTML (and mathtext)."""
    region = build_toy_region(tmp_path_factory.mktemp("brief") / "region")
    town = gpd.GeoDataFrame(
        {"name": [f"Hostile {HOSTILE}"], "kind": ["town"]},
        geometry=[shapely.Point(2.93, 7.3)],
        crs="EPSG:4326",
    )
    region.add_frame("places", town, source="hostile town")
    return region


def hand_plan(teams: int = 2, stops: int = 3) -> dict:
    """A plan as `geoint patrol plan --json` prints it: stops walking north along the border."""
    zone = ZoneInfo(TIMEZONE)
    start = datetime(2024, 3, 4, 18, tzinfo=zone)
    base = {"lat": MIDTOWN[0], "lon": MIDTOWN[1]}
    plan = {"start": start.isoformat(), "timezone": TIMEZONE, "base": base, "teams": []}
    for team in range(1, teams + 1):
        clock, waypoints = start, []
        route = [[base["lon"], base["lat"]]]
        for order in range(1, stops + 1):
            lat, lon = MIDTOWN[0] + 0.03 * order * (-1) ** team, 2.97 - 0.01 * team
            clock += timedelta(minutes=40)
            waypoints.append(
                {
                    "stop": f"T{team}-{order:02d}",
                    "lat": lat,
                    "lon": lon,
                    "cell": "883f5a0001fffff",
                    "cells": ["883f5a0001fffff"],
                    "arrive": clock.isoformat(),
                    "depart": (clock + timedelta(minutes=20)).isoformat(),
                    "leg_km": 3.3,
                    "leg_min": 20.0,
                    "risk": 12.5,
                    "look_for": f"night unofficial crossings near {HOSTILE}; 3 in the last 7 days",
                    "reason": "risk 12.5 on 2024-03-04: events 8.0",
                }
            )
            route.append([lon, lat])
            clock += timedelta(minutes=20)
        route.append(route[0])
        plan["teams"].append(
            {
                "team": team,
                "depart": start.isoformat(),
                "return": (clock + timedelta(minutes=20)).isoformat(),
                "distance_km": 3.3 * (stops + 1),
                "collected_risk": 12.5 * stops,
                "return_leg_km": 3.3,
                "return_leg_min": 20.0,
                "route": route,
                "waypoints": waypoints,
            }
        )
    return plan


def _parsed(plan: dict):
    return read_brief_plan(orjson.dumps(plan), "plan.json")


def _pdf_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_pdf_is_one_page_per_team_and_poppler_renders_each(region, tmp_path):
    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(brief_pdf(_parsed(hand_plan(teams=3)), region))
    pages = _pdf_text(pdf.read_bytes())
    assert len(pages) == 3
    for team, text in enumerate(pages, 1):
        assert f"Team {team}" in text and "What to look for" in text and "Call sign" in text
        assert f"T{team}-01" in text and "18:40" in text  # local time of the first arrival
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "p")], check=True)
    rendered = sorted(tmp_path.glob("p-*.png"))
    assert len(rendered) == 3 and all(p.stat().st_size > 5_000 for p in rendered)


def test_a_long_stop_list_still_fits_one_page(region):
    pages = _pdf_text(brief_pdf(_parsed(hand_plan(teams=2, stops=30)), region))
    assert len(pages) == 2
    assert "T1-30" in pages[0] and "T2-30" in pages[1]


def test_french_brief(region):
    pages = _pdf_text(brief_pdf(_parsed(hand_plan(teams=1)), region, "fr"))
    assert len(pages) == 1
    for words in ("Fiche de patrouille", "Équipe 1", "À rechercher", "Indicatif", "Retour"):
        assert words in pages[0]
    page = brief_html(_parsed(hand_plan(teams=1)), region, "fr")
    assert '<html lang="fr">' in page and "Chef d&#x27;équipe" in page


def test_user_strings_are_escaped(region):
    plan = _parsed(hand_plan(teams=1))
    page = brief_html(plan, region)
    assert HOSTILE not in page and "<script>" not in page
    assert html.escape(HOSTILE) in page
    # ReportLab paragraphs parse markup: the hostile text must come out as the literal text
    assert "<script>window.__xss = 1</script>" in " ".join(_pdf_text(brief_pdf(plan, region)))
    assert plain("$x^2$ costs $5") == r"\$x^2\$ costs \$5"


def test_html_opens_in_chromium_offline_one_printed_page_per_team(region, tmp_path):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "brief.html"
    out.write_text(brief_html(_parsed(hand_plan(teams=3, stops=20)), region), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(out.as_uri(), wait_until="load")
        loaded = page.evaluate(
            "() => [...document.images].every(i => i.complete && i.naturalWidth > 500)"
        )
        text = page.inner_text("body")
        flag = page.evaluate("() => window.__xss")
        printed = page.pdf(format="A4", landscape=True, print_background=True)
        browser.close()
    assert [r for r in requests if not r.startswith(("file://", "data:"))] == []
    assert loaded and flag is None
    assert "<script>window.__xss = 1</script>" in text
    assert len(PdfReader(io.BytesIO(printed)).pages) == 3


def test_bad_plans_and_outputs_are_one_line_errors(region, tmp_path):
    with pytest.raises(GeointError, match=r"plan\.json: teams: List should have at least 1"):
        read_brief_plan(orjson.dumps(hand_plan() | {"teams": []}), "plan.json")
    broken = hand_plan()
    del broken["teams"][0]["waypoints"][1]["arrive"]
    with pytest.raises(GeointError, match=r"teams\.0\.waypoints\.1\.arrive: Field required"):
        read_brief_plan(orjson.dumps(broken), "plan.json")
    plan = tmp_path / "plan.json"
    plan.write_bytes(orjson.dumps(hand_plan()))
    runner = CliRunner()
    base = ["patrol", "brief", str(plan), "--region", str(region.path)]
    done = geoint(*base, "--out", str(tmp_path / "b.txt"))
    assert done.returncode != 0 and done.stderr.count("\n") == 1
    assert "--out: expected a FILE.pdf or FILE.html" in done.stderr
    done = runner.invoke(cli_app, [*base, "--out", str(tmp_path / "b.pdf"), "--lang", "de"])
    assert done.exit_code == 2
    done = runner.invoke(cli_app, [*base, "--out", str(tmp_path / "b.pdf"), "--json"])
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.output) == {"file": str(tmp_path / "b.pdf"), "pages": 2, "lang": "en"}
    assert Path(tmp_path / "b.pdf").read_bytes().startswith(b"%PDF")
