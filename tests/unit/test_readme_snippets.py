"""The README's snippets that query the warehouse run, as written, on a warehouse that was
built in one folder and copied to another (the original removed).

A snippet is tested when its fence is tagged ``test`` (```` ```sql test ````, ```` ```bash
test ````, ```` ```python test ````). They run from a folder holding the copied ``var/`` and
a link ``.venv`` to the project's virtualenv, as from the project folder:

* ``sql`` with an ``attach``: in a plain DuckDB session (no finradar code), statement by
  statement; without one: in a finradar read-only session (``connect``), as "inside any
  session";
* ``bash``: each command line in a shell, which must exit 0 with nothing on stderr;
* ``python``: in a fresh interpreter.

The example values that cannot hold for every warehouse, ``--as-of 12`` and ``--as-of
<time>``, are replaced by the copy's first refresh snapshot and its time; the interactive
``finradar sql`` reads its statements from stdin (no terminal here).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from contracts.corpus import seed_corpus
from contracts.spec import contracts
from finradar.settings import load_settings
from handoff.records import KafkaRecord, PartitionRange
from pipelines.checking import check_batch
from pipelines.normalise import Normaliser, stage_batch
from warehouse.lake import connect
from warehouse.landing import land
from warehouse.refresh import refresh

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(sql|bash|python) test\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXAMPLE_TIME = "2026-11-26T08:00:00+00:00"
EXAMPLE_SNAPSHOT = "--as-of 12 "
NOW = datetime(2026, 11, 26, tzinfo=UTC)
# quarantined: not JSON, and not UTF-8
BAD = [b'{"event_id": "x", oops}', b'{"event_id": "caf\xe9 \xff"}']


@dataclass(frozen=True)
class Copy:
    folder: Path  # where the snippets run: var/ and .venv
    refreshed: int  # the snapshot of the first refresh
    refreshed_at: datetime  # its time

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FINRADAR_VAR_DIR": str(self.folder / "var"),
            "PYTHONPATH": str(ROOT),
            "PYTHONIOENCODING": "utf-8",
        }

    def run(
        self,
        args: str | list[str],
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``args`` (a shell command line when a string) in the copy's folder, ``stdin`` as
        its input (none: nothing to read)."""
        return subprocess.run(
            args,
            shell=isinstance(args, str),
            cwd=self.folder,
            env=self.env if env is None else env,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
        )


def snippets(kind: str) -> list[str]:
    found = [body for k, body in FENCE.findall(README.read_text(encoding="utf-8")) if k == kind]
    assert found, f"the README has no ```{kind} test snippet"
    return found


def _build(var: Path, staging: Path) -> None:
    """A warehouse from the seed corpus and two bad messages, refreshed."""
    settings = load_settings(var_dir=var)
    by_topic: dict[str, list[bytes]] = {}
    for event in seed_corpus():
        topic = contracts()[event["event_type"]].topic
        by_topic.setdefault(topic, []).append(json.dumps(event, ensure_ascii=False).encode())
    spend_topic = contracts()["spend_disclosure"].topic
    by_topic[spend_topic] += BAD
    records = [
        KafkaRecord(topic, 0, i, 0, b"k", value)
        for topic, values in by_topic.items()
        for i, value in enumerate(values)
    ]
    plan = [PartitionRange(t, 0, 0, len(v)) for t, v in by_topic.items()]
    staged = stage_batch(Normaliser("readme-1", NOW, b"key"), check_batch(records, NOW), staging)
    con = connect(settings)
    try:
        land(con, "readme-1", plan, staged, NOW, "test")
    finally:
        con.close()
    refresh(settings)


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Copy:
    built = tmp_path_factory.mktemp("built")
    _build(built / "var", built / "staging")
    folder = tmp_path_factory.mktemp("copied")
    shutil.copytree(built / "var" / "warehouse", folder / "var" / "warehouse")
    shutil.rmtree(built)  # nothing may still read the original
    (folder / ".venv").symlink_to(ROOT / ".venv")
    con = connect(load_settings(var_dir=folder / "var"), read_only=True)
    try:
        refreshed, refreshed_at = con.execute(
            "select snapshot_id, snapshot_time from lake.snapshots() "
            "where commit_message like 'refresh %'"
        ).fetchone()
    finally:
        con.close()
    return Copy(folder, refreshed, refreshed_at)


