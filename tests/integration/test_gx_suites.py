"""The Great Expectations suites derived from the contract, run by real GX on pandas."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime

import pytest

from contracts.checks import decode
from contracts.corpus import seed_corpus
from contracts.spec import contract_for_topic, contracts
from pipelines.gx_runner import SuiteRunner
from tests.fixtures.contract import invalid_fixtures, spec_example

NOW = datetime(2026, 11, 26, tzinfo=UTC)
# Rules a flattened row can show; wrong JSON types and undecodable values are caught before
# GX by the contract check (a frame cannot hold them faithfully).
# rejected before any suite runs (by the strict decode), or beyond what a suite can say
NOT_IN_GX = {
    "oversize",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "wrong_type",
    "nesting_too_deep",
    "duplicate_key",
    "number_out_of_range",
    "invalid_unicode",
}
# the checker's calendar and clock parse; a suite checks the shape of a timestamp only
BEYOND_THE_SUITES = {"timestamp_beyond_9999_in_utc", "hour_24"}


@pytest.fixture(scope="module")
def runner():
    return SuiteRunner()


def test_every_suite_has_expectations_with_reason_codes(runner):
    assert set(runner.suites) == set(contracts()) | {"survey_answer", "survey_answer_option"}
    for name, suite in runner.suites.items():
        assert len(suite.expectations) >= 2, name
        for expectation in suite.expectations:
            assert expectation.meta["reason_code"], (name, expectation)


@pytest.mark.parametrize("event_type", sorted(contracts()))
def test_corpus_passes_its_suites(runner, event_type):
    events = [e for e in seed_corpus() if e["event_type"] == event_type]
    result = runner.validate(event_type, events, now=NOW)
    assert result.failures == {}
    assert all(s.success for s in result.suites)
    assert result.suites[0].rows_checked == len(events)


GX_FIXTURES = [
    f for f in invalid_fixtures() if f[1] not in NOT_IN_GX and f[0] not in BEYOND_THE_SUITES
]


@pytest.mark.parametrize(
    ("name", "code", "topic", "value"), GX_FIXTURES, ids=[f[0] for f in GX_FIXTURES]
)
def test_suite_rejects_fixture_with_its_reason(runner, name, code, topic, value):
    event = decode(value).event
    assert event is not None
    contract = contract_for_topic(topic)
    assert contract is not None
    # a valid row beside the bad one must stay clean (a different event, so another id)
    good = [spec_example()] if contract.event_type == "spend_disclosure" else []
    if good and event.get("event_id") == good[0]["event_id"]:
        event["event_id"] += "-fixture"
    result = runner.validate(contract.event_type, [*good, event], now=NOW)
    bad_row = len(good)
    assert code in {r.code for r in result.failures.get(bad_row, [])}, result.failures
    assert not result.failures.get(0) or bad_row == 0


def test_every_failing_row_is_routed_not_a_sample(runner):
    """More than GX's 200-row partial lists: every bad row comes back."""
    events = []
    for i in range(650):
        e = copy.deepcopy(spec_example())
        e["event_id"] = f"bulk-{i}"
        if i % 2:
            e["payload"]["scope"] = "capex"
        events.append(e)
    result = runner.validate("spend_disclosure", events, now=NOW)
    assert sorted(result.failures) == list(range(1, 650, 2))
    assert {r.code for rs in result.failures.values() for r in rs} == {"unknown_enum"}
    counts = {
        o.column: o.unexpected_count for s in result.suites for o in s.outcomes if not o.success
    }
    assert counts == {"scope": 325}


def _fixtures_by_type() -> dict[str, list]:
    """The decoded GX fixtures (each one a suite rejects), by event type."""
    by_type: dict[str, list] = {}
    for _, _, topic, value in GX_FIXTURES:
        event = decode(value).event
        contract = contract_for_topic(topic)
        assert event is not None and contract is not None
        by_type.setdefault(contract.event_type, []).append(event)
    return by_type


