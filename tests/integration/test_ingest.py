"""The ingest pass on a real broker and a real DuckLake: accounting, quarantine, crashes.

A broker of its own (other ports, its own var/) keeps these tests independent of whatever
the project's broker holds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from pathlib import Path

import pytest

from contracts.corpus import seed_corpus
from contracts.spec import contracts
from contracts.synthetic import Message, SyntheticStream
from contracts.topics import load_topics
from finradar.settings import Settings, load_settings
from infra.producing import corpus_messages, publish, publish_synthetic
from pipelines.ingest import run_once
from warehouse.lake import connect

pytestmark = pytest.mark.integration

# every bad class ~50 times over (it was 200,000, then 100,000: the suite must fit 15 min)
N_SYNTHETIC = 30_000
BAD_RATE = 0.02
SEED = 42
KAFKA = {"port": 29092, "controller_port": 29093}
RAW_TABLES = tuple(f"raw.{c.table}" for c in contracts().values())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """An own broker with the corpus and 30,000 synthetic events (2% bad) on its topics."""
    from infra.broker import LocalBroker

    var = tmp_path_factory.mktemp("ingest") / "var"
    settings = load_settings(var_dir=var, kafka=KAFKA)
    broker = LocalBroker(settings)
    broker.up()
    publish(corpus_messages(), settings.kafka)
    publish_synthetic(N_SYNTHETIC, BAD_RATE, SEED, settings.kafka)
    yield settings
    broker.down(purge=True)


def _warehouse(settings: Settings, name: str) -> Settings:
    return load_settings(var_dir=settings.var.parent / name, kafka=KAFKA)


def contents(settings: Settings) -> dict[str, list[tuple]]:
    """Everything landed, without run-specific columns (batch ids, landing times)."""
    con = connect(settings, read_only=True)
    try:
        out = {}
        for table in RAW_TABLES:
            out[table] = con.execute(
                f"select * exclude (batch_id, ingested_at) from {table} order by all"
            ).fetchall()
        out["raw.survey_answers"] = con.execute(
            "select * exclude (batch_id) from raw.survey_answers order by all"
        ).fetchall()
        out["quarantine"] = con.execute(
            "select * exclude (batch_id, quarantined_at) from quarantine.events order by all"
        ).fetchall()
        out["offsets"] = con.execute(
            "select kafka_topic, kafka_partition, next_offset from ops.kafka_offsets order by all"
        ).fetchall()
        out["duplicates"] = con.execute(
            "select * exclude (batch_id) from ops.duplicate_events order by all"
        ).fetchall()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def stream() -> list[Message]:
    """The synthetic messages ``stack`` published, with what each should become (generated
    once: 30,000 events take seconds)."""
    return list(SyntheticStream(N_SYNTHETIC, BAD_RATE, SEED))


@pytest.fixture(scope="module")
def reference(stack: Settings):
    """An undisturbed ingest of everything, and its summary."""
    settings = _warehouse(stack, "reference")
    summary = run_once(settings)
    return settings, summary


def test_accounting_invariant_per_partition(stack, reference):
    settings, summary = reference
    assert summary.consumed == len(seed_corpus()) + N_SYNTHETIC
    con = connect(settings, read_only=True)
    rows = con.execute(
        """
        select p.kafka_topic, p.kafka_partition, sum(consumed), sum(landed), sum(duplicates),
               sum(quarantined), max(o.next_offset),
               (select count(*) from quarantine.events q where q.kafka_topic = p.kafka_topic
                 and q.kafka_partition = p.kafka_partition),
               (select count(*) from ops.duplicate_events d where d.kafka_topic = p.kafka_topic
                 and d.kafka_partition = p.kafka_partition),
               (select count(*) from ops.landed_events l where l.kafka_topic = p.kafka_topic
                 and l.kafka_partition = p.kafka_partition)
        from ops.partition_batches p join ops.kafka_offsets o using (kafka_topic, kafka_partition)
        group by all
        """
    ).fetchall()
    assert len(rows) == sum(t.partitions for t in load_topics())
    for topic, partition, consumed, landed, dups, quarantined, next_offset, q, d, lnd in rows:
        assert consumed == landed + dups + quarantined == next_offset, (topic, partition)
        assert (q, d, lnd) == (quarantined, dups, landed)
    raw_total = sum(con.execute(f"select count(*) from {t}").fetchone()[0] for t in RAW_TABLES)
    assert raw_total == summary.landed


def test_every_bad_record_is_quarantined_with_its_reason_and_bytes(stack, reference, stream):
    settings, summary = reference
    con = connect(settings, read_only=True)
    quarantined = {
        sha: (code, value, redacted)
        for sha, code, value, redacted in con.execute(
            "select raw_sha256, reason_code, raw_value, redacted from quarantine.events"
        ).fetchall()
    }
    expected = Counter()
    key = settings.ingest.pii_hash_key.get_secret_value().encode()
    for m in stream:
        if m.expected != "quarantine":
            continue
        sha = hashlib.sha256(m.value).hexdigest()
        if sha not in quarantined:  # bytes that held personal data: their keyed hash
            sha = "hmac-sha256:" + hmac.new(key, m.value, hashlib.sha256).hexdigest()
            assert quarantined[sha][2], "a keyed hash is for redacted bytes only"
        code, value, redacted = quarantined[sha]
        assert code == m.expected_reason, m.bad_class
        if redacted:
            assert m.bad_class == "personal_data" and b"@bank.example.cn" not in value
        else:
            assert value == m.value
        expected[m.expected_reason] += 1
    assert Counter(summary.by_reason) == expected


def test_duplicates_are_counted_once(stack, reference, stream):
    settings, summary = reference
    duplicates = sum(1 for m in stream if m.bad_class == "duplicate_id")
    assert summary.duplicates == duplicates
    con = connect(settings, read_only=True)
    assert con.execute(
        "select count(*) - count(distinct event_id) from ops.landed_events"
    ).fetchone() == (0,)


def test_second_pass_lands_nothing_new(stack, reference):
    settings, _ = reference
    before = contents(settings)
    again = run_once(settings)
    assert (again.consumed, again.landed, again.quarantined) == (0, 0, 0)
    assert contents(settings) == before


def test_personal_data_never_lands_in_clear(stack, reference):
    settings, _ = reference
    con = connect(settings, read_only=True)
    for table in ("raw.survey_responses", "quarantine.events"):
        hits = con.execute(
            f"select count(*) from {table} where "
            f"regexp_matches(cast({'raw_json' if table.startswith('raw') else 'raw_value'}"
            " as varchar), '[A-Za-z0-9._%+-]+@bank\\.example\\.cn')"
        ).fetchone()[0]
        assert hits == 0, table


def test_validation_results_and_data_docs(stack, reference):
    settings, summary = reference
    con = connect(settings, read_only=True)
    runs = con.execute(
        "select contract, rows_checked, rows_failed, expectations, success, report_path "
        "from dq.validation_runs where batch_id = ? order by contract",
        [summary.batch_id],
    ).fetchall()
    assert [r[0] for r in runs] == sorted(contracts())
    checked = sum(r[1] for r in runs)
    # every record that passed the contract check went through its suite
    conflicts = summary.by_reason.get("event_id_conflict", 0)
    assert checked == summary.landed + summary.duplicates + conflicts
    assert all(r[3] >= 10 for r in runs)
    report = Path(runs[0][5])
    assert report.name == "index.html" and report.is_file()
    # the Data Docs load their styling and scripts from the site itself, nothing remote
    pages = list(report.parent.rglob("*.html"))
    assert len(pages) > 3
    remote = re.compile(r"""(<script[^>]+src|<link[^>]+href|<img[^>]+src)="https?://""")
    assert not [p for p in pages if remote.search(p.read_text("utf-8"))]
    assert (report.parent / "static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css").is_file()
    results = con.execute(
        "select count(*), count(distinct contract) from dq.expectation_results where batch_id = ?",
        [summary.batch_id],
    ).fetchone()
    assert results[0] >= sum(r[3] for r in runs) and results[1] == len(contracts())


