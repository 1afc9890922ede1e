"""The locked stack runs a Prefect flow with a task on a real (test) Prefect server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_flow_with_task_runs(prefect_server: None) -> None:
    from prefect import flow, task

    @task(retries=1, retry_delay_seconds=0)
    def double(x: int) -> int:
        return 2 * x

    @flow(name="finradar-smoke")
    def smoke(n: int) -> int:
        return sum(double(i) for i in range(n))

    state = smoke(5, return_state=True)
    assert state.is_completed()
    assert state.result() == 20
