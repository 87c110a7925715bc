"""The HTTP API: FastAPI routes over Temporal and the database."""
