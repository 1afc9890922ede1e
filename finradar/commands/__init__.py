"""CLI subcommands. Each module exposes ``register(subparsers)`` and sets ``handler``."""

from finradar.commands import (
    backfill,
    demo,
    follow,
    infra,
    ingest,
    produce,
    refresh,
    replay,
    report,
    serve,
    sql,
    validate,
    version,
)

COMMANDS = (
    version,
    infra,
    produce,
    validate,
    ingest,
    follow,
    backfill,
    refresh,
    replay,
    report,
    sql,
    serve,
    demo,
)
