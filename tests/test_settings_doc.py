"""docs/settings.md lists every setting with its current default (scripts/settings_doc.py)."""

import importlib.util

from support.paths import REPO


def test_the_settings_page_is_current():
    spec = importlib.util.spec_from_file_location("settings_doc", REPO / "scripts/settings_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == module.render(), "run: python scripts/settings_doc.py"
