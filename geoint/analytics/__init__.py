"""Cell analytics (docs/cells.md): activity per cell and window, anomaly, Gi* and emerging
hotspots, the seizure prior and the explained risk score."""
