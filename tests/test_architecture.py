"""Imports flow one way: geoint core ← layers ← web ← api; only the CLI composes them all."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package folder -> packages it must never import
FORBIDDEN = {
    "geoint": ("geoint.layers", "geoint.web", "geoint.api"),
    "layers": ("geoint.web", "geoint.api"),
    "web": ("geoint.api",),
    "api": (),
}
COMPOSITION_ROOTS = {ROOT / "geoint" / "cli.py"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_direction(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if path in COMPOSITION_ROOTS:
            continue
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_library_never_reads_the_environment():
    offenders = []
    for package in ("geoint", "layers", "web", "api"):
        for path in (ROOT / package).rglob("*.py"):
            if path in COMPOSITION_ROOTS:
                continue
            text = path.read_text(encoding="utf-8")
            if "os.environ" in text or "getenv(" in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_installed_subpackages_resolve_to_top_level_folders():
    import geoint.api
    import geoint.layers
    import geoint.web

    assert Path(geoint.layers.__file__).parent == ROOT / "layers"
    assert Path(geoint.web.__file__).parent == ROOT / "web"
    assert Path(geoint.api.__file__).parent == ROOT / "api"


def test_region_index_satisfies_the_core_ground_protocol():
    import inspect

    from geoint.ground import Ground
    from geoint.layers import RegionIndex

    for name, member in inspect.getmembers(Ground):
        if name.startswith("_"):
            continue
        assert hasattr(RegionIndex, name), f"RegionIndex lacks {name}"
        if inspect.isfunction(member):
            wanted = list(inspect.signature(member).parameters)
            got = list(inspect.signature(getattr(RegionIndex, name)).parameters)
            assert got[: len(wanted)] == wanted, name
