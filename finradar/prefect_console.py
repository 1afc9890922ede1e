"""Prefect's console output for the CLI: its flow and task runs' log lines, without the
traceback Prefect prints after a run that failed. The command's own error ends as one line
(``finradar.cli``); the traceback stays in the run's logs in Prefect (its API handler gets
the record whole) and is printed with ``--verbose``.

Set as Prefect's console handler through its logging settings
(``PREFECT_LOGGING_HANDLERS_CONSOLE_CLASS``, read when Prefect sets up logging on import).
"""

from __future__ import annotations

import copy
import logging

from prefect.logging.handlers import PrefectConsoleHandler


class OneLineConsoleHandler(PrefectConsoleHandler):
    """``PrefectConsoleHandler`` that writes a record's message without its traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.exc_text or record.stack_info:
            record = copy.copy(record)  # the other handlers still get the whole record
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        super().emit(record)
