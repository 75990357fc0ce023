"""The HTTP shell (FastAPI). Routes parse, call a service, and render; they decide nothing."""
