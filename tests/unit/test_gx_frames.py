"""The frames workers hold for GX (``pipelines.gx_frames``): smaller, with GX's verdicts and
results on them those of the frames as built."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import orjson
import pandas as pd
import pytest

import pipelines.gx_runner as gx_runner
from contracts.export.gx_suites import FUTURE_PARAMETER, ROW_ID, suites
from contracts.spec import FUTURE_TOLERANCE_HOURS, contract_for_topic
from contracts.synthetic import SyntheticStream
from pipelines.gx_frames import EQUALITY_ONLY, concat_held, held_frame

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _as_built(suite: str, frame: pd.DataFrame) -> pd.DataFrame:
    return frame


@pytest.fixture(scope="module")
def runner() -> gx_runner.SuiteRunner:
    return gx_runner.SuiteRunner()


@pytest.fixture(scope="module")
def events_by_type() -> dict[str, list[dict]]:
    """Decoded events of the synthetic stream with a third of them bad (GX fails many of
    them on many expectations): each a JSON object of its topic's type with object parts."""
    found: dict[str, list[dict]] = {}
    for m in SyntheticStream(6000, 0.3, 23):
        try:
            event = orjson.loads(m.value)
        except orjson.JSONDecodeError:
            continue
        contract = contract_for_topic(m.topic)
        if type(event) is not dict or contract is None:
            continue
        if event.get("event_type") != contract.event_type:
            continue
        if not all(type(event.get(part)) is dict for part in ("payload", "subject", "source")):
            continue
        found.setdefault(contract.event_type, []).append(event)
    return found


def _frames_in_three_parts(
    runner: gx_runner.SuiteRunner, event_type: str, events: list[dict], held: bool
) -> dict[str, pd.DataFrame]:
    """The type's frames built in three parts and put together, as a worker holds and
    takes them (held) or as GX got them before (built, ``pd.concat``)."""
    thirds = [events[k::3] for k in range(3)]
    with mock.patch.object(gx_runner, "held_frame", held_frame if held else _as_built):
        parts = [runner.frames(event_type, part) for part in thirds]
    offsets = [0, len(thirds[0]), len(thirds[0]) + len(thirds[1])]
    for part, offset in zip(parts, offsets, strict=True):
        for frame in part.values():
            frame[ROW_ID] += offset
    join = concat_held if held else (lambda fs: pd.concat(fs, ignore_index=True))
    return {name: join([p[name] for p in parts]) for name in parts[0]}


def test_gx_gives_held_frames_the_verdicts_and_results_of_frames_as_built(runner, events_by_type):
    assert set(events_by_type) == {
        "spend_disclosure",
        "deployment_milestone",
        "survey_response",
        "observation",
    }
    parameters = {FUTURE_PARAMETER: NOW + timedelta(hours=FUTURE_TOLERANCE_HOURS)}
    failing, rows = 0, 0
    for event_type, events in sorted(events_by_type.items()):
        built = _frames_in_three_parts(runner, event_type, events, held=False)
        held = _frames_in_three_parts(runner, event_type, events, held=True)
        assert any(isinstance(t, pd.CategoricalDtype) for f in held.values() for t in f.dtypes)
        for name in built:
            results = [
                sorted(
                    (r.expectation_config.meta["spec"], r.success, repr(r.result))
                    for r in runner._run(name, frame, parameters).results
                )
                for frame in (built[name], held[name])
            ]
            assert results[0] == results[1], name
            failing += sum(not success for _, success, _ in results[0])
        verdicts = [runner.validate_frames(f, NOW) for f in (built, held)]
        assert verdicts[0].failures == verdicts[1].failures
        assert verdicts[0].suites == verdicts[1].suites
        rows += len(verdicts[0].failures)
    # the comparison covered failing expectations of every kind, on many rows
    assert failing >= 15 and rows > 500, (failing, rows)


def test_a_held_frame_holds_the_columns_its_suite_reads_and_orders_none_as_categories(
    runner, events_by_type
):
    for event_type, events in events_by_type.items():
        with mock.patch.object(gx_runner, "held_frame", _as_built):
            built = runner.frames(event_type, events)
        for name, frame in built.items():
            held = held_frame(name, frame)
            specs = suites()[name]
            read = {
                c for s in specs for c in [s.kwargs.get("column"), *s.kwargs.get("column_list", [])]
            }
            read |= {s.kwargs["row_condition"][0] for s in specs if "row_condition" in s.kwargs}
            assert set(held.columns) == (read | {ROW_ID}) & set(frame.columns)
            for column in held.columns:
                pd.testing.assert_series_equal(
                    held[column].astype(frame[column].dtype), frame[column], check_names=False
                )
                if isinstance(held[column].dtype, pd.CategoricalDtype):
                    readers = [
                        s.expectation
                        for s in specs
                        if column in (s.kwargs.get("column"), *s.kwargs.get("column_list", []))
                    ]
                    assert set(readers) <= EQUALITY_ONLY, (name, column)


def test_held_parts_with_other_categories_join_into_one_categorical():
    parts = [
        pd.DataFrame({ROW_ID: [0, 1], "code": pd.Series(["a", "b"], dtype="category")}),
        pd.DataFrame({ROW_ID: [2], "code": pd.Series([None], dtype="str").astype("category")}),
        pd.DataFrame({ROW_ID: [3, 4], "code": pd.Series(["c", "a"], dtype="category")}),
    ]
    joined = concat_held(parts)
    assert isinstance(joined["code"].dtype, pd.CategoricalDtype)
    assert joined["code"].tolist()[:2] + joined["code"].tolist()[3:] == ["a", "b", "c", "a"]
    assert pd.isna(joined["code"][2])
    assert joined[ROW_ID].tolist() == [0, 1, 2, 3, 4]
    assert list(joined.index) == [0, 1, 2, 3, 4]
    # a part whose column is all null as objects (no string seen) joins as text again
    mixed = concat_held([parts[0], pd.DataFrame({ROW_ID: [5], "code": [None]})])
    assert mixed["code"].tolist()[:2] == ["a", "b"] and pd.isna(mixed["code"][2])