def test_screening_gives_the_same_verdicts(runner):
    """``follow`` asks each suite pass/fail first and for rows only on failure: every
    fixture a suite rejects, mixed with good rows, is rejected the same way, and a clean
    batch passes with no failing rows."""
    by_type = _fixtures_by_type()
    for event_type, bad in sorted(by_type.items()):
        good = [e for e in seed_corpus() if e["event_type"] == event_type][:20]
        events = [*good, *bad]
        full = runner.validate(event_type, events, now=NOW)
        screened = runner.validate(event_type, events, now=NOW, screen=True)
        assert full.failures, event_type
        assert screened.failures == full.failures, event_type
        clean = runner.validate(event_type, good, now=NOW, screen=True)
        assert clean.failures == {} and all(s.success for s in clean.suites)


def test_suites_one_at_a_time_give_the_same_verdicts(runner):
    """``follow``'s validators run a type's suites as separate jobs (``only``): merged in
    the order of ``suites_of``, the failures and suite outcomes are those of one run."""
    from contracts.export.gx_suites import suites_of

    by_type = _fixtures_by_type()
    assert len(suites_of("survey_response")) == 3
    for event_type, bad in sorted(by_type.items()):
        good = [e for e in seed_corpus() if e["event_type"] == event_type][:20]
        events = [*good, *bad]
        whole = runner.validate(event_type, events, now=NOW, screen=True)
        merged: dict[int, list] = {}
        outcomes = []
        for suite in suites_of(event_type):
            part = runner.validate(event_type, events, now=NOW, screen=True, only=suite)
            for row, reasons in part.failures.items():
                merged.setdefault(row, []).extend(reasons)
            outcomes += part.suites
        assert whole.failures and merged == whole.failures, event_type
        assert outcomes == whole.suites, event_type


def test_memoised_configurations_give_gx_own_verdicts(runner, monkeypatch):
    """With each expectation's configuration built once per validation, and each metric's
    id once per content of its arguments (``gx_memo``), every suite gives the failures and
    outcomes GX gives without the memo, also when validations one after another have
    different future-timestamp cutoffs (GX writes the cutoff into the configurations it
    validates with)."""
    import contextlib

    import pipelines.gx_runner as gx_runner

    long_ago = datetime(2000, 1, 1, tzinfo=UTC)  # every event's time is in its future
    by_type = _fixtures_by_type()
    for event_type, bad in sorted(by_type.items()):
        good = [e for e in seed_corpus() if e["event_type"] == event_type][:20]
        events = [*good, *bad]
        runs = [(NOW, False), (long_ago, True), (NOW, True)]
        memoised = [runner.validate(event_type, events, now=n, screen=s) for n, s in runs]
        with monkeypatch.context() as m:
            m.setattr(gx_runner, "memoised_configurations", contextlib.nullcontext)
            own = [runner.validate(event_type, events, now=n, screen=s) for n, s in runs]
        assert own[0].failures != own[1].failures, "the cutoff changes nothing"
        for (now, screen), a, b in zip(runs, memoised, own, strict=True):
            assert a.failures == b.failures, (event_type, now, screen)
            assert a.suites == b.suites, (event_type, now, screen)


def test_the_memo_holds_for_one_validation_and_the_checked_release():
    """GX's own property outside a validation; one configuration per expectation inside;
    installed for the GX release that was checked (a new release fails here until its
    code is read again)."""
    import great_expectations as gx

    from pipelines.gx_memo import CHECKED_VERSION, install, memoised_configurations

    assert gx.__version__ == CHECKED_VERSION and install()
    expectation = gx.expectations.ExpectColumnValuesToNotBeNull(column="event_id")
    assert expectation.configuration is not expectation.configuration
    with memoised_configurations():
        first = expectation.configuration
        assert expectation.configuration is first
        assert (
            first == gx.expectations.ExpectColumnValuesToNotBeNull(column="event_id").configuration
        )
    assert expectation.configuration is not first


