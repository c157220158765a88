"""Border GEOINT platform: tracks and seizures indexed into H3 cells, joined with border layers."""

__version__ = "0.1.0"
