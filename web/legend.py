"""Legend entries as escaped HTML: ``map.js`` shows those of the layers on the map."""

import html

SHAPES = ("box", "dot", "ring", "line", "dash")


def legend_html(
    title: str, entries: list[tuple[str, str] | tuple[str, str, str]], shape: str = "box"
) -> str:
    """A legend block: the title and one swatch per (colour, label[, shape]); text escaped."""
    rows = []
    for entry in entries:
        colour, label = entry[0], entry[1]
        kind = entry[2] if len(entry) > 2 else shape
        if kind not in SHAPES:
            raise ValueError(f"legend shape {kind!r}: expected one of {', '.join(SHAPES)}")
        rows.append(
            f'<div><i class="geoint-swatch-{kind}" style="--swatch:{html.escape(colour)}"></i>'
            f"{html.escape(label)}</div>"
        )
    return f'<div class="geoint-legend-block"><b>{html.escape(title)}</b>{"".join(rows)}</div>'
