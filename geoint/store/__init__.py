"""The workspace: ping partitions, the SQL tables (all in `tables.py`), the cell tables, API keys
and sessions. Imports only the base modules."""
