"""Test tools shipped with the package: hand-built track builders, the slow reference event
detector, a `geoint serve` on loopback."""
