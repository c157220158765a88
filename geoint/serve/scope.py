"""A unit's scope over geometries: what a caller limited to some sectors may see of a layer."""

from __future__ import annotations

import numpy as np
import shapely


def meets_interior(geometries: np.ndarray, areas: shapely.Geometry | np.ndarray) -> np.ndarray:
    """Whether each geometry meets the interior of its area (pairwise, or one area for all):
    a road along a sector's edge belongs to the sectors on both sides only if it enters them."""
    return shapely.intersects(geometries, areas) & ~shapely.touches(geometries, areas)
