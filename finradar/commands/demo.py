"""``finradar demo``: the main job end to end on this machine."""

from __future__ import annotations

import argparse
import sys
import time

from finradar.commands.serve import prefect_api
from finradar.settings import (
    Settings,
    allow_default_pii_key_here,
    get_settings,
    use_environment_here,
)

DEMO_SYNTHETIC = 20_000
DEMO_BAD_RATE = 0.02
DEMO_SEED = 2025


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="start Kafka, publish the seed corpus and a synthetic stream, ingest, refresh",
        description="Start the local broker, publish the seed reference corpus and "
        f"{DEMO_SYNTHETIC:,} synthetic events ({DEMO_BAD_RATE:.0%} bad records), run one "
        "ingest pass into the warehouse, refresh the marts and reconciliation checks, and "
        "summarise what landed, what was quarantined and what the checks found. "
        "Kafka keeps running afterwards.",
    )
    p.add_argument("--stop-kafka", action="store_true", help="stop the broker at the end")
    p.add_argument(
        "--shared",
        action="store_true",
        help="the same job on a shared warehouse: DuckLake's catalog in Postgres and its data "
        "in an S3-compatible store, the local stand-ins (finradar infra up --postgres "
        "--object-store) unless warehouse.catalog and warehouse.data_path name others",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without Kafka's client and the warehouse's modules
    from infra.broker import LocalBroker
    from infra.producing import corpus_messages, publish, publish_synthetic
    from infra.topics import ensure_topics

    settings = get_settings()
    stand_ins = ""
    if args.shared:
        settings, stand_ins = _on_shared_warehouse(settings)
    if settings.uses_default_pii_key and not settings.ingest.allow_default_pii_key:
        print(
            "WARNING: this demo hashes personal data with the PUBLIC default key "
            "(ingest.allow_default_pii_key = true for this run only). Set your own "
            "FINRADAR_INGEST__PII_HASH_KEY before ingesting real data: see docs/security.md.",
            file=sys.stderr,
        )
        settings = allow_default_pii_key_here()
    broker = LocalBroker(settings)
    t0 = time.monotonic()
    print(broker.up().line())
    print(f"  ready in {time.monotonic() - t0:.1f} s")
    ensure_topics(settings.kafka)
    report = publish(corpus_messages(), settings.kafka)
    print(f"seed corpus: {report.line()}")
    report = publish_synthetic(DEMO_SYNTHETIC, DEMO_BAD_RATE, DEMO_SEED, settings.kafka)
    print(f"synthetic:   {report.line()}")
    # Prefect keeps its state under var/prefect; without prefect.api_url the flows run on a
    # local server started for the demo (on prefect.server_port when it is free)
    with prefect_api(settings, temporary=True):
        _run_flows(settings, stand_ins)
    if args.stop_kafka:
        print(broker.down().line())
    else:
        print("Kafka keeps running; stop it with: .venv/bin/finradar infra down")
    return 0


def _on_shared_warehouse(settings: Settings) -> tuple[Settings, str]:
    """This process's settings pointed at a shared warehouse: the ones configured, or the
    local stand-ins, started now (their settings go to the environment, for the flows);
    and the ``finradar infra env`` flags of the stand-ins it started."""
    # lazy: the CLI starts without the stand-ins' and the warehouse's modules
    from infra.object_store import LocalObjectStore
    from infra.postgres import LocalPostgres
    from warehouse.lake import forget_catalog_without_data

    env: dict[str, str] = {}
    flags = []
    if not settings.catalog_is_postgres:
        postgres = LocalPostgres(settings)
        print(postgres.up().line())
        env.update(postgres.client_environment())
        flags.append("--postgres")
    if not settings.data_in_object_store:
        store = LocalObjectStore(settings)
        print(store.up().line())
        env.update(store.client_environment())
        flags.append("--object-store")
    settings = use_environment_here(env)
    if forget_catalog_without_data(settings):
        print("the object store started empty: the shared catalog starts again")
    return settings, " ".join(flags)


def _run_flows(settings: Settings, stand_ins: str = "") -> None:
    """Ingest, refresh and report as Prefect flows, and say what they did (``stand_ins``:
    the ``finradar infra env`` flags a shell needs to query the warehouse)."""
    # lazy: Prefect reads its settings when first imported, after prefect_api set them
    from flows.ingest import ingest
    from flows.refresh import refresh
    from flows.report import report as report_flow

    summary = ingest()
    print(
        f"ingest {summary['batch_id']} (Prefect flow): consumed {summary['consumed']}, "
        f"landed {summary['landed']}, duplicates {summary['duplicates']}, quarantined "
        f"{summary['quarantined']} in {summary['seconds']:.1f} s, lag after {summary['lag']}"
    )
    for reason, count in sorted(summary["by_reason"].items(), key=lambda kv: -kv[1]):
        print(f"  quarantined {count:>6} {reason}")
    refreshed = refresh()
    print(
        f"refresh (Prefect flow): rebuilt {len(refreshed['rebuilt'])} relations in "
        f"{refreshed['seconds']:.1f} s; {refreshed['findings']} findings"
    )
    for rule, count in sorted(refreshed["findings_by_rule"].items()):
        print(f"  finding {count:>6} {rule}")
    _headlines(settings)
    print(f"warehouse: {settings.warehouse_name} (DuckLake; data in {settings.data_location})")
    if stand_ins:
        print(f'settings:  eval "$(.venv/bin/finradar infra env {stand_ins})" first')
    print('query it:  .venv/bin/finradar sql "select * from marts.spend_group_rollup"')
    print("           .venv/bin/finradar sql    (interactive; the README shows more)")
    print(f"report:    {report_flow()} (offline; open it in a browser)")
    print(f"Data Docs: {settings.gx_dir / 'gx/uncommitted/data_docs/local_site/index.html'}")


def _headlines(settings: Settings) -> None:
    """Three figures the seed reports print, as the marts now compute them."""
    # lazy: the CLI starts without DuckDB
    from warehouse.lake import connect

    con = connect(settings, read_only=True)
    try:
        rollup = con.execute(
            "select members_total_yi, scopes_mixed from marts.spend_group_rollup "
            "where group_id = 'cn.group.six_state_owned_banks' and fiscal_period = '2019' "
            "and status = 'actual' and currency = 'CNY'"
        ).fetchone()
        share = con.execute(
            "select frontier_share from marts.spend_frontier_share "
            "where entity_id = 'cn.industry.all_fi' and fiscal_period = '2018'"
        ).fetchone()
        leaders = con.execute(
            "select count(*) filter (where cluster = 'leaders'), count(*) "
            "from marts.capability_maturity where cluster is not null"
        ).fetchone()
    finally:
        con.close()
    if rollup:
        mixed = " (mixed scopes: flagged)" if rollup[1] else ""
        print(f"  six large state-owned banks, 2019 tech spend: {rollup[0]:.2f} 亿{mixed}")
    if share:
        print(f"  frontier-tech share of all FI tech spend, 2018: {share[0]:.1%}")
    if leaders:
        print(f"  capabilities where most institutions are late: {leaders[0]} of {leaders[1]}")
