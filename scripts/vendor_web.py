"""Copy the map's JS/CSS assets from their npm packages into ``web/static/vendor/``.

The files are committed (about 1.3 MB with their licences), so installing the project needs no
network; run this with ``npm`` on the path only to change a version: ``python
scripts/vendor_web.py``. Each package keeps its own folder so the CSS ``url(images/...)`` still
resolves.
"""

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"

# npm package@version: files to copy, relative to the package root
PACKAGES: dict[str, tuple[str, ...]] = {
    "leaflet@1.9.3": (
        "LICENSE",
        "dist/leaflet.js",
        "dist/leaflet.css",
        "dist/images/layers.png",
        "dist/images/layers-2x.png",
        "dist/images/marker-icon.png",
    ),
    "leaflet.markercluster@1.1.0": (
        "MIT-LICENCE.txt",
        "dist/leaflet.markercluster.js",
        "dist/MarkerCluster.css",
        "dist/MarkerCluster.Default.css",
    ),
    "leaflet.fullscreen@3.0.0": (
        "LICENSE",
        "Control.FullScreen.js",
        "Control.FullScreen.css",
        "icon-fullscreen.svg",
    ),
    "leaflet-measure@2.1.7": (
        "LICENSE",
        "dist/leaflet-measure.min.js",
        "dist/leaflet-measure.css",
        *(
            f"dist/images/{name}{scale}.png"
            for name in ("cancel", "check", "focus", "rulers", "start", "trash")
            for scale in ("", "_@2X")
        ),
    ),
    # the /trends page's charts (Vega-Lite specs rendered by Vega, embedded with PNG/SVG export)
    "vega@6.4.0": ("LICENSE", "build/vega.min.js"),
    "vega-lite@6.5.0": ("LICENSE", "build/vega-lite.min.js"),
    "vega-embed@7.3.0": ("LICENSE", "build/vega-embed.min.js"),
    # the bundled build carries pbf and vector-tile; its licence (Beerware) is in the README
    "leaflet.vectorgrid@1.3.0": ("README.md", "dist/Leaflet.VectorGrid.bundled.min.js"),
}


def vendor(spec: str, members: tuple[str, ...], scratch: Path) -> None:
    """Fetch one package with ``npm pack`` and copy `members` under ``TARGET/<name>/``."""
    name = spec.rsplit("@", 1)[0]
    tarball = subprocess.run(
        ["npm", "pack", "--silent", spec], cwd=scratch, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    with tarfile.open(scratch / tarball) as archive:
        for member in members:
            data = archive.extractfile(f"package/{member}")
            assert data is not None, f"{spec}: {member} is not a file"
            out = TARGET / name / member.removeprefix("dist/").removeprefix("build/")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data.read())


def main() -> int:
    """Vendor every package; returns the exit code."""
    with tempfile.TemporaryDirectory() as scratch:
        for spec, members in PACKAGES.items():
            vendor(spec, members, Path(scratch))
            print(f"vendored {spec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
