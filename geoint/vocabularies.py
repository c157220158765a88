"""Controlled vocabularies of the seizure record, shipped as data (``vocabularies.toml``).

Each field lists terms: a code (stored, filtered on), English and French labels, and aliases
accepted on entry. A region may add terms to the extensible fields with a ``vocabularies.toml``
in its folder. Commodity, transport mode and direction are fixed: the cell tables keep a column
and the map a colour per commodity, and filters and trends are built on the three.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from geoint.errors import RegionError

SHIPPED_FILE = Path(__file__).with_name("vocabularies.toml")
REGION_FILE = "vocabularies.toml"  # in a region's folder
FIELDS = (
    "commodity", "transport_mode", "concealment", "detection_method", "vehicle_type",
    "direction", "unit",
)  # fmt: skip
CHECKED = (
    "commodity",
    "transport_mode",
    "concealment",
    "detection_method",
    "vehicle_type",
    "direction",
)  # fmt: skip  (unit stays free text: the list is the form's suggestions)
EXTENSIBLE = ("concealment", "detection_method", "vehicle_type", "unit")
LANGUAGES = ("en", "fr")

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class Term(BaseModel):
    """One term: its code, its labels and other spellings accepted for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,32}$")]
    en: Label
    fr: Label
    aliases: tuple[Label, ...] = ()


class VocabularyFile(BaseModel):
    """A vocabularies file: a list of terms per field."""

    model_config = ConfigDict(extra="forbid")

    commodity: list[Term] = Field(default_factory=list)
    transport_mode: list[Term] = Field(default_factory=list)
    concealment: list[Term] = Field(default_factory=list)
    detection_method: list[Term] = Field(default_factory=list)
    vehicle_type: list[Term] = Field(default_factory=list)
    direction: list[Term] = Field(default_factory=list)
    unit: list[Term] = Field(default_factory=list)


def term_key(text: pl.Expr) -> pl.Expr:
    """The matching key of a term: accents, case and punctuation dropped (``X-ray`` → ``x ray``)."""
    return (
        text.str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


def _key(text: str) -> str:
    return pl.select(term_key(pl.lit(text))).item()


@dataclass(frozen=True)
class Vocabularies:
    """The terms of every field, and what each accepted spelling stands for."""

    terms: Mapping[str, tuple[Term, ...]]
    _spellings: dict[str, dict[str, str]] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for name, terms in self.terms.items():
            found: dict[str, str] = {}
            for term in terms:
                for text in (term.code, term.en, term.fr, *term.aliases):
                    found.setdefault(_key(text), term.code)
            self._spellings[name] = found

    def codes(self, field: str) -> tuple[str, ...]:
        """The codes of a field, in file order."""
        return tuple(term.code for term in self.terms[field])

    def labelled(self, field: str, language: str = "en") -> list[dict[str, str]]:
        """``[{"code", "label"}]`` of a field in `language` (``en`` or ``fr``)."""
        return [{"code": t.code, "label": getattr(t, language)} for t in self.terms[field]]

    def spellings(self, field: str) -> dict[str, str]:
        """Every accepted spelling's key (code, labels, aliases) → its code."""
        return self._spellings[field]

    def normalise(self, field: str, values: pl.Expr) -> pl.Expr:
        """The code each value stands for; null for a blank or unknown value."""
        found = self.spellings(field)
        return term_key(values.cast(pl.String)).replace_strict(
            list(found), list(found.values()), default=None, return_dtype=pl.String
        )

    def code_of(self, field: str, value: str) -> str | None:
        """The code `value` stands for, if any."""
        return self.spellings(field).get(_key(value))

    def extended(self, path: Path) -> Vocabularies:
        """These vocabularies with the terms of a region's file added (RegionError if bad)."""
        added = _read(path)
        for field in FIELDS:
            if getattr(added, field) and field not in EXTENSIBLE:
                raise RegionError(
                    f"{path}: field '{field}': a region may extend only "
                    f"{', '.join(EXTENSIBLE)} (commodity, transport mode and direction are "
                    "fixed: analytics and filters are built on them)"
                )
        terms = {f: (*self.terms[f], *getattr(added, f)) for f in FIELDS}
        merged = Vocabularies(terms)
        _check_unique(merged, path)
        return merged


def _read(path: Path) -> VocabularyFile:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RegionError(f"{path}: expected a readable TOML vocabularies file ({exc})") from None
    try:
        return VocabularyFile.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise RegionError(f"{path}: field '{where}': {error['msg']}") from None


def _check_unique(vocabularies: Vocabularies, path: Path) -> None:
    """Each code once per field, and no spelling standing for two terms."""
    for field, terms in vocabularies.terms.items():
        owner: dict[str, str] = {}
        for index, term in enumerate(terms):
            if term.code in {t.code for t in terms[:index]}:
                raise RegionError(f"{path}: field '{field}': code {term.code!r} is defined twice")
            for text in (term.code, term.en, term.fr, *term.aliases):
                key = _key(text)
                if owner.setdefault(key, term.code) != term.code:
                    raise RegionError(
                        f"{path}: field '{field}': {text!r} would stand for both "
                        f"{owner[key]!r} and {term.code!r}"
                    )


def _load(path: Path) -> Vocabularies:
    found = _read(path)
    vocabularies = Vocabularies({field: tuple(getattr(found, field)) for field in FIELDS})
    _check_unique(vocabularies, path)
    return vocabularies


SHIPPED = _load(SHIPPED_FILE)


def region_vocabularies(region_folder: Path | None) -> Vocabularies:
    """The shipped vocabularies, extended by the region folder's ``vocabularies.toml`` if any."""
    if region_folder is None or not (Path(region_folder) / REGION_FILE).is_file():
        return SHIPPED
    return SHIPPED.extended(Path(region_folder) / REGION_FILE)


def all_labelled(vocabularies: Vocabularies, language: str) -> dict[str, list[dict[str, str]]]:
    """Every field's terms with their labels in `language`."""
    return {field: vocabularies.labelled(field, language) for field in FIELDS}
