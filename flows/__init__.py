"""Prefect flows: thin orchestration over pipeline and warehouse calls."""
