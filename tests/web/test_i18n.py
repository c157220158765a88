"""The map's languages: every marked string has a French translation, compiled and current."""

import gettext
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

from geoint.web.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, gettext_for, negotiate

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (
    "web/map.py", "web/legend.py", "web/basemap.py", "api/session.py", "web/field.py",
    "geoint/cli/common.py", "geoint/cli/main.py", "geoint/cli/alerts.py", "geoint/cli/patrol.py",
)  # fmt: skip  # scripts/i18n.py
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]


def _marked() -> set[str]:
    """Every string the sources mark with ``_()`` or ``N_()``."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = set()
    for source in SOURCES:
        for _line, message, _comments, _context in extract_from_file(
            "python", ROOT / source, keywords=keywords
        ):
            found.add(message)
    return found


def _catalogue(lang: str):
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as file:
        return read_po(file)


def test_the_template_lists_every_marked_string():
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as file:
        template = {m.id for m in read_po(file) if m.id}
    assert template == _marked(), "run scripts/i18n.py"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_string_is_translated_and_compiled(lang):
    catalogue = _catalogue(lang)
    missing = [text for text in sorted(_marked())
               if not (catalogue.get(text) and catalogue[text].string
                       and not catalogue[text].fuzzy)]  # fmt: skip
    assert missing == [], f"{lang}: untranslated (scripts/i18n.py, then translate): {missing}"
    compiled = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])
    stale = [m.id for m in catalogue if m.id and compiled.gettext(m.id) != m.string]
    assert stale == [], "the .mo is older than the .po: run scripts/i18n.py"


def test_placeholders_survive_translation():
    _ = gettext_for("fr")
    assert _("{km:.1f} km from the border").format(km=2.345) == "à 2.3 km de la frontière"
    assert _("track of {vehicle}").format(vehicle="AB-1") == "trajet de AB-1"


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("fr", "en-GB,en", "fr"),
        (None, "fr-BE,fr;q=0.9,en;q=0.8", "fr"),
        (None, "en;q=0.5, fr;q=0.8", "fr"),
        (None, "de-DE,de;q=0.9", "en"),
        (None, "fr;q=0", "en"),
        ("xx", None, "en"),
        (None, "not a tag;;, ;q=x", "en"),
    ],
)
def test_the_language_is_negotiated(query, header, expected):
    assert negotiate(query, header) == expected


def test_every_shipped_alert_rule_title_is_translated_where_shown():
    from geoint.alerts.rules import load_rules
    from geoint.web.field import inbox_entries
    from geoint.web.map import RULE_TITLES

    titles = {rule.title for rule in load_rules()}
    assert titles == set(RULE_TITLES)  # a new rule's title must join the catalogue
    alert = {
        "id": 1, "title": "Watch-listed vehicle near the border", "rule": "watchlist",
        "explanation": "", "status": "new", "severity": "Extreme", "event_time": None,
        "last_seen": None, "lat": 0.0, "lon": 0.0, "sector": "S", "vehicles": ["V"],
        "version": 1,
    }  # fmt: skip
    assert inbox_entries([alert], "fr")[0]["title"] == "Véhicule signalé près de la frontière"
    assert inbox_entries([alert], "en")[0]["title"] == alert["title"]
