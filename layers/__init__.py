"""Reference geography: regions, their layers, and vectorised questions about the ground.

``geoint.layers`` knows nothing about tracks, scores or alerts; core ``geoint`` never imports it.
"""

from geoint.layers.derive import init_region
from geoint.layers.kinds import LayerKind, get_kind, kind_names, register
from geoint.layers.queries import RegionIndex
from geoint.layers.region import Region
from geoint.layers.sample import build_sample_region, shipped_region_path

__all__ = [
    "LayerKind",
    "Region",
    "RegionIndex",
    "build_sample_region",
    "get_kind",
    "init_region",
    "kind_names",
    "register",
    "shipped_region_path",
]
