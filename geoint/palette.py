"""Colours shared by every drawing of the data (web map, trends page, reports, KML)."""

from geoint.schema import COMMODITIES

_PALETTE = (
    "#e41a1c #8c564b #ff7f00 #984ea3 #4daf4a #a6761d #000000 #f781bf #377eb8 #666666 #17becf"
    " #bcbd22 #999999"
)  # one per commodity, in COMMODITIES order
COMMODITY_COLOURS: dict[str, str] = dict(zip(COMMODITIES, _PALETTE.split(), strict=True))
SEVERITY_COLOURS = {"Extreme": "#67000d", "Severe": "#e31a1c", "Moderate": "#fd8d3c",
                    "Minor": "#fed976"}  # fmt: skip
# event types and other open vocabularies take these in order
CATEGORY_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
)  # fmt: skip
