"""Alerts (docs/alerts.md): the rules file, candidates from events and cells, the alert store
with its lifecycle, raising, CAP 1.2 and Atom."""
