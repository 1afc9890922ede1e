"""``finradar infra up|down|status``: the local Kafka broker."""

from __future__ import annotations

import argparse
from typing import Any

from finradar.settings import get_settings

EXIT_NOT_RUNNING = 3  # LSB convention for "program is not running"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("infra", help="start, stop or inspect the local Kafka broker")
    sub = p.add_subparsers(dest="infra_command", metavar="ACTION", parser_class=type(p))
    sub.required = True
    up = sub.add_parser("up", help="start the broker (if needed) and create the topics")
    up.add_argument(
        "--secure",
        action="store_true",
        help="a new broker storage is made secure: TLS on every listener, SASL_SSL with "
        "SCRAM-SHA-512 for clients (mutual TLS on kafka.mtls_port), a throwaway CA; the "
        "client settings go to var/kafka/secure/client.toml, which finradar then uses",
    )
    up.set_defaults(handler=run_up)
    files = sub.add_parser(
        "secure-files",
        help="write a secured Docker broker's CA, keystore and client settings to "
        "var/kafka/compose-secure (for infra/compose.secure.yaml; its clients: "
        "FINRADAR_CONFIG=var/kafka/compose-secure/client.toml)",
    )
    files.set_defaults(handler=run_secure_files)
    down = sub.add_parser("down", help="stop the broker (harmless if it is not running)")
    down.add_argument("--purge", action="store_true", help="also delete the broker's data")
    down.set_defaults(handler=run_down)
    status = sub.add_parser("status", help="say whether the broker runs (exit 0) or not (exit 3)")
    status.set_defaults(handler=run_status)


def _broker() -> Any:
    # lazy: the CLI starts without Kafka's client
    from infra.broker import LocalBroker

    return LocalBroker(get_settings())


def run_up(args: argparse.Namespace) -> int:
    print(_broker().up(secure=args.secure).line())
    return 0


def run_secure_files(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without Kafka's client
    from infra.broker_security import compose_folder, secure_material

    settings = get_settings()
    print(f"secured broker files in {secure_material(settings, compose_folder(settings)).folder}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    print(_broker().down(purge=args.purge).line())
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = _broker().status()
    print(status.line())
    return 0 if status.running else EXIT_NOT_RUNNING
