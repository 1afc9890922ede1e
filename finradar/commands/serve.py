"""``finradar serve``: scheduled ingest and refresh on a local (or configured) Prefect server."""

from __future__ import annotations

import argparse
import signal
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
def prefect_api(settings: Settings, temporary: bool = False) -> Iterator[str | None]:
    """Point Prefect at ``prefect.api_url``, else at a local server: with ``temporary``
    the one Prefect starts and stops itself around the flow runs (yields ``None``),
    otherwise one started here on ``prefect.server_port`` and stopped on the way out."""
    # lazy: the CLI starts without the server's HTTP client
    from infra.prefect_server import LocalPrefectServer

    if settings.prefect.api_url or temporary:
        export_prefect_env(settings)
        yield settings.prefect.api_url
        return
    server = LocalPrefectServer(settings)
    server.start()
    try:
        export_prefect_env(settings, server.url)
        yield server.url
    finally:
        server.stop()


def run(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    settings = get_settings()
    require_private_pii_key(settings)  # before any server or flow starts
    with prefect_api(settings) as api_url:
        every = settings.prefect
        print(f"Prefect server: {api_url}", flush=True)
        print(
            f"serving: ingest every {every.ingest_every_s} s, refresh every "
            f"{every.refresh_every_s} s, report every {every.report_every_s} s (Ctrl-C stops)",
            flush=True,
        )
        # lazy: Prefect reads its settings when first imported, after prefect_api set them
        from flows.deployments import serve_deployments

        serve_deployments(settings)
    return 0
