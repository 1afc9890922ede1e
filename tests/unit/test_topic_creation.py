"""Creating topics: one that exists already (a broker's listing can lag its creation) is
not an error; any other refusal is."""

from __future__ import annotations

import pytest
from kafka import errors

from infra.topics import _created


def test_a_topic_that_exists_already_is_not_created_and_not_an_error() -> None:
    results = [
        {"name": "new", "error_code": 0, "error_message": None},
        {"name": "there", "error_code": 36, "error_message": "Topic 'there' already exists."},
    ]
    assert _created(results) == ["new"]


def test_any_other_refusal_is_raised_with_the_topic_named() -> None:
    with pytest.raises(errors.InvalidReplicationFactorError, match="cannot create topic t"):
        _created([{"name": "t", "error_code": 38, "error_message": "replication factor 3"}])
