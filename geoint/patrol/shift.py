"""A shift planned on a workspace: risk tables, a far base joined by transit, stops in words."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from geoint.h3index import latlng_to_cells
from geoint.layers.region import Region
from geoint.patrol.plan import (
    PatrolPlan,
    PatrolRequest,
    TravelGraph,
    plan_patrol,
    read_risk_tables,
)
from geoint.patrol.travel import base_access
from geoint.patrol.words import describe_stops, read_evidence
from geoint.settings import PatrolSettings
from geoint.store.workspace import Workspace


def plan_shift(
    workspace: Workspace,
    region: Region,
    graph: TravelGraph,
    transit: Callable[[], TravelGraph],
    request: PatrolRequest,
    settings: PatrolSettings,
) -> PatrolPlan:
    """Plan `request` on the workspace's latest risk; `transit` builds (or returns the cached)
    transit graph, asked for only when the base lies outside `graph`."""
    risk, emerging = read_risk_tables(workspace)
    at = (np.array([request.base_lat]), np.array([request.base_lon]))
    access = None
    if graph.index(latlng_to_cells(*at, graph.resolution))[0] < 0:
        access = base_access(graph, transit(), request.base_lat, request.base_lon)
    plan = plan_patrol(graph, risk, emerging, request, settings, access)
    describe_stops(plan, read_evidence(workspace, region, request.start, settings), graph, settings)
    return plan
