"""The Folium map builder (``geoint.web``): builds maps from data it is given; see SPEC §11."""
