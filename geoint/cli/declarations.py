"""`geoint declarations list`: transit declarations scored by the CTS-style risk profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geoint.cli.common import JsonOption, RegionOption, WorkspaceOption, emit, open_workspace, out

app = typer.Typer()
declarations_app = typer.Typer(
    help="Transit declarations and their risk scores (profiles).", no_args_is_help=True
)
app.add_typer(declarations_app, name="declarations")


@declarations_app.command(
    "list",
    epilog="Example: geoint declarations list -w ws --level high --profiles profiles.toml --json",
)
def declarations_list(
    level: Annotated[
        list[str] | None, typer.Option("--level", help="high, medium or low (repeat)")
    ] = None,
    profiles: Annotated[
        Path | None, typer.Option("--profiles", help="profiles file (default: the setting's)")
    ] = None,
    region: RegionOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every declaration with its score, level and the profiles it hit (with their evidence):
    {"declarations": [...]} with --json. Crossing indicators need the region."""
    from geoint.errors import GeointError
    from geoint.intel.profiles import declarations_json, load_profiles, score_declarations
    from geoint.layers.queries import RegionIndex
    from geoint.layers.region import Region

    unknown = sorted(set(level or ()) - {"high", "medium", "low"})
    if unknown:
        raise GeointError(f"--level: expected high, medium or low, got {unknown}")
    settings, store = open_workspace(workspace)
    loaded = load_profiles(profiles or settings.intel.profiles_file)
    if region is None and (store.root / "region" / "region.toml").is_file():
        region = store.root / "region"
    index = RegionIndex(Region.load(region)) if region is not None else None
    scored = score_declarations(store, loaded, index, settings)
    if level:
        scored = scored.filter(scored["level"].is_in(level))
    rows = declarations_json(scored)
    table = Table("declaration", "operator", "commodity", "score", "level", "profiles hit")
    for row in rows:
        hit = ", ".join(h["profile"] for h in row["hits"])
        shown = (row["id"], row["operator"], row["commodity"], f"{row['score']:g}", row["level"],
                 hit)  # fmt: skip
        table.add_row(*(escape("" if v is None else str(v)) for v in shown))
    emit(as_json, {"declarations": rows}, lambda: out.print(table))
