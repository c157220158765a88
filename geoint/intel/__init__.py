"""Seizure intelligence: filters pushed into SQL, trends, crossings, operations and reports."""
