"""Scenario generation (SPEC §13): synthetic layers, traffic, planted behaviour, ground truth, and
the evaluation of a workspace against it. A tool, not part of the product's data flow."""
