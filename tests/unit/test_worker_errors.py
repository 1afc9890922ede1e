"""A portable runner reports a worker's failure as text: the project's error comes back as
itself (a transient one is retried), anything else as one line."""

from __future__ import annotations

from finradar.errors import TransientError
from pipelines.worker_errors import WorkerFailed, worker_error

TRACEBACK = """Pipeline job-001 failed in state FAILED: bundle inst004 failed:Traceback (most \
recent call last):
  File "/work/main/pipelines/kafka_source.py", line 126, in _give_up_if_gone
{line} [while running 'Read Kafka/Read offset ranges']
"""


def test_a_project_error_comes_back_as_itself() -> None:
    text = TRACEBACK.format(
        line="finradar.errors.TransientError: lost the Kafka broker at localhost:1 mid-pass"
    )
    error = worker_error(RuntimeError(text))
    assert isinstance(error, TransientError)
    assert str(error) == "lost the Kafka broker at localhost:1 mid-pass"


def test_another_error_is_one_line_naming_it() -> None:
    text = TRACEBACK.format(
        line="kafka.errors.KafkaTimeoutError: KafkaTimeoutError: Unable to bootstrap from x:1"
    )
    error = worker_error(RuntimeError(text))
    assert isinstance(error, WorkerFailed)
    assert str(error) == (
        "a worker failed: KafkaTimeoutError: KafkaTimeoutError: Unable to bootstrap from x:1"
    )


def test_text_naming_no_error_is_left_as_it_is() -> None:
    exc = RuntimeError("the job server went away")
    assert worker_error(exc) is exc