def test_data_docs_list_each_validation_under_its_batch_id(stack, reference):
    settings, summary = reference
    validations = settings.gx_dir / "gx" / "uncommitted" / "validations"
    # <suite>/v1/<run name>/<run time>/<batch>.json
    run_names = {p.parent.parent.name for p in validations.rglob("*.json")}
    assert run_names == {summary.batch_id}
    index = (settings.gx_dir / "gx/uncommitted/data_docs/local_site/index.html").read_text()
    assert summary.batch_id in index and "__none__" not in index


def test_the_reports_pass_rate_is_landed_over_consumed_counting_every_rejection(stack, reference):
    """The report's pass rate per batch is landed ÷ consumed of that batch as the ingest
    accounted it: contract rejections (before GX) count as much as GX's."""
    from warehouse.refresh import refresh
    from warehouse.report.build import ReportInputs, render

    settings, summary = reference
    refresh(settings)
    con = connect(settings, read_only=True)
    try:
        html = render(con, ReportInputs(lag=[]))
        accounted = con.execute(
            "select batch_id, consumed, landed, duplicates, quarantined from ops.ingest_runs "
            "where consumed > 0"
        ).fetchall()
        rates = con.execute(
            "select batch_id, pass_rate, quarantine_rate, rejected_by_contract, rejected_by_gx, "
            "rejected_in_staging, rejected_at_landing from dq.batch_pass_rate"
        ).fetchall()
        by_reason = dict(
            con.execute(
                "select reason_code, sum(messages) from dq.batch_quality "
                "where outcome = 'quarantined' group by all"
            ).fetchall()
        )
        outcomes = con.execute(
            "select batch_id, sum(messages), any_value(consumed) from dq.batch_quality group by all"
        ).fetchall()
        gx_failed = con.execute("select sum(rows_failed) from dq.validation_runs").fetchone()[0]
    finally:
        con.close()
    # the ingest's own figures: one batch, its rejections mostly the contract's
    assert accounted == [
        (
            summary.batch_id,
            summary.consumed,
            summary.landed,
            summary.duplicates,
            summary.quarantined,
        )
    ]
    assert summary.quarantined > 0 and summary.duplicates > 0
    ((batch, pass_rate, quarantine_rate, contract, gx, staging, landing),) = rates
    assert batch == summary.batch_id
    assert pass_rate == summary.landed / summary.consumed
    assert quarantine_rate == summary.quarantined / summary.consumed
    assert contract + gx + staging + landing == summary.quarantined
    assert contract > 0 and gx == gx_failed
    assert landing == summary.by_reason.get("event_id_conflict", 0)
    assert by_reason == summary.by_reason
    assert outcomes == [(summary.batch_id, summary.consumed, summary.consumed)]
    chart = re.search(r'data-chart="batch-pass-rate".*?</figure>', html, re.S).group(0)
    shown = re.findall(r"<title>([^<:]+): ([\d.]+)%</title>", chart)
    assert shown == [(summary.batch_id, f"{100 * pass_rate:.1f}")]
    assert (
        f"over these batches {summary.landed:,} of {summary.consumed:,} landed "
        f"({summary.duplicates:,} duplicates)" in chart
    )
    trend = re.search(r'data-chart="quarantine-rate-trend".*?</figure>', html, re.S).group(0)
    assert re.findall(r"<title>([^<:]+): ([\d.]+)%</title>", trend) == [
        (summary.batch_id, f"{100 * quarantine_rate:.1f}")
    ]


