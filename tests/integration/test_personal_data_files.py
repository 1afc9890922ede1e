"""No personal data in clear in any file finradar writes.

A broker of its own carries the seed corpus, a synthetic stream (with its own class of
personal data) and messages with personal data in escaped and unusual places
(``tests/fixtures/personal_data.py``: entity ids and message keys, ``source.locator``,
nested and undeclared fields, survey answers, ``\\u0040`` and every character escaped,
mixed case, full width, percent-encoding, phone numbers, an invalid message whose reason
would quote the value, messages that do not decode). The ingest (on two Beam worker
processes), refresh and report flows run through a Prefect server; then every file under
``var/`` and Prefect's state is read (Parquet through pyarrow, SQLite databases table by
table, and each file's raw bytes as UTF-8 and UTF-16, in every form a value takes once
decoded) and none may hold any injected address, its local part, or phone number.

The broker's own log segments (``var/kafka/data``) hold the messages as producers sent
them: that is the input, not something finradar writes; the test reads them only to show
the scan finds what is there.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.corpus import seed_corpus
from finradar.settings import Settings, get_settings, load_settings
from infra.producing import corpus_messages, publish, publish_synthetic
from tests.fixtures.personal_data import found_in, personal_messages

pytestmark = pytest.mark.integration

KAFKA = {"port": 29792, "controller_port": 29793}
SYNTHETIC = 2_000


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from infra.broker import LocalBroker

    settings = load_settings(var_dir=tmp_path_factory.mktemp("personal") / "var", kafka=KAFKA)
    local = LocalBroker(settings)
    local.up()
    publish(corpus_messages(), settings.kafka)
    publish_synthetic(SYNTHETIC, 0.05, 17, settings.kafka, workers=1)
    publish(personal_messages(), settings.kafka)
    yield settings
    local.down(purge=True)


@pytest.fixture(scope="module")
def passes(prefect_server: None, broker: Settings) -> Iterator[dict[str, Any]]:
    """ingest → refresh → report through Prefect; the ingest on two worker processes."""
    import prefect.settings

    from flows.ingest import ingest
    from flows.refresh import refresh
    from flows.report import report

    database = prefect.settings.PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("FINRADAR_VAR_DIR", str(broker.var))
        monkeypatch.setenv("FINRADAR_KAFKA__PORT", str(KAFKA["port"]))
        monkeypatch.setenv("FINRADAR_KAFKA__CONTROLLER_PORT", str(KAFKA["controller_port"]))
        monkeypatch.setenv("FINRADAR_BEAM__PARALLEL_FROM", "1000")
        get_settings.cache_clear()
        try:
            yield {
                "ingest": ingest(),
                "refresh": refresh(),
                "report": Path(report()),
                "prefect": [
                    Path(os.environ["PREFECT_HOME"]),
                    Path(database.split(":///", 1)[1]).parent,
                ],
            }
        finally:
            get_settings.cache_clear()


def _texts(path: Path) -> Iterator[str]:
    """What a file holds as text: its bytes as UTF-8 and, when they hold NUL bytes, as
    UTF-16 (both byte orders and alignments); a Parquet file's data, a SQLite database's
    rows (pages its raw bytes may not show whole)."""
    raw = path.read_bytes()
    # Kafka preallocates its index files (10 MB of NULs): the text ends where they start
    # (four bytes more keep a final UTF-16 character whole in both alignments)
    raw = raw[: len(raw.rstrip(b"\x00")) + 4]
    yield raw.decode("utf-8", "replace")
    if b"\x00" in raw:
        for start in (0, 1):
            for encoding in ("utf-16-le", "utf-16-be"):
                yield raw[start:].decode(encoding, "replace")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield _as_text(pq.read_table(path).to_pylist())
    elif raw.startswith(b"SQLite format 3\x00"):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            query = "select name from sqlite_master where type = 'table'"
            for (table,) in con.execute(query).fetchall():
                yield _as_text(con.execute(f'select * from "{table}"').fetchall())
        finally:
            con.close()


def _as_text(value: Any) -> str:
    def text(v: Any) -> Any:
        return v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray | memoryview) else v

    return json.dumps(value, default=lambda v: str(text(v)), ensure_ascii=False)


def _files(roots: list[Path], skip: Path | None = None) -> list[Path]:
    return sorted(
        p
        for root in roots
        for p in root.rglob("*")
        if p.is_file() and (skip is None or skip not in p.parents)
    )


def _leaks(files: list[Path]) -> dict[str, list[str]]:
    leaks: dict[str, list[str]] = {}
    for path in files:
        found = sorted({n for text in _texts(path) for n in found_in(text)})
        if found:
            leaks[str(path)] = found
    return leaks


def test_the_personal_messages_reached_every_table(passes, broker: Settings) -> None:
    """The scan below is not empty-handed: the messages landed (hashed) or were
    quarantined (redacted), and the flows wrote what they write."""
    from warehouse.lake import connect

    summary = passes["ingest"]
    assert summary["consumed"] == len(seed_corpus()) + SYNTHETIC + len(personal_messages())
    con = connect(broker, read_only=True)
    try:
        landed = con.execute(
            "select count(*) from raw.spend_disclosures where entity_id like 'hmac-sha256:%' "
            "or source_locator like 'hmac-sha256:%' or message_key like 'hmac-sha256:%'"
        ).fetchone()
        assert landed == (4,)
        assert (
            con.execute(
                "select count(*) from raw.survey_answers where entity_id like 'hmac-sha256:%'"
            ).fetchone()[0]
            > 0
        )
        assert (
            con.execute(
                "select count(*) from quarantine.events where redacted and event_id like 'pii-%' "
                "or reason_code = 'event_id_conflict' and event_id like 'hmac-sha256:%'"
            ).fetchone()[0]
            >= 3
        )
    finally:
        con.close()
    # the pass ran on worker processes, the report and Prefect's state were written
    files = _files([broker.var], skip=broker.var / "kafka" / "data")
    for table in ("raw", "quarantine", "ops", "marts"):
        assert any(p.suffix == ".parquet" for p in (broker.data_path / table).rglob("*"))
    assert any("validations" in p.parts and p.suffix == ".json" for p in files)
    assert any("data_docs" in p.parts and p.suffix == ".html" for p in files)
    assert {broker.catalog_path, broker.beam_worker_log, passes["report"]} <= set(files)
    assert any(p.suffix == ".db" for p in _files(passes["prefect"]))  # Prefect's state


def test_the_scan_finds_personal_data_where_it_is(passes, broker: Settings) -> None:
    """The broker's log segments hold the messages as sent: the scan finds them there."""
    found = _leaks(_files([broker.var / "kafka" / "data"]))
    assert {n for names in found.values() for n in names} >= {
        "qiu.zhiyuan-pii1@bank-example.cn",
        "13647261954",
        "ke.mingyu.pii2@bank-example.cn",
    }


def test_no_file_finradar_writes_holds_personal_data(passes, broker: Settings) -> None:
    files = _files([broker.var, *passes["prefect"]], skip=broker.var / "kafka" / "data")
    assert len(files) > 50
    assert _leaks(files) == {}
