"""The only place that orders the stages: ingest into the store, the full analysis, and the
incremental analysis of newly stored pings."""