def test_plain_duckdb_attaches_the_copy_offline(copy: Copy) -> None:
    """With autoinstall off, as offline: only the README's ``load`` lines bring the extensions."""
    (plain,) = [s for s in snippets("sql") if "attach" in s]
    script = (
        "import sys, duckdb\n"
        "con = duckdb.connect(config={'autoinstall_known_extensions': 'false',"
        " 'autoload_known_extensions': 'false'})\n"
        "rel = None\n"
        "for statement in con.extract_statements(sys.stdin.read()):\n"
        "    rel = con.sql(statement)\n"
        "print(len(rel.fetchall()))\n"
        # what lives in the copied data files, read through the same attach
        "print(con.sql('select count(*) from raw.spend_disclosures').fetchone()[0])\n"
        "print(con.sql('select count(*) from quarantine.events').fetchone()[0])\n"
    )
    done = copy.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", script],
        stdin=plain,
        env={k: v for k, v in copy.env.items() if k != "PYTHONPATH"},  # no finradar code
    )
    assert done.returncode == 0, done.stderr
    rows, spend, quarantined = map(int, done.stdout.split())
    assert rows > 0 and spend > 0 and quarantined == len(BAD)


def test_sql_snippets_run_in_a_session(copy: Copy) -> None:
    con = connect(load_settings(var_dir=copy.folder / "var"), read_only=True)
    try:
        for snippet in snippets("sql"):
            if "attach" not in snippet:
                con.sql(snippet).fetchall()
    finally:
        con.close()


def _commands(snippet: str) -> list[str]:
    lines = [line for line in snippet.splitlines() if line.strip()]
    assert all(line.startswith(".venv/bin/finradar ") for line in lines), lines
    return lines


def test_shell_snippets_run(copy: Copy) -> None:
    commands = [c for snippet in snippets("bash") for c in _commands(snippet)]
    assert any(EXAMPLE_TIME in c for c in commands)
    assert any(EXAMPLE_SNAPSHOT in c for c in commands)
    for command in commands:
        command = command.replace(EXAMPLE_TIME, copy.refreshed_at.isoformat())
        command = command.replace(EXAMPLE_SNAPSHOT, f"--as-of {copy.refreshed} ")
        interactive = "# interactive" in command
        done = copy.run(
            command, stdin="select count(*) from marts.spend_series;\n" if interactive else None
        )
        assert done.returncode == 0 and not done.stderr.strip(), (command, done.stderr)
    assert (copy.folder / "series.csv").read_text(encoding="utf-8").startswith("entity_id,")


def test_the_snapshots_snippet_names_the_commits(copy: Copy) -> None:
    (command,) = [c for s in snippets("bash") for c in _commands(s) if "snapshots()" in c]
    done = copy.run(command.replace("limit 5", "") + " --format json")
    messages = [row["commit_message"] for row in json.loads(done.stdout)]
    assert "ingest readme-1" in messages
    assert any(m and m.startswith("refresh refresh-") for m in messages)


def test_python_snippets_run(copy: Copy) -> None:
    for snippet in snippets("python"):
        done = copy.run([sys.executable, "-c", snippet])
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()


def test_a_writer_attaches_the_copy_too(copy: Copy, tmp_path: Path) -> None:
    """A refresh (a writing session) on a copy of the copy: the catalog's stored data path
    is neither folder."""
    again = tmp_path / "var"
    shutil.copytree(copy.folder / "var" / "warehouse", again / "warehouse")
    settings = load_settings(var_dir=again)
    summary = refresh(settings, full=True)
    con = connect(settings, read_only=True)
    try:
        assert con.execute("select count(*) from raw.spend_disclosures").fetchone()[0] > 0
        assert con.execute(
            "select count(*) from ops.refresh_runs where refresh_id = ?", [summary.refresh_id]
        ).fetchone() == (1,)
    finally:
        con.close()


def test_the_plain_duckdb_snippet_needs_its_loads() -> None:
    """Without the ``load`` lines and offline, the attach fails: the loads are what it needs."""
    (plain,) = [s for s in snippets("sql") if "attach" in s]
    assert plain.lstrip().startswith("load '.venv/")
    con = duckdb.connect(
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    )
    try:
        attach = next(s for s in con.extract_statements(plain) if "attach" in s.query.lower())
        with pytest.raises(duckdb.Error):
            con.execute(attach.query)
    finally:
        con.close()


def test_the_model_header_lines_shown_are_the_models_own() -> None:
    """The README's example header lines (Model tests and lineage) are lines of the models."""
    block = README.read_text(encoding="utf-8").split("```text\n-- grain:", 1)[1]
    shown = ("-- grain:" + block.split("```", 1)[0]).splitlines()
    model_lines = {
        line.strip()
        for path in (ROOT / "warehouse" / "models").rglob("*.sql")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    assert len(shown) >= 4
    assert [line for line in shown if line.strip() not in model_lines] == []
