"""CLI subcommands. Each module exposes ``register(subparsers)`` and sets ``handler``."""

from finradar.commands import demo, infra, ingest, produce, validate, version

COMMANDS = (version, infra, produce, validate, ingest, demo)
