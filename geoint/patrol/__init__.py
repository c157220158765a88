"""Patrol planning (docs/patrol.md): the terrain-aware travel graph built from layer queries and
the team orienteering solver."""
