"""The ``finradar`` command line.

Every subcommand has ``--help``. A wrong argument prints one line on stderr and exits 2; an
expected failure (broker down, bad input file) prints one line (plus any log tail) and exits 1;
so does a fault outside finradar (a disk full, a folder it may not write, a broken catalog),
with the traceback only under ``--verbose``.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from finradar.commands import COMMANDS
from finradar.errors import FinradarError
from finradar.settings import ALERTS_LOGGER, prefect_console_without_tracebacks


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line instead of usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="finradar",
        description="Streaming data platform for financial-institution technology monitoring.",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="on a failure, print the traceback and the Kafka client's log as well",
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
    _refuse_unknown_options_before_the_command(parser, sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not args.verbose:
        # kafka-python logs every reconnect attempt, and Beam relays what its worker
        # processes log (a failing bundle's traceback): a failure reaches the user as one
        # line, the traceback with --verbose
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
        # Prism's job server relays its own log (a failing bundle's error among it) through
        # a logger of its class's name, whose level Beam sets to info when it starts it
        prism = logging.getLogger("PrismJobServer")
        prism.addHandler(logging.NullHandler())
        prism.propagate = False
        threading.excepthook = thread_failed
        # a flow run that fails: Prefect's log line without its traceback
        prefect_console_without_tracebacks()
    try:
        with alert_lines_on_stderr():
            return int(args.handler(args) or 0)
    except FinradarError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"finradar: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("finradar: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a fault outside finradar: one line, the traceback on request
        if args.verbose:
            traceback.print_exc()
        print(f"finradar: {describe(exc)} (--verbose shows the traceback)", file=sys.stderr)
        return 1


@contextmanager
def alert_lines_on_stderr() -> Iterator[None]:
    """The alert notices a command writes (``flows.alerting``'s log notifier: firing ones
    as warnings, resolved ones as information) on stderr, each line as the notifier wrote
    it. Without a handler of its own a resolved alert was dropped, and a firing one took
    the format of whatever handler something had set up on the root logger
    (``WARNING:finradar.alerts:[finradar] FIRING …`` after a pass on worker processes)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    alerts = logging.getLogger(ALERTS_LOGGER)
    level, propagate = alerts.level, alerts.propagate
    alerts.addHandler(handler)
    alerts.setLevel(logging.INFO)
    alerts.propagate = False
    try:
        yield
    finally:
        alerts.removeHandler(handler)
        alerts.setLevel(level)
        alerts.propagate = propagate


def _refuse_unknown_options_before_the_command(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> None:
    """Name an unknown option given before the command: argparse would only say that the
    command is missing (``finradar --bogus``)."""
    known = {option for action in parser._actions for option in action.option_strings}
    for arg in argv:
        if not arg.startswith("-"):
            return  # the command: its own parser judges what follows
        if arg.split("=", 1)[0] not in known:
            parser.error(f"unrecognized argument: {arg}")


def thread_failed(args: threading.ExceptHookArgs) -> None:
    """A thread's failure (``threading.excepthook`` without ``--verbose``): one line, and
    none for a gRPC stream's end in a library's thread (Beam's in-process worker, whose
    streams close when its job ends or is cancelled: the command's own error says how the
    job ended). Logged in full at debug level."""
    name = args.thread.name if args.thread is not None else "a thread"
    exc = args.exc_value
    logging.getLogger("finradar.threads").debug(
        "%s failed", name, exc_info=(args.exc_type, exc, args.exc_traceback)
    )
    if exc is None or args.exc_type is SystemExit:
        return
    if type(exc).__module__.split(".")[0] == "grpc":
        return
    print(
        f"finradar: {name} failed: {describe(exc)} (--verbose shows the traceback)",
        file=sys.stderr,
    )


def describe(exc: BaseException) -> str:
    """One line for an exception finradar did not expect."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"the disk is full: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"not allowed to write or read {exc.filename or exc}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
