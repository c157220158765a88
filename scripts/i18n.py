"""Extract the map's and sign-in page's strings, merge them into each catalogue, compile them.

    .venv/bin/python scripts/i18n.py            # extract + update + compile
    .venv/bin/python scripts/i18n.py --check    # exit 1 when a string lacks a translation

Wraps Babel (``pybabel extract -k N_``, ``update``, ``compile``) over `SOURCES`; the
catalogues live in ``web/locale/<lang>/LC_MESSAGES/geoint.po`` and their compiled ``.mo`` is
committed next to them. Translate the new ``msgstr ""`` entries the update leaves, then run it
again to compile. ``tests/web/test_i18n.py`` fails on any untranslated or fuzzy string.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "web" / "locale"
TEMPLATE = LOCALE / "geoint.pot"
SOURCES = (
    "web/map.py", "web/legend.py", "web/basemap.py", "api/session.py", "web/field.py",
    # the CLI messages shown to units (docs/map.md, "Languages")
    "geoint/cli/common.py", "geoint/cli/main.py", "geoint/cli/alerts.py", "geoint/cli/patrol.py",
)  # fmt: skip
TRANSLATED = ("fr",)
PYBABEL = str(Path(sys.executable).with_name("pybabel"))


def extract(target: Path = TEMPLATE) -> None:
    """Write the template of every marked string of `SOURCES`."""
    subprocess.run(
        [PYBABEL, "-q", "extract", "-k", "N_", "--no-location", "--sort-output", "--omit-header",
         "--project", "geoint", "-o", str(target), *SOURCES],
        cwd=ROOT, check=True,
    )  # fmt: skip


def missing(lang: str) -> list[str]:
    """The template's strings that `lang`'s catalogue leaves untranslated or fuzzy."""
    with (LOCALE / lang / "LC_MESSAGES" / "geoint.po").open("rb") as file:
        catalogue = read_po(file)
    with TEMPLATE.open("rb") as file:
        template = read_po(file)
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalogue.get(message.id)
        if found is None or not found.string or found.fuzzy:
            missing.append(str(message.id))
    return missing


def main() -> int:
    """Extract, update and compile; with ``--check``, report untranslated strings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list untranslated strings")
    args = parser.parse_args()
    if not args.check:
        extract()
        for lang in TRANSLATED:
            po = LOCALE / lang / "LC_MESSAGES" / "geoint.po"
            command = ["init"]
            if po.exists():  # no guessed (fuzzy) entries, no kept-but-unused ones
                command = ["update", "--no-fuzzy-matching", "--ignore-obsolete"]
            subprocess.run(
                [PYBABEL, "-q", *command, "-i", str(TEMPLATE), "-d", str(LOCALE), "-D", "geoint",
                 "-l", lang],
                check=True,
            )  # fmt: skip
    status = 0
    for lang in TRANSLATED:
        lacking = missing(lang)
        for text in lacking:
            print(f"{lang}: untranslated: {text!r}")
        status |= bool(lacking)
    if not args.check and status == 0:
        subprocess.run([PYBABEL, "-q", "compile", "-d", str(LOCALE), "-D", "geoint"], check=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
