"""Track preparation (order, spikes, segments, trips, stops) and the fifteen track events of
docs/events.md. Imports only the base modules; the ground is asked through `geoint.ground.Ground`.
"""