def test_metric_ids_are_gx_own_and_apart_for_what_json_writes_apart():
    """Inside a validation ``IDDict.to_id`` gives GX's own id for every content, the memo's
    or not; contents that JSON writes differently never share an id, and arguments the memo
    cannot key (a row condition's object) still get GX's id."""
    from great_expectations.core.id_dict import IDDict
    from great_expectations.expectations.row_conditions import Column

    from pipelines.gx_memo import install, memoised_configurations

    assert install()
    contents = [
        {"column": "a", "value": v, "result_format": {"result_format": "COMPLETE"}}
        for v in [1, 1.0, True, 0.0, -0.0, "1", None, ["a", "b"], ("a", "b"), [1, "a"], [[1]]]
    ] + [
        {"column": "a", "value_set": ["x", "y"]},
        {"column": "a", "row_condition": Column(name="kind") == "single"},
    ]
    own = [IDDict(c).to_id() for c in contents]
    with memoised_configurations():
        memoised = [IDDict(c).to_id() for c in contents]
        again = [IDDict(c).to_id() for c in contents]
    assert memoised == own and again == own
    assert len(set(own[:6])) == 6  # 1, 1.0, true, 0.0, -0.0 and "1" are told apart


def test_data_docs_render_each_new_validation_once_and_keep_the_old(tmp_path):
    """Each build renders the validations stored since the last one (not all of them again)
    and the index lists every validation; pages of earlier builds stay."""
    project = SuiteRunner(project_root=tmp_path)
    events = [e for e in seed_corpus() if e["event_type"] == "spend_disclosure"]
    site = tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site"

    def validation_pages() -> dict[str, float]:
        return {str(p): p.stat().st_mtime_ns for p in (site / "validations").rglob("*.html")}

    project.validate("spend_disclosure", events[:20])
    index = project.build_data_docs()
    first = validation_pages()
    assert index.is_file() and len(first) == 1

    project.validate("spend_disclosure", events[20:40])
    project.validate(
        "deployment_milestone",
        [e for e in seed_corpus() if e["event_type"] == "deployment_milestone"],
    )
    assert len(project.unrendered) == 2
    project.build_data_docs()
    second = validation_pages()
    assert len(second) == 3 and project.unrendered == []
    # the first page was not rendered again
    assert {p: t for p, t in second.items() if p in first} == first
    stored = project.context.validation_results_store.list_keys()
    assert len(stored) == 3
    listed = index.read_text("utf-8")
    assert all(key.batch_identifier in listed for key in stored)


def test_the_data_docs_index_lists_the_latest_validations_and_keeps_older_pages(tmp_path):
    """With ``listed``, the index lists the latest validations only (GX reads each one it
    lists at every build); an older page stays, a build that renders everything renders
    the listed ones only, and the project's stored configuration is left as it was."""
    project = SuiteRunner(project_root=tmp_path)
    configuration = tmp_path / "gx" / "great_expectations.yml"
    written = configuration.read_text()
    events = [e for e in seed_corpus() if e["event_type"] == "spend_disclosure"][:5]
    site = tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site"

    def page_runs() -> set[str]:  # validations/<suite>/v1/<run name>/<run time>/<batch>.html
        return {p.parent.parent.name for p in (site / "validations").rglob("*.html")}

    for run in ("run-1", "run-2", "run-3"):
        project.validate("spend_disclosure", events, now=NOW, run_name=run)
        index = project.build_data_docs(listed=2)
    listed = index.read_text("utf-8")
    assert "run-3" in listed and "run-2" in listed and "run-1" not in listed
    assert page_runs() == {"run-1", "run-2", "run-3"}
    assert configuration.read_text() == written
    shutil.rmtree(site)
    SuiteRunner(project_root=tmp_path).build_data_docs(listed=1)  # it validated nothing
    assert page_runs() == {"run-3"}
    assert "run-3" in index.read_text("utf-8")


