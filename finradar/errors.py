"""Errors the CLI reports as one clear line (no traceback)."""


class FinradarError(Exception):
    """An expected failure with a message meant for the person at the terminal."""

    exit_code = 1


class TransientError(FinradarError):
    """A failure that may pass if the same work is tried again: the broker not ready yet,
    another writer holding the warehouse. Orchestration retries these, and only these."""
