"""The layering of the package, stated once and checked on every import of every module.

Stages import only stages below them (README, "Architecture"):

    base modules (geoint/*.py)
      ← ingest, store, layers
      ← detect, analytics, alerts, patrol, exchange
      ← pipeline, serve
      ← api, web, cli, sim, bench, testing

`ALLOWED` lists, per package, the packages it may import besides itself and the base modules;
no module may take part in an import cycle, function-local and type-checking imports included.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"geoint": ROOT / "geoint", "geoint.layers": ROOT / "layers"}
FOLDERS |= {"geoint.api": ROOT / "api", "geoint.web": ROOT / "web"}

LOWER = {"geoint.ingest", "geoint.store", "geoint.layers"}
STAGES = {
    "geoint.detect", "geoint.analytics", "geoint.alerts", "geoint.patrol", "geoint.exchange",
    "geoint.intel",
}  # fmt: skip
ENGINE = {"geoint.pipeline", "geoint.serve"}
ALLOWED: dict[str, set[str]] = {
    "geoint.ingest": set(),
    "geoint.store": set(),
    "geoint.layers": set(),
    "geoint.detect": set(),
    "geoint.analytics": {"geoint.detect", "geoint.store"},
    "geoint.alerts": {"geoint.store"},
    "geoint.patrol": {"geoint.analytics", "geoint.store", "geoint.layers", "geoint.ingest"},
    "geoint.exchange": {"geoint.store"},
    "geoint.intel": {"geoint.store", "geoint.layers", "geoint.alerts"},
    "geoint.pipeline": LOWER | STAGES,
    "geoint.serve": LOWER | STAGES,
    "geoint.web": {"geoint.layers", "geoint.serve", "geoint.alerts", "geoint.analytics"},
    "geoint.api": LOWER | STAGES | ENGINE | {"geoint.web"},
    "geoint.testing": {"geoint.ingest"},
    "geoint.sim": LOWER | STAGES | {"geoint.pipeline"},
    "geoint.bench": LOWER | STAGES | ENGINE | {"geoint.sim", "geoint.testing"},
    "geoint.cli": LOWER
    | STAGES
    | ENGINE
    | {"geoint.api", "geoint.web", "geoint.sim"}
    | {"geoint.bench"},
}
# presentation gets its data from the query layer (geoint.serve): no SQL, no storage paths
PRESENTATION_FORBIDDEN = {"geoint.web": ("sqlalchemy", "pyarrow", "geoint.store")}


def _modules() -> dict[str, Path]:
    """Every module of the distribution by its installed dotted name."""
    found = {}
    for dotted, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            if dotted == "geoint" and path.relative_to(folder).parts[0] in {"layers", "api", "web"}:
                continue
            parts = [*dotted.split("."), *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The geoint modules a file imports (a `from package import module` names the module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
    return {n for n in names if n == "geoint" or n.startswith("geoint.")} | {
        n for n in names if n.split(".")[0] in {"sqlalchemy", "pyarrow"}
    }


def _package(module: str) -> str:
    """The stage package of a module, or "base" for the modules at the top of geoint/."""
    parts = module.split(".")
    if len(parts) >= 2 and ".".join(parts[:2]) in ALLOWED:
        return ".".join(parts[:2])
    return "base"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_stages_import_only_the_stages_below_them(package):
    allowed = ALLOWED[package] | {package, "base"}
    offenders = []
    for module, path in sorted(MODULES.items()):
        if _package(module) != package:
            continue
        for name in sorted(_imports(path)):
            if name.startswith("geoint") and _package(name) not in allowed:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
            forbidden = PRESENTATION_FORBIDDEN.get(package, ())
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(ROOT)} imports {name} (use geoint.serve)")
    assert offenders == []


def test_base_modules_import_only_base_modules():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for module, path in sorted(MODULES.items())
        if _package(module) == "base"
        for name in _imports(path)
        if name.startswith("geoint.") and _package(name) != "base" and module != "geoint.__main__"
    ]
    assert offenders == []


def test_no_import_cycle_between_modules():
    graph = {
        module: {
            name
            for name in _imports(path)
            if name in MODULES and name != module and not module.startswith(name + ".")
        }
        for module, path in MODULES.items()
    }
    cycles = _cycles(graph)
    assert cycles == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_nothing_imports_the_command_line():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for module, path in MODULES.items()
        if _package(module) != "geoint.cli" and module != "geoint.__main__"
        for name in _imports(path)
        if name == "geoint.cli" or name.startswith("geoint.cli.")
    ]
    assert offenders == []


def test_library_never_reads_the_environment():
    offenders = []
    for module, path in MODULES.items():
        if _package(module) == "geoint.cli":
            continue
        text = path.read_text(encoding="utf-8")
        if "os.environ" in text or "getenv(" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_stage_folder_is_a_package_in_the_distribution():
    import tomllib

    packages = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert folders == packages


def test_tests_mirror_the_package():
    stage_folders = {p.split(".")[-1] for p in ALLOWED}
    test_folders = {
        p.name
        for p in (ROOT / "tests").iterdir()
        if p.is_dir() and p.name not in ("support", "reliability")  # reliability: across stages
    }
    test_folders.discard("__pycache__")
    assert test_folders <= stage_folders, test_folders - stage_folders


def test_installed_subpackages_resolve_to_top_level_folders():
    import geoint.api
    import geoint.layers
    import geoint.web

    assert Path(geoint.layers.__file__).parent == ROOT / "layers"
    assert Path(geoint.web.__file__).parent == ROOT / "web"
    assert Path(geoint.api.__file__).parent == ROOT / "api"


def test_region_index_satisfies_the_core_ground_protocol():
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
