"""A fixed legend control for Folium maps, without branca's d3 colormap (no CDN)."""

import html

from branca.element import MacroElement
from jinja2 import Template


class Legend(MacroElement):
    """Colour swatches with labels in a Leaflet control; the text is escaped."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomright"});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create("div", "geoint-legend");
            div.innerHTML = {{ this.html|tojson }};
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, title: str, entries: list[tuple[str, str]]) -> None:
        super().__init__()
        self._name = "Legend"
        swatches = "".join(
            f'<div><i style="background:{html.escape(colour)}"></i>{html.escape(label)}</div>'
            for colour, label in entries
        )
        self.html = f"<b>{html.escape(title)}</b>{swatches}"
