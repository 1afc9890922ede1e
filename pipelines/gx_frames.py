"""The frames GX validates, in the form a worker holds them: only the columns a suite reads,
and text its expectations compare for equality only as pandas categoricals.

A worker holds the frames of many batches until ``ingest.gx_rows`` frame rows wait, so that
GX's fixed cost per validation is paid rarely (``pipelines.gx_pending``). What the frames
hold therefore bounds how many rows can wait; and GX copies the whole frame, every column,
for each expectation it evaluates (it drops the rows where the expectation's column is null
first). The codes of a categorical column take one or two bytes a row (entity ids, codes,
sources and the timestamps of a batch repeat), and a copy of them is a copy of the codes:
``python -m tests.bench.profile_ingest_steps`` prints the bytes a held frame row takes.

A column becomes categorical only where every expectation that reads it (as its column, in
a column list, or in a row condition) asks for equality alone: null or not, in a set,
matching a pattern (GX reads ``astype(str)`` of the column, the same text), unique
together. An expectation that orders values (``…ToBeBetween``) reads its column as built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from contracts.export.gx_suites import ExpectationSpec, columns_read, suites

# the expectations whose verdicts depend on equality of values alone
EQUALITY_ONLY = frozenset(
    {
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToBeNull",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToMatchRegex",
        "ExpectCompoundColumnsToBeUnique",
    }
)


@cache
def _layout(suite: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The columns the suite reads, and those it only compares for equality."""
    specs = suites()[suite]
    return tuple(columns_read(specs)), frozenset(_equality_only(specs))


def _equality_only(specs: list[ExpectationSpec]) -> set[str]:
    ordered, compared = set(), set()
    for spec in specs:
        kwargs = spec.kwargs
        read = [kwargs.get("column"), *kwargs.get("column_list", [])]
        target = compared if spec.expectation in EQUALITY_ONLY else ordered
        target.update(c for c in read if c is not None)
        if "row_condition" in kwargs:  # ``==`` or ``!=`` (``gx_runner._condition``)
            compared.add(kwargs["row_condition"][0])
    return compared - ordered


def read_columns(suite: str) -> tuple[str, ...]:
    """The columns ``suite``'s expectations read (``columns_read``): what ``held_frame``
    keeps."""
    return _layout(suite)[0]


def compared_text(suite: str) -> frozenset[str]:
    """The columns ``suite`` compares for equality only: ``held_frame`` makes their text
    categorical."""
    return _layout(suite)[1]


def text_categorical(
    values: list[Any], arrow: Callable[[list[Any], pa.DataType], pa.Array]
) -> pd.Categorical | None:
    """A column's values as the categorical ``held_frame`` makes of them (categories in
    sorted order), built from their Arrow array (``arrow``: ``CheckedBatch.arrow``, the
    conversion the staging tables share); None where pandas would not read them as text
    (a value that is not a string, or none at all)."""
    try:
        array = arrow(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if array.null_count == len(array):
        return None
    return categorical(array)


def categorical(array: pa.Array) -> pd.Categorical:
    """A text array as the categorical ``held_frame`` makes of its values: categories in
    code point order, as pandas sorts the categories of text; a null is missing."""
    encoded = array.dictionary_encode()
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    indices = encoded.indices
    if indices.null_count:
        codes = rank[indices.fill_null(0).to_numpy()]
        codes[indices.is_null().to_numpy(zero_copy_only=False)] = -1
    else:
        codes = rank[indices.to_numpy()]
    categories = pd.Index(encoded.dictionary.take(order).to_pandas(), copy=False)
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))


def held_frame(suite: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the columns ``suite`` reads only, its text compared for equality only
    as categoricals."""
    read, compared = _layout(suite)
    held = frame[[c for c in read if c in frame.columns]]
    return held.astype(
        {c: "category" for c in compared if c in held.columns and held[c].dtype == "str"}
    )


def concat_held(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The frames of one suite as one, row after row, numbered from 0. A categorical column
    stays one over the union of the parts' categories (``pd.concat`` would make text of
    categoricals whose categories differ)."""
    if len(frames) == 1:
        return frames[0]
    columns = {}
    for name in frames[0].columns:
        parts = [f[name] for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            columns[name] = pd.Series(union_categoricals(parts), copy=False)
        else:
            columns[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns)
