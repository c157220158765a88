"""The FastAPI service (``geoint.api``): thin routes over the library; see SPEC §10."""
