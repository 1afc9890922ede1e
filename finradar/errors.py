"""Errors the CLI reports as one clear line (no traceback)."""


class FinradarError(Exception):
    """An expected failure with a message meant for the person at the terminal."""

    exit_code = 1
