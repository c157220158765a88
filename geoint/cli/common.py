"""What the command groups share: options, output, and opening a workspace or a region."""

# The library modules behind the commands (numba, ortools, fastapi, geopandas, ...) are imported
# inside the command functions, never at the top of a CLI module: `geoint --help` and a usage
# error then answer in a fraction of a second instead of loading them all.

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from geoint.schema import IngestReport
from geoint.settings import GeointSettings
from geoint.web.i18n import DEFAULT, LANGUAGES, N_, gettext_for

if TYPE_CHECKING:
    from geoint.layers.queries import RegionIndex
    from geoint.layers.region import Region
    from geoint.store.workspace import Workspace

err = Console(stderr=True)
out = Console()

LANG_VARIABLE = "GEOINT_LANG"
RECORD_KINDS = (N_("pings"), N_("seizures"), N_("watchlist"), N_("declarations"))  # translated
# The language of the messages, chosen once per run (`choose_language`) before any is printed.
_language = [DEFAULT]


def choose_language(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The language of the CLI's messages: ``--lang`` on the command line, else GEOINT_LANG,
    else the locale (the first of LC_ALL, LC_MESSAGES, LANG that is set); English when that
    language has no catalogue."""
    given = None
    for position, arg in enumerate(argv):
        if arg == "--lang" and position + 1 < len(argv):
            given = argv[position + 1]
            break
        if arg.startswith("--lang="):
            given = arg.partition("=")[2]
            break
    names = (LANG_VARIABLE, "LC_ALL", "LC_MESSAGES", "LANG")
    chosen = given or next((environ[n] for n in names if environ.get(n)), DEFAULT)
    code = chosen.split(".")[0].split("_")[0].split("-")[0].lower()  # fr_FR.UTF-8 -> fr
    return code if code in LANGUAGES else DEFAULT


def set_language(lang: str) -> None:
    """Print the messages of this run in `lang` (`geoint.web.i18n.LANGUAGES`)."""
    _language[0] = lang if lang in LANGUAGES else DEFAULT


def language() -> str:
    """The language of this run's messages."""
    return _language[0]


def _(text: str) -> str:
    """`text` in the language of this run's messages (the map's catalogues, web/locale)."""
    return gettext_for(_language[0])(text)


WorkspaceOption = Annotated[Path | None, typer.Option("--workspace", "-w", help="workspace folder")]
RegionOption = Annotated[Path | None, typer.Option("--region", help="region folder (manifest)")]
RequiredRegionOption = Annotated[Path, typer.Option("--region", help="region folder (manifest)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")]


def open_workspace(workspace: Path | None) -> tuple[GeointSettings, Workspace]:
    """Return the settings (with `workspace` as their folder when given) and that workspace."""
    from geoint.store.workspace import Workspace

    settings = GeointSettings()
    if workspace is not None:
        settings = settings.model_copy(update={"workspace": workspace})
    return settings, Workspace(settings.workspace, settings.database_url)


def load_region(directory: Path) -> Region:
    """Return the region whose manifest is in `directory`."""
    from geoint.layers.region import Region

    return Region.load(directory)


def load_ground(directory: Path) -> RegionIndex:
    """Return the layer queries (the ground) of the region in `directory`."""
    from geoint.layers.queries import RegionIndex

    return RegionIndex(load_region(directory))


def emit(as_json: bool, payload: dict[str, Any], render: Callable[[], None]) -> None:
    """Print `payload` as one JSON object on stdout with --json, else call `render`."""
    if as_json:
        # orjson writes NaN and infinity (no road, no crossing) as null: valid JSON for clients
        sys.stdout.write(orjson.dumps(payload, default=str).decode() + "\n")
    else:
        render()


@contextmanager
def progress(quiet: bool, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """Yield a callback advancing a Rich progress display on stderr (or doing nothing)."""
    if quiet:
        yield lambda _step: None
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as display:
        task = display.add_task("starting", total=total)
        yield lambda step: display.update(task, description=step, advance=1)


def print_report(report: IngestReport) -> None:
    """Print an ingest report as a table."""
    title = _("ingest {kind}: {file}").format(kind=_(report.kind), file=Path(report.file).name)
    table = Table(title=title, show_header=False)
    table.add_row(_("rows"), f"{report.rows:,}")
    table.add_row(_("accepted"), f"{report.accepted:,}")
    table.add_row(_("duplicates"), f"{report.duplicates:,}")
    table.add_row(_("quarantined"), f"{report.quarantined:,}")
    for reason, count in report.quarantined_by_reason.items():
        table.add_row(f"  {reason}", f"{count:,}")
    if report.kind == "pings":
        table.add_row(_("flagged GPS spikes"), f"{report.flagged_spikes:,}")
    if report.already_ingested:
        table.add_row(_("note"), _("this exact file was already ingested; nothing stored again"))
    table.add_row(_("seconds"), f"{report.seconds:.2f}")
    out.print(table)


def print_summary(summary: dict[str, Any]) -> None:
    """Print a flat summary (a region's, a benchmark's) as a two-column table."""
    table = Table(title=f"region {summary.get('name', '')}", show_header=False)
    for key, value in summary.items():
        table.add_row(
            str(key),
            json.dumps(value, default=str) if isinstance(value, dict | list) else str(value),
        )
    out.print(table)


def print_detection(result: dict[str, Any]) -> None:
    """Print `geoint bench detection`: recall / precision per type, one column per run."""
    runs = result["runs"]
    table = Table(title=f"detection, seed {result['seed']}: recall / precision (truth events)")
    table.add_column("type")
    for run in runs:
        table.add_column(f"{run['region']}\n{run['signal']}", justify="right")
    for kind in runs[0]["events"] if runs else []:
        cells = []
        for run in runs:
            score = run["events"][kind]
            recall, precision = score["recall"], score["precision"]
            cells.append(
                "-"
                if not score["truth"]
                else f"{recall or 0:.2f} / "
                + ("-" if precision is None else f"{precision:.2f}")
                + f" ({score['truth']})"
            )
        table.add_row(kind, *cells)
    out.print(table)
    failing = result["bar"]["failing"]
    out.print("every type meets the bar" if not failing else f"below the bar: {failing}")


def print_analysis(report: dict[str, Any]) -> None:
    """Print an analysis report: events by type, cells, alerts and timings."""
    table = Table(title=f"events of {report['pings']:,} pings, {report['vehicles']:,} vehicles")
    table.add_column("type")
    table.add_column("events", justify="right")
    for kind, count in report["events"].items():
        table.add_row(kind, f"{count:,}")
    table.add_row("total", f"{report['events_total']:,}")
    out.print(table)
    cells = report["cells"]
    out.print(
        f"cells: {cells['cells']:,} cells, {cells['cell_days']:,} cell-days, "
        f"{cells['hotspot_cell_days']:,} hot cell-days, {cells['anomalous_cell_days']:,} "
        f"anomalous; emerging {json.dumps(cells['emerging'])} (geoint cells show CELL)"
    )
    alerts = report["alerts"]
    out.print(
        f"alerts: {alerts['created']:,} new, {alerts['updated']:,} updated with "
        f"{alerts['repeats']:,} repeats, {alerts['open']:,} open (geoint alerts list)"
    )
    out.print(f"{report['seconds']:.2f} s ({json.dumps(report['stage_seconds'])})")


def print_evaluation(report: dict[str, Any]) -> None:
    """Print an evaluation: recall and precision per event type, top-k precision of cells."""
    signal = report.get("signal")
    profile = f" ({signal} signal)" if signal else ""
    table = Table(title=f"events: detections against ground truth{profile}")
    for column in ("type", "truth", "detected", "recall", "precision"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for kind, score in report["events"].items():
        shown = [
            f"{v:.3f}" if isinstance(v, float) else "-" if v is None else str(v)
            for v in score.values()
        ]
        table.add_row(kind, *shown)
    out.print(table)
    top_k = report["cells"]["top_k_precision"]
    shown = ", ".join(f"k={k}: {'-' if v is None else f'{v:.3f}'}" for k, v in top_k.items())
    out.print(f"cells top-k precision: {shown}")
    for note in report["notes"]:
        out.print(f"note: {note}")
