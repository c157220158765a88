"""Colours shared by every drawing of the data (web map, trends page, reports, KML)."""

from geoint.schema import COMMODITIES

# Colour-blind safe: Paul Tol's muted qualitative set for commodities ("other" grey), sequential
# reds for alert severity.
_PALETTE = (
    "#332288 #88ccee #44aa99 #117733 #999933 #ddcc77 #cc6677 #882255 #aa4499 #000000 #6699cc"
    " #ee8866 #bbbbbb"
)  # one per commodity, in COMMODITIES order
COMMODITY_COLOURS: dict[str, str] = dict(zip(COMMODITIES, _PALETTE.split(), strict=True))
SEVERITY_COLOURS = {"Extreme": "#67000d", "Severe": "#d7301f", "Moderate": "#fc8d59",
                    "Minor": "#fdcc8a"}  # fmt: skip
# event types and other open vocabularies take these in order
CATEGORY_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
)  # fmt: skip
