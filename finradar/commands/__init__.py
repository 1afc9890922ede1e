"""CLI subcommands. Each module exposes ``register(subparsers)`` and sets ``handler``."""

from finradar.commands import demo, infra, version

COMMANDS = (version, infra, demo)