def test_a_project_a_killed_process_left_half_written_starts_again(tmp_path):
    """A SIGKILL while GX writes its project leaves a file cut short (a 0-byte suite made
    every later ingest fail); the next start removes and rewrites what it derives."""
    SuiteRunner(project_root=tmp_path)
    gx = tmp_path / "gx"
    (gx / "expectations" / "spend_disclosure" / "v1.json").write_text("")
    (gx / "checkpoints" / "survey_response.v1.json").write_text('{"name": "surv')
    (gx / "expectations" / ".ge_store_backend_id").write_text("store_backend_id = 12")
    config = gx / "great_expectations.yml"
    config.write_text(config.read_text()[:100])
    runner = SuiteRunner(project_root=tmp_path)
    event = spec_example()
    assert runner.validate("spend_disclosure", [event], now=NOW).failures == {}
    assert (gx / "expectations" / "spend_disclosure" / "v1.json").stat().st_size > 0


def test_a_project_written_from_other_suites_is_written_again_whole(tmp_path):
    """A project whose suites came from another contract, catalog or GX release (its
    signature differs) holds every suite, definition and checkpoint already: each is
    written again, not added, and the project validates with the suites of now."""
    SuiteRunner(project_root=tmp_path)
    gx = tmp_path / "gx"
    stored = gx / "expectations" / "spend_disclosure" / "v1.json"
    suite = json.loads(stored.read_text())
    written = len(suite["expectations"])
    suite["expectations"] = suite["expectations"][:1]  # an older suite of one expectation
    stored.write_text(json.dumps(suite))
    (tmp_path / ".finradar-suites.sha256").write_text("an older signature")
    runner = SuiteRunner(project_root=tmp_path)
    assert len(json.loads(stored.read_text())["expectations"]) == written
    event = spec_example()
    assert runner.validate("spend_disclosure", [event], now=NOW).failures == {}
    event["payload"]["amount"] = -1.0
    assert runner.validate("spend_disclosure", [event], now=NOW).failures


def test_a_stored_result_cut_short_does_not_stop_a_full_data_docs_build(tmp_path):
    runner = SuiteRunner(project_root=tmp_path)
    runner.validate("spend_disclosure", [spec_example()], now=NOW)
    index = runner.build_data_docs()
    results = sorted((tmp_path / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert results
    results[0].write_text('{"success": tr')  # a process killed while GX stored it
    index.unlink()  # so the next build renders every stored result
    assert SuiteRunner(project_root=tmp_path).build_data_docs().is_file()
    assert not results[0].exists()


def test_freshness_is_checked_once_a_validation_and_each_validation_again(tmp_path):
    """Inside one validation (``memoised_freshness``) a checkpoint found fresh is not read
    from its store again, while one that is not is checked every time; outside, GX checks
    each time. A stored suite rewritten between two validations (as another process
    would) is caught by the next one, memo or not: its pass is retried, its rows never
    quarantined."""
    import contextlib

    import pipelines.gx_runner as gx_runner
    from finradar.errors import TransientError
    from pipelines.gx_memo import memoised_freshness

    project = SuiteRunner(project_root=tmp_path / "gx")
    checkpoint = project.checkpoints["spend_disclosure"]
    with memoised_freshness():
        first = checkpoint.is_fresh()
        assert first.success and checkpoint.is_fresh() is first
    assert checkpoint.is_fresh() is not checkpoint.is_fresh()

    events = [e for e in seed_corpus() if e["event_type"] == "spend_disclosure"][:10]
    assert project.validate("spend_disclosure", events, now=NOW).failures == {}
    stored = tmp_path / "gx" / "gx" / "expectations" / "spend_disclosure" / "v1.json"
    suite = json.loads(stored.read_text())
    suite["expectations"] = suite["expectations"][1:]
    stored.write_text(json.dumps(suite))
    with memoised_freshness():
        assert not checkpoint.is_fresh().success
        stale = checkpoint.is_fresh()
        assert not stale.success and checkpoint.is_fresh() is not stale
    for memo in (True, False):
        with contextlib.ExitStack() as stack:
            if not memo:
                stack.enter_context(pytest.MonkeyPatch.context()).setattr(
                    gx_runner, "memoised_freshness", contextlib.nullcontext
                )
            with pytest.raises(TransientError, match="the GX project changed"):
                project.validate("spend_disclosure", events, now=NOW)
