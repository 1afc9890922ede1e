"""The ``finradar`` command line.

Every subcommand has ``--help``. A wrong argument prints one line on stderr and exits 2; an
expected failure (broker down, bad input file) prints one line (plus any log tail) and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from finradar.commands import COMMANDS
from finradar.errors import FinradarError


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line instead of usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="finradar",
        description="Streaming data platform for financial-institution technology monitoring.",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineErrorParser
    )
    subparsers.required = True
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except FinradarError as exc:
        print(f"finradar: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("finradar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
