"""``finradar serve``: scheduled ingest and refresh on a local (or configured) Prefect server."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from finradar.settings import Settings, export_prefect_env, get_settings, require_private_pii_key


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the flows on their schedules until stopped (Ctrl-C)",
        description="Start a local Prefect server on 127.0.0.1 (unless prefect.api_url is "
        "set), register the ingest, refresh and report deployments with their schedules "
        "(prefect.ingest_every_s, prefect.refresh_every_s, prefect.report_every_s) and run "
        "their flow runs until interrupted.",
    )
    p.set_defaults(handler=run)


def _stop_on_sigterm() -> None:
    """SIGTERM ends the command like Ctrl-C, so the Prefect server it started stops too."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@contextmanager
def prefect_api(settings: Settings, temporary: bool = False) -> Iterator[str]:
    """Point Prefect at ``prefect.api_url``, else at a local server started here and
    stopped on the way out (yields its API URL). ``serve`` needs ``prefect.server_port``;
    a ``temporary`` server (for one command's flow runs) takes another free port when that
    one is in use, and says which."""
    # lazy: the CLI starts without the server's HTTP client
    from infra.prefect_server import LocalPrefectServer, free_port, port_in_use

    if settings.prefect.api_url:
        export_prefect_env(settings)
        yield settings.prefect.api_url
        return
    every = settings.prefect
    port = every.server_port
    if temporary and port_in_use(every.server_host, port):
        port = free_port(every.server_host)
        print(
            f"prefect.server_port {every.server_port} is in use: the temporary Prefect "
            f"server takes {port}",
            file=sys.stderr,
            flush=True,
        )
    server = LocalPrefectServer(settings, port=port)
    server.start()
    try:
        export_prefect_env(settings, server.url)
        if temporary:
            where = f"UI at {server.ui_url}" if server.ui_url else f"API at {server.url}"
            print(f"temporary Prefect server: {where}", file=sys.stderr, flush=True)
        yield server.url
    finally:
        _send_what_prefect_holds()
        server.stop()


def _send_what_prefect_holds(timeout_s: float = 10.0) -> None:
    """Let Prefect's client send the logs and events it still queues while its server
    answers: at the interpreter's exit it would wait on a stopped server, a minute and
    more."""
    if "prefect" not in sys.modules:
        return
    # lazy: loaded only by a command whose flows already loaded Prefect
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=timeout_s)
    EventsWorker.drain_all(timeout=timeout_s)


def run(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    settings = get_settings()
    require_private_pii_key(settings)  # before any server or flow starts
    with prefect_api(settings) as api_url:
        every = settings.prefect
        print(f"Prefect server: {api_url}", flush=True)
        if every.ui and not every.api_url:
            print(f"Prefect UI: {api_url.removesuffix('/api')}", flush=True)
        print(
            f"serving: ingest every {every.ingest_every_s} s, refresh every "
            f"{every.refresh_every_s} s, report every {every.report_every_s} s (Ctrl-C stops)",
            flush=True,
        )
        # lazy: Prefect reads its settings when first imported, after prefect_api set them
        from flows.deployments import serve_deployments

        serve_deployments(settings)
    print("serve: stopped", file=sys.stderr, flush=True)
    return 0
