"""``finradar serve``: scheduled ingest and refresh on a local (or configured) Prefect server."""

from __future__ import annotations

import argparse


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
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def run(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    from finradar.settings import export_prefect_env, get_settings
    from infra.prefect_server import LocalPrefectServer

    settings = get_settings()
    server = None
    if settings.prefect.api_url:
        api_url = settings.prefect.api_url
    else:
        server = LocalPrefectServer(settings)
        server.start()
        api_url = server.url
    export_prefect_env(settings, api_url)
    every = settings.prefect
    print(f"Prefect server: {api_url}", flush=True)
    print(
        f"serving: ingest every {every.ingest_every_s} s, refresh every {every.refresh_every_s} s,"
        f" report every {every.report_every_s} s (Ctrl-C stops)",
        flush=True,
    )
    from flows.deployments import serve_deployments

    try:
        serve_deployments(settings)
    finally:
        if server:
            server.stop()
    return 0
