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

# The map's other layers, distinct from the above and from each other, colour-blind safe:
# viridis reversed (risk: the riskiest darkest on the light basemap), cividis reversed
# (anomaly), RdBu (Gi*), Okabe-Ito (patrol teams). Crossings are white rings, events magenta,
# the track blue, partner alerts and events teal dots with a dashed ring.
RISK_COLOURS = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")  # risk 0-20 ... 80-100
ANOMALY_COLOURS = ("#fee838", "#bcae6c", "#7d7c78", "#434e6c", "#00224e")  # z <1, 1-2 ... ≥4
HOTSPOT_COLOURS: dict[int, str] = {3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", -1: "#d1e5f0",
                                   -2: "#67a9cf", -3: "#2166ac"}  # fmt: skip
PATROL_COLOURS = ("#e69f00", "#56b4e9", "#cc79a7", "#0072b2", "#d55e00", "#f0e442")
EVENT_COLOUR = "#e7298a"
TRACK_COLOUR = "#0057e7"
CROSSING_COLOUR = "#ffffff"
PARTNER_COLOUR = "#00a5a5"
