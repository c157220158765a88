"""Helpers shared by the tests: builders, toy region, API fixtures."""
