"""The map's and sign-in page's languages: gettext catalogues compiled with Babel.

Strings are marked ``_("...")`` (Python) and extracted with ``pybabel extract`` into
``web/locale/geoint.pot``; ``web/locale/<lang>/LC_MESSAGES/geoint.po`` holds each translation,
compiled to ``.mo`` next to it (shipped, so installing compiles nothing). English is the source
language. `negotiate` picks the language of a request: ``?lang=`` first, then the browser's
``Accept-Language`` by its q-values, else English. See docs/map.md for how to add a language.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "geoint"
LANGUAGES = ("en", "fr")
DEFAULT = "en"


@cache
def translator(lang: str) -> gettext.NullTranslations:
    """The catalogue of `lang` (English: the source strings)."""
    if lang == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


def gettext_for(lang: str) -> Callable[[str], str]:
    """The ``_`` function of `lang`."""
    return translator(lang).gettext


def N_(text: str) -> str:
    """Mark `text` for extraction only: it is translated where it is shown (``_(value)``)."""
    return text


def negotiate(query: str | None, accept_language: str | None) -> str:
    """The language to answer in: `query` when supported, else the best of `accept_language`."""
    if query is not None and query in LANGUAGES:
        return query
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        try:
            language = Locale.parse(tag.strip().replace("-", "_")).language if tag.strip() else ""
        except (ValueError, UnknownLocaleError):
            continue
        if language in LANGUAGES and quality > 0:
            wanted.append((-quality, position, language))
    return min(wanted)[2] if wanted else DEFAULT