def test_unit_scale_errors_are_flagged_and_nothing_else(stack, reference, stream):
    """The synthetic stream's 万-written-as-亿 figures land (they are valid on the wire) and
    the refresh's scale_outlier check names each of them, and no other figure."""
    from warehouse.refresh import refresh

    settings, _ = reference
    refresh(settings)
    slipped = {m.event_id for m in stream if m.bad_class == "unit_scale_error"}
    assert slipped
    con = connect(settings, read_only=True)
    flagged = {
        event_id
        for (ids,) in con.execute(
            "select event_ids from dq.findings where rule_id = 'scale_outlier'"
        ).fetchall()
        for event_id in ids
    }
    # a pair of figures is flagged together: the slipped one and its only neighbour
    assert slipped <= flagged
    pairs = con.execute(
        "select count(*) from dq.findings where rule_id = 'scale_outlier' and len(event_ids) = 2"
    ).fetchone()[0]
    assert len(flagged - slipped) <= pairs


def test_a_lag_check_beside_follow_leaves_follow_clients_closable(stack: Settings) -> None:
    """A one-off plan (a lag check) in a process whose ``follow`` keeps a Kafka client open
    must not orphan that client: closing follow's clients ends every Kafka thread."""
    import threading

    from pipelines.planning import close_shared_clients, plan_ranges

    def kafka_threads() -> int:
        return sum(t.name.startswith("kafka") for t in threading.enumerate())

    settings = _warehouse(stack, "lag-beside-follow")
    before = kafka_threads()
    plan_ranges(settings, shared=True)
    plan_ranges(settings)
    plan_ranges(settings, shared=True)
    close_shared_clients()
    assert kafka_threads() == before


def test_synthetic_events_are_marked_synthetic_in_the_marts(stack, reference):
    from warehouse.refresh import refresh

    settings, _ = reference
    refresh(settings)
    con = connect(settings, read_only=True)
    try:
        marked = con.execute(
            "select source_document like 'synthetic %', is_synthetic, count(*) "
            "from marts.spend_series group by all order by all"
        ).fetchall()
    finally:
        con.close()
    assert [(generated, flag) for generated, flag, _ in marked] == [(False, False), (True, True)]


def test_synthetic_institutions_raise_no_copied_figure(stack, reference):
    """The synthetic stream's institutions share one document a year and repeat amounts by
    chance: copied_figure reads segments, industries and groups only (the seeds' C15)."""
    from warehouse.refresh import refresh

    settings, _ = reference
    refresh(settings)
    con = connect(settings, read_only=True)
    try:
        copied = con.execute(
            "select entity_id from dq.findings where rule_id = 'copied_figure'"
        ).fetchall()
    finally:
        con.close()
    assert copied == [("cn.segment.consumer_finance",)]
