"""Run the contract's Great Expectations suites over batches of decoded events.

Events are flattened into pandas frames (one row per event, per answer, per selected
option), each suite of ``contracts.export.gx_suites`` is validated once per batch with the
pandas datasource (GX's SQL datasource on DuckDB is broken, see the research notes), and
every failing row is traced back to its event with the reason codes of every expectation it
failed. ``result_format=COMPLETE`` with an index column gives the full failing-row lists,
which a result keeps with their values (``var/gx`` and its Data Docs): the ingest gives
GX its events through ``for_validation``, personal values replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from contracts.batch_checks import value_at
from contracts.checks import Reason, internal_error
from contracts.export.gx_suites import (
    ANSWER_SUITE,
    FUTURE_PARAMETER,
    OPTION_SUITE,
    ROW_ID,
    ExpectationSpec,
    answer_suite,
    columns_read,
    count_column,
    option_suite,
    suites,
    suites_of,
)
from contracts.flatten import AnswerColumns, answer_columns_of, flatten_columns, flatten_event
from contracts.personal_data import holds_email, redact_event
from contracts.spec import FUTURE_TOLERANCE_HOURS, contracts
from contracts.survey_catalog import SurveyCatalog, survey_catalog
from finradar.errors import TransientError
from finradar.settings import quiet_great_expectations
from handoff.validation import BatchValidation, ExpectationOutcome, SuiteOutcome
from pipelines.batches import EventsAt, own_columns
from pipelines.gx_frames import (
    categorical,
    compared_text,
    held_frame,
    read_columns,
    text_categorical,
)
from pipelines.gx_import import import_great_expectations
from pipelines.gx_memo import install as install_gx_memo
from pipelines.gx_memo import memoised_configurations, memoised_freshness
from warehouse.locks import file_lock
from warehouse.report.data_docs import docs_index, localise

RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_ID],
    "return_unexpected_index_query": False,
}
INDEX_BUILDER = "DefaultSiteIndexBuilder"  # GX's, which a project's configuration names
# A pass/fail answer costs half a COMPLETE validation (GX computes no failing-row lists)
SCREEN_FORMAT = {"result_format": "BOOLEAN_ONLY"}


def value_sets(catalog: SurveyCatalog) -> dict[str, list[str]]:
    waves, questions, kinds, options = [], [], [], []
    for s in catalog:
        waves += [f"{s.survey_id}|{w}" for w in s.waves]
        for q in s.questions.values():
            questions.append(f"{s.survey_id}|{q.question_id}")
            kinds.append(f"{s.survey_id}|{q.question_id}|{q.kind}")
            options += [f"{s.survey_id}|{q.question_id}|{o}" for o in sorted(q.options)]
    return {
        "survey_waves": waves,
        "questions": questions,
        "question_kinds": kinds,
        "options": options,
    }


class SuiteRunner:
    """Holds one GX context with every suite; validate many batches with it."""

    def __init__(
        self,
        catalog: SurveyCatalog | None = None,
        project_root: Path | None = None,
        failpoint: Callable[[str], None] = lambda name: None,
    ) -> None:
        gx = prepare_gx()
        # lazy: GX takes seconds to import; only a process that validates builds a runner
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._run_identifier = RunIdentifier

        self.catalog = catalog or survey_catalog()
        if project_root is None:
            self.context = gx.get_context(mode="ephemeral")
        else:
            self.context = _file_context(gx, project_root)
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        sets = value_sets(self.catalog)
        self.specs = suites()
        self.suites: dict[str, Any] = {}
        self.batch_definitions: dict[str, Any] = {}
        self.checkpoints: dict[str, Any] = {}
        self.project_root = project_root
        # results stored since Data Docs were last built (their pages are what is new)
        self.unrendered: list[Any] = []
        self.validated = False
        signature = _signature(self.specs, sets, gx.__version__)
        if project_root is not None and self._reuse_project(project_root, signature):
            return
        marker = _marker(project_root) if project_root is not None else None
        if marker is not None:
            marker.unlink(missing_ok=True)  # a project half written again is nobody's
        self._build(gx, sets, failpoint)
        if marker is not None:
            partial = marker.with_suffix(".partial")
            partial.write_text(signature)
            partial.replace(marker)

    def _reuse_project(self, project_root: Path, signature: str) -> bool:
        """Take the suites, batch definitions and checkpoints the project holds when they
        were written from the same contract, catalog and GX release (``signature``).
        The worker processes of one pass each build a runner of the one project: one that
        wrote them again would leave the others' copies stale, and GX refuses to run a
        checkpoint whose stored resources changed."""
        marker = _marker(project_root)
        if not marker.is_file() or marker.read_text() != signature:
            return False
        try:
            datasource = self.context.data_sources.get("finradar")
            for name in self.specs:
                self.suites[name] = self.context.suites.get(f"{name}.v1")
                asset = datasource.get_asset(name)
                self.batch_definitions[name] = asset.get_batch_definition(name)
                self.checkpoints[name] = self.context.checkpoints.get(f"{name}.v1")
        except Exception:  # anything missing or unreadable: write them all again
            self.suites, self.batch_definitions, self.checkpoints = {}, {}, {}
            return False
        return True

    def _build(self, gx: Any, sets: dict[str, list[str]], failpoint: Callable[[str], None]) -> None:
        """Write every suite (and, in a project, its validation definition and checkpoint).

        Each is added once, whole. GX's ``add_or_update`` of a validation definition writes
        its suite again, and that of a checkpoint its definitions and suites again, each
        time comparing every expectation with the stored ones (pydantic dicts, quadratic in
        a suite's expectations): most of a new project's set-up. Only what a project half
        written before holds already (a process killed during set-up) is updated."""
        project_root = self.project_root
        datasource = self.context.data_sources.add_or_update_pandas("finradar")
        for name, specs in self.specs.items():
            expectations = [_expectation(gx, spec, index, sets) for index, spec in enumerate(specs)]
            suite = gx.ExpectationSuite(name=f"{name}.v1", expectations=expectations)
            if len(suite.expectations) != len(specs):  # GX logs and drops what it refuses
                raise ValueError(f"GX refused expectations of the suite {name}")
            self.suites[name] = _added(self.context.suites, suite)
            failpoint("gx_setup")  # crash tests: killed with some suites written, some not
            asset = datasource.add_dataframe_asset(name)
            batch_definition = asset.add_batch_definition_whole_dataframe(name)
            self.batch_definitions[name] = batch_definition
            if project_root is not None:
                # a file context keeps every validation result, for Data Docs
                definition = _added(
                    self.context.validation_definitions,
                    gx.ValidationDefinition(
                        name=f"{name}.v1", data=batch_definition, suite=self.suites[name]
                    ),
                )
                self.checkpoints[name] = _added(
                    self.context.checkpoints,
                    gx.Checkpoint(
                        name=f"{name}.v1",
                        validation_definitions=[definition],
                        actions=[],
                        result_format=RESULT_FORMAT,
                    ),
                )

    def _run(
        self,
        name: str,
        frame: pd.DataFrame,
        parameters: dict[str, Any],
        result_format: dict[str, Any] = RESULT_FORMAT,
        run_name: str | None = None,
    ) -> Any:
        checkpoint = self.checkpoints.get(name)
        if checkpoint is not None:
            # the run name Data Docs list a result under (GX's own default: ``__none__``);
            # its time is the validation's, so the results of one batch's suites stay apart
            run_id = self._run_identifier(run_name=run_name, run_time=datetime.now(UTC))
            with memoised_configurations(), memoised_freshness(), _project_changes_are_transient():
                result = checkpoint.run(
                    batch_parameters={"dataframe": frame},
                    expectation_parameters=parameters,
                    run_id=run_id,
                )
            self.unrendered.extend(result.run_results)
            self.validated = True
            return next(iter(result.run_results.values()))
        batch = self.batch_definitions[name].get_batch(batch_parameters={"dataframe": frame})
        with memoised_configurations():
            return batch.validate(
                self.suites[name], result_format=result_format, expectation_parameters=parameters
            )

    def build_data_docs(self, listed: int | None = None) -> Path:
        """Render the pages of the validations this runner stored since the last build,
        and the index; returns the index page. Rendering every stored validation again
        would grow with the warehouse's age (an ingest every minute stores three or more a
        minute). The first build in a project renders everything, and so does a runner
        that validated nothing itself (a runner whose workers validate in other processes
        would otherwise leave their results without pages).

        ``listed``: the index lists the latest this many validations, and a build that
        renders everything renders only them (GX's ``validation_results_limit``): GX reads
        every validation it lists at each build, so a build listing all of them took
        longer with every pass before it. Older pages stay where they are, and every
        validation's outcome stays in the warehouse (``dq.validation_runs``)."""
        if self.project_root is None:
            raise ValueError("Data Docs need a file context (project_root)")
        sites = self.context.variables.data_docs_sites or {}  # a copy
        for site in sites.values():
            builder = site.setdefault("site_index_builder", {"class_name": INDEX_BUILDER})
            builder["validation_results_limit"] = listed
        # this context's configuration in memory: the project's file is left as it is
        self.context.variables.data_docs_sites = sites
        index = docs_index(self.project_root)
        if not index.is_file() or not self.validated:
            try:
                self.context.build_data_docs()
            except OSError:
                raise
            except Exception:  # a stored result a killed process cut short: without it
                repair_project(self.project_root, results=True)
                self.context.build_data_docs()
        elif self.unrendered:
            self.context.build_data_docs(resource_identifiers=self.unrendered)
        self.unrendered = []
        return index

    def validate(
        self,
        event_type: str,
        events: list[dict[str, Any]],
        now: datetime | None = None,
        screen: bool = False,
        only: str | None = None,
        columns: dict[str, list[Any]] | None = None,
        run_name: str | None = None,
    ) -> BatchValidation:
        """Validate a batch of decoded events of one type with its suites
        (``frames``, then ``validate_frames``).

        ``screen`` (a context without a GX project only): ask each suite for pass/fail
        first and for the failing rows only when it fails. Same verdicts; a passing suite
        then reports no observed values, which only Data Docs would show.
        ``only``: run that one of the type's suites (``suites_of``), so that a type's
        suites can run in different worker processes.
        ``columns``: the events' field columns by path, when the batch check gathered them
        (``CheckedBatch.columns``): the frame is built from them, not from each event.
        ``run_name``: see ``validate_frames``."""
        return self.validate_frames(
            self.frames(event_type, events, only, columns), now, screen, run_name
        )

    def frames(
        self,
        event_type: str,
        events: list[dict[str, Any]],
        only: str | None = None,
        columns: dict[str, list[Any]] | None = None,
        arrow: Callable[[list[Any], pa.DataType], pa.Array] | None = None,
        answers: Callable[[dict[str, list[Any]]], AnswerColumns] | None = None,
    ) -> dict[str, pd.DataFrame]:
        """The frame of each suite of ``event_type`` (or of ``only``) over the events, by
        suite, as workers hold them (``pipelines.gx_frames``); in every frame ``ROW_ID`` is
        the position of a row's event in ``events``. ``columns`` and ``arrow``: see
        ``event_frame``; ``answers``: the answer rows of ``columns``
        (``CheckedBatch.answer_columns``), else read from the events."""
        contract = contracts()[event_type]
        wanted = suites_of(event_type) if only is None else [only]
        frames = {}
        if event_type in wanted:
            frames[event_type] = event_frame(events, contract.event_type, columns, arrow)
        if ANSWER_SUITE in wanted or OPTION_SUITE in wanted:
            built = answers(columns) if answers and columns is not None else None
            answer_frame, options = answer_frames(events, self.catalog, built)
            frames.update({ANSWER_SUITE: answer_frame, OPTION_SUITE: options})
        return {name: held_frame(name, frames[name]) for name in wanted}

    def validate_frames(
        self,
        frames: dict[str, pd.DataFrame],
        now: datetime | None = None,
        screen: bool = False,
        run_name: str | None = None,
    ) -> BatchValidation:
        """Validate each frame of ``frames`` with its suite (``frames``' keys): every
        failing event, by its ``ROW_ID``, with the reason of each expectation it failed,
        and each suite's outcome. ``run_name`` (the finradar batch id) names the stored
        results in a GX project, whose Data Docs list them under it."""
        if screen and self.checkpoints:
            raise ValueError("screening would keep pass/fail-only results for Data Docs")
        now = now or datetime.now(UTC)
        parameters = {FUTURE_PARAMETER: now + timedelta(hours=FUTURE_TOLERANCE_HOURS)}
        failures: dict[int, list[Reason]] = defaultdict(list)
        outcomes = []
        for name, frame in frames.items():
            suite_outcome = SuiteOutcome(name, len(frame))
            outcomes.append(suite_outcome)
            if frame.empty:
                continue
            result = self._run(name, frame, parameters, SCREEN_FORMAT) if screen else None
            if result is None or not result.success:
                result = self._run(name, frame, parameters, run_name=run_name)
            # GX reports results in its own order: match them back by the index in ``meta``
            failing: set[int] = set()
            for r in result.results:
                spec = self.specs[name][int(r.expectation_config.meta["spec"])]
                rows = _unexpected_rows(r.result)
                failing |= rows
                suite_outcome.outcomes.append(
                    ExpectationOutcome(
                        name,
                        spec.expectation,
                        spec.column,
                        spec.reason_code,
                        bool(r.success),
                        int(r.result.get("unexpected_count") or len(rows)),
                    )
                )
                for row in sorted(rows):
                    failures[row].append(Reason(spec.reason_code, _detail(spec, name)))
            suite_outcome.rows_failed = len(failing)
        return BatchValidation(dict(failures), outcomes)


@contextmanager
def _project_changes_are_transient() -> Iterator[None]:
    """GX refuses to run a checkpoint whose stored suite or definitions another process
    wrote again meanwhile: not the data's doing (the pass is retried), so not a reason to
    quarantine its rows."""
    # lazy: GX takes seconds to import; only a process that validates gets here
    from great_expectations.exceptions.resource_freshness import ResourceFreshnessAggregateError

    try:
        yield
    except ResourceFreshnessAggregateError as exc:
        raise TransientError(f"the GX project changed during the pass: {exc}") from None


def _expectation(gx: Any, spec: ExpectationSpec, index: int, sets: dict[str, list[str]]) -> Any:
    """The GX expectation of a suite's ``index``-th spec."""
    kwargs = dict(spec.kwargs)
    if "row_condition" in kwargs:
        kwargs["row_condition"] = _condition(*kwargs["row_condition"])
    if "value_set" in spec.extra:
        kwargs["value_set"] = sets[spec.extra["value_set"]]
    cls = getattr(gx.expectations, spec.expectation)
    return cls(**kwargs, meta={"reason_code": spec.reason_code, "field": spec.field, "spec": index})


def _added(factory: Any, item: Any) -> Any:
    """``item`` added to a GX factory (suites, validation definitions, checkpoints), or
    updated if the project holds one of its name already."""
    # lazy: GX takes seconds to import; only a process that validates builds a runner
    from great_expectations.exceptions import DataContextError

    try:
        return factory.add(item)
    except DataContextError:
        return factory.add_or_update(item)


def _signature(specs: dict[str, Any], sets: dict[str, list[str]], gx_version: str) -> str:
    """What a project's suites are written from: the contract's expectations, the survey
    catalog's value sets and the GX release."""
    text = json.dumps([specs, sets, gx_version], default=repr, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _marker(project_root: Path) -> Path:
    """The signature of the suites the project holds, written once they all are."""
    return project_root / ".finradar-suites.sha256"


def _file_context(gx: Any, project_root: Path) -> Any:
    """The GX project's file context, after removing what a process killed while writing it
    left unreadable: suites, validation definitions and checkpoints are written again from
    ``contracts/`` at every start, and GX scaffolds a project configuration that is missing
    (a stored validation result cut short is dropped by a full Data Docs build that meets
    it: ``build_data_docs``)."""
    repair_project(project_root)
    try:
        return gx.get_context(mode="file", project_root_dir=str(project_root))
    except OSError:  # the folder itself (permissions, disk): not a file to start again
        raise
    except Exception:  # a configuration cut short can still parse: start it again
        (project_root / "gx" / "great_expectations.yml").unlink(missing_ok=True)
        return gx.get_context(mode="file", project_root_dir=str(project_root))


def repair_project(project_root: Path, results: bool = False) -> list[Path]:
    """Remove the GX project's JSON and YAML files that do not parse (a 0-byte suite file
    made every later start fail); returns them. Stored validation results (``results``)
    are read only when asked: there are more of them with every pass."""
    removed = []
    for path in sorted((project_root / "gx").rglob("*")):
        if not path.is_file() or "data_docs" in path.parts:
            continue
        if ("validations" in path.parts) != results:
            continue
        if (
            (path.suffix == ".json" and not _parses(path, json.loads))
            or (path.suffix == ".yml" and not _parses(path, yaml.safe_load))
            or (path.name == ".ge_store_backend_id" and not STORE_ID.fullmatch(path.read_text()))
        ):
            removed.append(path)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


STORE_ID = re.compile(r"store_backend_id = [0-9a-f-]{36}\s*")


def _parses(path: Path, parse: Callable[[str], Any]) -> bool:
    try:
        parse(path.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError, UnicodeDecodeError):
        return False
    return True


# not the data's doing: survey definitions changed, a worker died, the disk, the memory
OUTSIDE_FAULTS = (TransientError, BrokenExecutor, OSError, MemoryError)


def validate_isolating(
    validate: Callable[[list[dict[str, Any]]], BatchValidation], events: list[dict[str, Any]]
) -> BatchValidation:
    """``validate(events)``; when it raises, the events again in halves, down to each event
    it raises on, which fails with ``internal_error`` while the others keep their verdicts.
    A failure outside the data (``OUTSIDE_FAULTS``) is raised."""
    try:
        return validate(events)
    except OUTSIDE_FAULTS:
        raise
    except Exception as exc:
        if len(events) <= 1:
            return BatchValidation({0: [internal_error("GX validation", exc)]}, [])
        half = len(events) // 2
        first = validate_isolating(validate, events[:half])
        second = validate_isolating(validate, events[half:])
        failures = dict(first.failures)
        failures.update({half + row: reasons for row, reasons in second.failures.items()})
        return BatchValidation(failures, first.suites + second.suites)


# GX keeps the values that fail an expectation in each result (``unexpected_list``,
# ``partial_unexpected_list``/``_counts``, ``unexpected_index_list``: var/gx and its Data
# Docs), so personal values are replaced before they reach it, by a keyed hash under a key
# of this process alone that is never stored: nothing in a result leads back to the value,
# and one value gives one marker within a pass (uniqueness expectations keep their verdicts)
_MARKER_KEY = secrets.token_bytes(32)


def validation_marker(value: str) -> str:
    """What GX sees of a personal value (``for_validation``)."""
    digest = hmac.new(_MARKER_KEY, value.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "redacted:" + digest.hexdigest()[:32]


def for_validation(
    events: Sequence[dict[str, Any]],
    suspect: Sequence[bool],
    columns: dict[str, list[Any]] | None = None,
) -> tuple[Sequence[dict[str, Any]], dict[str, list[Any]] | None]:
    """The events as GX may see them: each one whose message may hold personal data
    (``suspect``: ``contracts.batch_checks.suspects``) with every personal value replaced
    whole by ``validation_marker`` (``contracts.personal_data.redact_event``); and their
    field columns (by path, as ``CheckedBatch.columns`` gives them) to match: copies
    (``own_columns``) if a value changes, else as given. The contract check has passed
    every value replaced, which GX then does not see. Only the suspects are read of
    ``events`` (``EventsAt`` decodes no other)."""
    if len(events) != len(suspect):
        raise ValueError("a suspect flag for each event")
    changes = {}
    for j in compress(range(len(suspect)), suspect):
        redacted, changed = redact_event(events[j], validation_marker)
        if changed:
            changes[j] = redacted
    if not changes:
        return events, columns
    if isinstance(events, EventsAt):
        out: Sequence[dict[str, Any]] = events.replaced(changes)
    else:
        out = [changes.get(j, event) for j, event in enumerate(events)]
    if columns is not None:
        columns = own_columns(columns)
        for j, redacted in changes.items():
            for path, column in columns.items():
                column[j] = value_at(redacted, path)
    return out, columns


def prepare_gx() -> Any:
    """GX, imported as a runner uses it (no analytics, ``pipelines.gx_memo`` installed):
    once per process, later calls free."""
    quiet_great_expectations()
    install_gx_memo()
    return import_great_expectations()


_runners: dict[tuple[str | None, int], SuiteRunner] = {}
SETUP_WAIT_S = 300.0  # a runner's setup takes seconds; a first one (GX's import) tens


def shared_runner(
    project_root: Path | None = None, failpoint: Callable[[str], None] = lambda name: None
) -> SuiteRunner:
    """One ``SuiteRunner`` per process, GX context and project root, rebuilt when a survey
    definition changes: building one takes seconds, so back-to-back passes (``follow``)
    reuse it."""
    catalog = survey_catalog()
    key = (str(project_root) if project_root else None, id(catalog))
    runner = _runners.get(key)
    if runner is None:
        for stale in [k for k in _runners if k[0] == key[0]]:
            del _runners[stale]
        # GX's import takes seconds and touches no project: the worker processes of a pass
        # import it at once, then take turns with the project only
        prepare_gx()
        with _project_lock(project_root):
            runner = _runners[key] = SuiteRunner(catalog, project_root, failpoint)
    return runner


def build_pages(
    runner: SuiteRunner,
    web_assets: Path,
    hit: Callable[[str], None] = lambda name: None,
    listed: int | None = None,
) -> Path:
    """Add the validations ``runner`` stored since its last build to its project's Data Docs
    (``SuiteRunner.build_data_docs``, the index listing the latest ``listed``), served
    offline with their styling from ``web_assets``; returns the index page. One process at
    a time: the worker processes of a pass each add their own validations to the one
    site."""
    project_root = runner.project_root
    if project_root is None:
        raise ValueError("Data Docs need a file context (project_root)")
    lock = project_root.with_name(f".{project_root.name}.docs.lock")
    with file_lock(lock, "another process building the Data Docs", wait_s=SETUP_WAIT_S):
        index = runner.build_data_docs(listed)
        hit("data_docs")
        localise(index.parent, web_assets)
    return index


def _project_lock(project_root: Path | None) -> AbstractContextManager[None]:
    """Held while a process sets up its runner of a GX project: the worker processes of one
    pass each write the project's suites and checkpoints, and one reading a file another is
    rewriting finds no checkpoint."""
    if project_root is None:
        return nullcontext()
    lock = project_root.with_name(f".{project_root.name}.setup.lock")
    return file_lock(lock, "another process setting up the GX project", wait_s=SETUP_WAIT_S)


def _condition(column: str, op: str, value: Any) -> Any:
    # lazy: GX takes seconds to import (see SuiteRunner)
    from great_expectations.expectations.row_conditions import Column

    return Column(name=column) == value if op == "==" else Column(name=column) != value


def _unexpected_rows(result: dict[str, Any]) -> set[int]:
    rows = set()
    for item in result.get("unexpected_index_list") or []:
        rows.add(int(item[ROW_ID]) if isinstance(item, dict) else int(item))
    return rows


def _detail(spec: ExpectationSpec, suite: str) -> str:
    return f"{suite}.v1 {spec.expectation}({spec.column})"


def event_frame(
    events: Sequence[dict[str, Any]],
    event_type: str,
    columns: dict[str, list[Any]] | None = None,
    arrow: Callable[[list[Any], pa.DataType], pa.Array] | None = None,
) -> pd.DataFrame:
    """The frame a type's suite validates: the flattened events' columns the suite reads
    or derives others from (``frame_inputs``; from their field columns when given), a row
    id, and what the expectations read besides. With ``arrow`` as well
    (``CheckedBatch.arrow``), the text the suite compares for equality only is categorical
    already, as ``held_frame`` makes it, built from Arrow arrays the staging tables share."""
    contract = contracts()[event_type]
    inputs = frame_inputs(event_type)
    if columns is not None and events:
        # a column no expectation reads is not converted (text: 0.4 µs a value in pandas)
        flat: dict[str, Any] = {
            name: values
            for name, values in flatten_columns(columns, contract).items()
            if name in inputs
        }
        if arrow is not None:
            for name in compared_text(event_type) & flat.keys():
                categorical = text_categorical(flat[name], arrow)
                if categorical is not None:
                    flat[name] = categorical
        frame = pd.DataFrame(flat)
    else:
        rows = [flatten_event(e, contract) for e in events]
        read = [c for c in (rows[0] if rows else {}) if c in inputs]
        frame = pd.DataFrame(rows, columns=read or None)
    frame[ROW_ID] = range(len(events))
    frame["occurred_at_utc"] = _instants(frame.get("occurred_at"))

    def payload_values(name: str) -> list[Any]:
        """A payload field's value in each event: its column when given (the events are
        then not read)."""
        if columns is not None and events:
            return columns[f"payload.{name}"]
        return [(e.get("payload") or {}).get(name) for e in events]

    for f in contract.payload.fields:
        if f.kind == "array" and f.min_items is not None:
            frame[count_column(f.name)] = [
                len(v) if isinstance(v, list) else 0 for v in payload_values(f.name)
            ]
    if event_type == "survey_response":
        frame["survey_wave_key"] = frame["survey_id"].astype(str) + "|" + frame["wave"].astype(str)
        # the field's name, not its value: a failing row's value is kept in the result
        frame["respondent_email_in"] = [
            "respondent_id" if _is_email(r) else "department" if _is_email(d) else None
            for r, d in zip(
                payload_values("respondent_id"), payload_values("department"), strict=True
            )
        ]
    return frame


@cache
def frame_inputs(event_type: str) -> frozenset[str]:
    """The flattened columns ``event_frame`` keeps: those the type's suite reads, and those
    it derives the others from (``occurred_at_utc``, ``survey_wave_key``)."""
    derived_from = {"occurred_at", "survey_id", "wave"}
    return frozenset(read_columns(event_type)) | derived_from


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and holds_email(value)


def _instants(texts: pd.Series | None) -> pd.Series | None:
    """Timestamp texts as UTC instants (NaT where they do not parse). Categorical text is
    parsed category by category: pandas would map the categories through a deprecated
    path (``Series.values`` of the instants, Pandas4Warning)."""
    if texts is None or not isinstance(texts.dtype, pd.CategoricalDtype):
        return pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
    parsed = pd.to_datetime(texts.cat.categories, utc=True, errors="coerce", format="ISO8601")
    instants = parsed.take(texts.cat.codes.to_numpy(), allow_fill=True, fill_value=pd.NaT)
    return pd.Series(instants, index=texts.index, name=texts.name)


def answer_frames(
    events: list[dict[str, Any]], catalog: SurveyCatalog, built: AnswerColumns | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frames of the two answer suites: one row per answer, one per selected option of
    an answer its question knows, each with the columns its suite reads only (GX filters
    whole frames once per expectation: the answers' other columns doubled its time). Built
    column by column from the events' answer rows: ``built`` (``answer_columns_of`` them),
    else ``answer_columns_of``; in Arrow's loops where the answers allow it
    (``arrow_answer_frames``: its text columns then come categorical, as ``held_frame``
    makes them), else value by value (``answer_frames_of_values``)."""
    rows, columns = built if built is not None else answer_columns_of(events)
    frames = arrow_answer_frames(rows, columns, catalog)
    return frames if frames is not None else answer_frames_of_values(rows, columns, catalog)


def answer_frames_of_values(
    rows: list[int], columns: dict[str, list[Any]], catalog: SurveyCatalog
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``answer_frames`` of answer rows of any shape, value by value."""
    survey_ids, question_ids = columns["survey_id"], columns["question_id"]
    kinds, chosen = columns["kind"], columns["options"]
    question_keys = [f"{s}|{q}" for s, q in zip(survey_ids, question_ids, strict=True)]
    keys = list(zip(map(str, survey_ids), map(str, question_ids), strict=True))
    known: dict[tuple[str, str], Any] = {}  # a survey's questions repeat in every event
    for key in set(keys):
        known[key] = _question(catalog, *key)
    questions = [known[key] for key in keys]
    lists = [o if isinstance(o, list) else [] for o in chosen]
    answers = {
        ROW_ID: rows,
        "question_id": question_ids,
        "kind": kinds,
        "score": columns["score"],
        "stage": columns["stage"],
        "question_key": question_keys,
        "question_kind_key": [f"{k}|{kind}" for k, kind in zip(question_keys, kinds, strict=True)],
        "question_known": [q is not None for q in questions],
        "option_count": [len(o) for o in lists],
    }
    options: dict[str, list[Any]] = {c: [] for c in _OPTION_COLUMNS}
    for row, key, kind, opts, index, question in zip(
        rows, question_keys, kinds, lists, columns["answer_index"], questions, strict=True
    ):
        if opts and question is not None and question.kind == kind:
            options[ROW_ID].extend([row] * len(opts))
            options["answer_index"].extend([index] * len(opts))
            options["option_id"].extend(opts)
            options["option_key"].extend([f"{key}|{opt}" for opt in opts])
    return _frame(answers, _ANSWER_COLUMNS), _frame(options, _OPTION_COLUMNS)


def _question(catalog: SurveyCatalog, survey_id: str, question_id: str) -> Any:
    survey = catalog.get(survey_id)
    return survey.questions.get(question_id) if survey else None


def arrow_answer_frames(
    rows: list[int], columns: dict[str, list[Any]], catalog: SurveyCatalog
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``answer_frames`` in Arrow's loops, for answer rows that are all well formed (each
    survey, question and kind a text, each options value a list of texts or absent, as
    decoded JSON holds them); None for any other, which ``answer_frames_of_values`` reads
    value by value. Their text columns come categorical, as ``held_frame`` makes them;
    the keys are the same texts (``survey|question``, ``…|kind``, ``…|option``)."""
    ids = [columns[name] for name in ("survey_id", "question_id", "kind")]
    chosen = columns["options"]
    if not rows or any(set(map(type, values)) != {str} for values in ids):
        return None
    if not set(map(type, chosen)) <= {list, type(None)}:
        return None
    surveys, questions, kinds = (pa.array(values, pa.string()) for values in ids)
    try:
        lists = pa.array(chosen, pa.list_(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # an option that is not a text
        return None
    if pc.list_flatten(lists).null_count:
        return None
    question_keys = pc.binary_join_element_wise(surveys, questions, "|")
    known, kind_fits = _questions_known(surveys, questions, kinds, catalog)
    counts = pc.list_value_length(lists).fill_null(0).to_numpy().astype(np.int64)
    answers = {
        ROW_ID: rows,
        "question_id": categorical(questions),
        "kind": categorical(kinds),
        "score": columns["score"],
        "stage": columns["stage"],
        "question_key": categorical(question_keys),
        "question_kind_key": categorical(pc.binary_join_element_wise(question_keys, kinds, "|")),
        "question_known": known,
        "option_count": counts,
    }
    picked = np.flatnonzero((counts > 0) & kind_fits)
    selected = lists.take(picked)
    option_ids = pc.list_flatten(selected)
    at = picked[pc.list_parent_indices(selected).to_numpy()]
    options = {
        ROW_ID: np.asarray(rows, dtype=np.int64)[at],
        "answer_index": np.asarray(columns["answer_index"], dtype=np.int64)[at],
        "option_id": categorical(option_ids),
        "option_key": categorical(
            pc.binary_join_element_wise(question_keys.take(at), option_ids, "|")
        ),
    }
    return _frame(answers, _ANSWER_COLUMNS), _frame(options, _OPTION_COLUMNS)


def _questions_known(
    surveys: pa.Array, questions: pa.Array, kinds: pa.Array, catalog: SurveyCatalog
) -> tuple[np.ndarray, np.ndarray]:
    """For each answer, whether the catalog knows its question, and whether that question
    is of the answer's kind: each pair of survey and question looked up once."""
    survey_codes, question_codes, kind_codes = (
        a.dictionary_encode() for a in (surveys, questions, kinds)
    )
    width = len(question_codes.dictionary)
    pairs = (
        survey_codes.indices.to_numpy().astype(np.int64) * width + question_codes.indices.to_numpy()
    )
    distinct, inverse = np.unique(pairs, return_inverse=True)
    survey_ids = survey_codes.dictionary.to_pylist()
    question_ids = question_codes.dictionary.to_pylist()
    kind_code = {kind: i for i, kind in enumerate(kind_codes.dictionary.to_pylist())}
    known = np.zeros(len(distinct), dtype=bool)
    expected = np.full(len(distinct), -1, dtype=np.int64)  # the code of the question's kind
    for j, pair in enumerate(distinct.tolist()):
        question = _question(catalog, survey_ids[pair // width], question_ids[pair % width])
        if question is not None:
            known[j] = True
            expected[j] = kind_code.get(question.kind, -1)
    return known[inverse], expected[inverse] == kind_codes.indices.to_numpy()


def _frame(columns: dict[str, Any], names: list[str]) -> pd.DataFrame:
    """The frame of ``columns``. With no rows, the frame of no records (object columns):
    pandas types an empty list otherwise, and GX's verdicts on it differ by dtype."""
    if len(columns[ROW_ID]) == 0:
        return pd.DataFrame([], columns=names)
    return pd.DataFrame(columns, columns=names)


_ANSWER_COLUMNS = columns_read(answer_suite())
_OPTION_COLUMNS = columns_read(option_suite())
