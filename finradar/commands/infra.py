"""``finradar infra up|down|status|env``: the local Kafka broker, and on request the local
stand-ins of a shared DuckLake warehouse (a Postgres catalog, an S3 object store)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from finradar.errors import FinradarError
from finradar.settings import get_settings

EXIT_NOT_RUNNING = 3  # LSB convention for "program is not running"


def _stand_in_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"{what} the local Postgres catalog (var/postgres, 127.0.0.1:"
        "warehouse.local_postgres_port; Debian's Postgres: make postgres)",
    )
    parser.add_argument(
        "--object-store",
        action="store_true",
        help=f"{what} the local S3 object store (moto's server on 127.0.0.1:"
        "warehouse.local_object_store_port; in memory: its objects are gone when it stops)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "infra",
        help="start, stop or inspect the local Kafka broker (and the shared-warehouse "
        "stand-ins: Postgres, an object store)",
    )
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
    _stand_in_flags(up, "also start")
    up.set_defaults(handler=run_up)
    files = sub.add_parser(
        "secure-files",
        help="write a secured Docker broker's CA, keystore and client settings to "
        "var/kafka/compose-secure (for infra/compose.secure.yaml; its clients: "
        "FINRADAR_CONFIG=var/kafka/compose-secure/client.toml)",
    )
    files.set_defaults(handler=run_secure_files)
    down = sub.add_parser(
        "down",
        help="stop the broker, and the stand-ins that run (harmless if nothing runs)",
    )
    down.add_argument(
        "--purge",
        action="store_true",
        help="also delete the broker's data, and the stand-ins' (var/postgres, var/object-store)",
    )
    down.set_defaults(handler=run_down)
    status = sub.add_parser(
        "status",
        help="say whether the broker runs (exit 0) or not (exit 3); a line for each stand-in too",
    )
    status.set_defaults(handler=run_status)
    env = sub.add_parser(
        "env",
        help="print 'export FINRADAR_WAREHOUSE__…=…' lines that point finradar at the chosen "
        'running stand-ins, for eval "$(finradar infra env --postgres --object-store)"; '
        "they hold the stand-ins' password and secret, on purpose, on stdout only",
    )
    _stand_in_flags(env, "the settings of")
    env.set_defaults(handler=run_env)


def _broker() -> Any:
    # lazy: the CLI starts without Kafka's client
    from infra.broker import LocalBroker

    return LocalBroker(get_settings())


def _stand_ins(postgres: bool = True, object_store: bool = True) -> list[Any]:
    settings = get_settings()
    chosen: list[Any] = []
    if postgres:
        # lazy: the CLI starts without the stand-ins' client libraries
        from infra.postgres import LocalPostgres

        chosen.append(LocalPostgres(settings))
    if object_store:
        # lazy: the CLI starts without the stand-ins' client libraries
        from infra.object_store import LocalObjectStore

        chosen.append(LocalObjectStore(settings))
    return chosen


def run_up(args: argparse.Namespace) -> int:
    print(_broker().up(secure=args.secure).line())
    if args.postgres or args.object_store:
        for stand_in in _stand_ins(args.postgres, args.object_store):
            print(stand_in.up().line())
    return 0


def run_secure_files(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without Kafka's client
    from infra.broker_security import compose_folder, secure_material

    settings = get_settings()
    print(f"secured broker files in {secure_material(settings, compose_folder(settings)).folder}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    print(_broker().down(purge=args.purge).line())
    for stand_in in _stand_ins():
        if stand_in.has_state:
            print(stand_in.down(purge=args.purge).line())
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = _broker().status()
    print(status.line())
    for stand_in in _stand_ins():
        if stand_in.has_state:
            print(stand_in.status().line())
    return 0 if status.running else EXIT_NOT_RUNNING


def run_env(args: argparse.Namespace) -> int:
    chosen = _stand_ins(args.postgres, args.object_store)
    if not chosen:
        raise FinradarError("say which stand-ins: --postgres, --object-store or both")
    lines = []
    for stand_in in chosen:
        status = stand_in.status()
        if not status.running:
            raise FinradarError(
                f"{status.line()} ('finradar infra up --{stand_in.name}' starts it)"
            )
        environment = stand_in.client_environment()
        lines += [f"export {name}={shlex.quote(value)}" for name, value in environment.items()]
    print("\n".join(lines))
    return 0
