"""Alerts after each run: evaluate the rules, tell the notifiers, write ``dq.alerts``.

Grain: one evaluation = the rules of ``warehouse.alerts`` judged once, each state change
(ok → firing → resolved) sent once to every notifier (the log, the webhook if configured, a
Prefect event inside a flow run) and written once to ``dq.alerts``, under a file lock so two
runs finishing together cannot both announce the same change. Notifications go out before
the row is written: if the write fails, the next evaluation sends the change again (at least
once, never lost).

``ingest`` and ``refresh`` call ``evaluate_and_notify`` after a good run and carry
``on_flow_failure`` as their failure and crash hook. An alert that cannot be evaluated is
logged as an error; it does not fail the run it follows.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb

from finradar.settings import ALERTS_LOGGER, Settings, get_settings
from handoff.records import PartitionRange
from infra.notify import LogNotifier, Notifier, NotifyError, WebhookNotifier
from warehouse import alerts
from warehouse.lake import connect
from warehouse.writer_locks import writer_lock

log = logging.getLogger(ALERTS_LOGGER)
LOCK_WAIT_S = 120.0


class PrefectEventNotifier:
    """Emits each state change as a Prefect event (``finradar.alert.firing`` or
    ``.resolved``, resource ``finradar.alert.<rule>.<subject>``): a Prefect automation can
    match them and send them on through any Prefect notification block."""

    name = "prefect-event"

    def send(self, message: Mapping[str, Any]) -> None:
        """Emit one event (Prefect sends it in the background)."""
        # lazy: only a flow run sends Prefect events, and it has imported Prefect already
        from prefect.events import emit_event

        emit_event(
            event=f"finradar.alert.{message['state']}",
            resource={
                "prefect.resource.id": f"finradar.alert.{message['rule']}.{message['subject']}",
                "prefect.resource.name": f"{message['rule']} {message['subject']}",
            },
            payload=dict(message),
        )


def notifiers(
    settings: Settings, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> list[Notifier]:
    """The notifiers the settings turn on: the log always, the webhook with a URL, Prefect
    events inside a flow run."""
    out: list[Notifier] = [LogNotifier(logger)]
    a = settings.alerts
    if a.webhook_url is not None and a.webhook_url.get_secret_value():
        out.append(
            WebhookNotifier(
                a.webhook_url,
                token=a.webhook_token,
                timeout_s=a.webhook_timeout_s,
                retries=a.webhook_retries,
                backoff_s=a.webhook_backoff_s,
            )
        )
    if a.prefect_events and _in_flow_run():
        out.append(PrefectEventNotifier())
    return out


def _in_flow_run() -> bool:
    """Whether this process is inside a Prefect flow run."""
    if "prefect" not in sys.modules:
        return False
    # lazy: a process that has not imported Prefect runs no flow; the CLI's one-shot ingest
    # and refresh judge the alerts without importing it (1.5 s of CPU, a tenth of a small pass)
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def dispatch(
    changes: Sequence[alerts.AlertChange],
    to: Sequence[Notifier],
    max_notifications: int,
    logger: logging.Logger | logging.LoggerAdapter[Any] = log,
) -> dict[str, list[str]]:
    """Send every change to every notifier; returns the notifiers that took each change (by
    alert id). Past ``max_notifications`` changes each notifier gets one summary of the
    rest instead (all of them are in ``dq.alerts``); a notifier that fails is not asked
    again in this evaluation."""
    took: dict[str, list[str]] = {c.alert_id: [] for c in changes}
    failed: set[str] = set()
    for change in changes[:max_notifications]:
        for notifier in to:
            if notifier.name not in failed:
                if _send(notifier, change.message(), logger):
                    took[change.alert_id].append(notifier.name)
                else:
                    failed.add(notifier.name)
    rest = changes[max_notifications:]
    if rest:
        summary = {
            "source": "finradar",
            "summary": True,
            "changes": len(rest),
            "firing": sum(c.state == "firing" for c in rest),
            "resolved": sum(c.state == "resolved" for c in rest),
            "text": f"[finradar] {len(rest):,} more alert state changes: see dq.alerts",
        }
        for notifier in to:
            if notifier.name not in failed and _send(notifier, summary, logger):
                for c in rest:
                    took[c.alert_id].append(f"{notifier.name}:summary")
    return took


def _send(
    notifier: Notifier,
    message: Mapping[str, Any],
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> bool:
    try:
        notifier.send(message)
    except NotifyError as exc:
        logger.error(f"alert not sent to {notifier.name}: {exc}")
        return False
    except Exception as exc:  # a notifier's bug must not keep the others from being told
        logger.error(f"alert not sent to {notifier.name}: {type(exc).__name__}: {exc}")
        return False
    return True


def evaluate_and_notify(
    settings: Settings,
    *,
    lag: Sequence[PartitionRange] | None = None,
    succeeded: str | None = None,
    failed: tuple[str, str] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    now: datetime | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> list[alerts.AlertChange]:
    """Judge the alert rules once and announce and record each state change; returns them.

    ``lag``: the consumer lag per partition, if just measured (else that rule keeps its
    states); ``succeeded``: the flow whose run just ended well (its ``flow_failed`` alert
    resolves); ``failed``: ``(flow, reason)`` of a failed run, which fires that alert and
    judges nothing else; ``con``: a writer session to use (``follow``'s shared one),
    else one is opened and closed."""
    logger = logger or log
    now = now or alerts.utc_now()
    own = con is None
    with writer_lock(settings, "alerts", "another alert evaluation").hold(wait_s=LOCK_WAIT_S):
        session = connect(settings) if con is None else con
        try:
            alerts.ensure_table(session)
            states = alerts.current_states(session)
            if failed is not None:
                hit = alerts.flow_failure(settings.alerts, *failed)
                results = [hit] if hit else []
            else:
                results = alerts.evaluate(
                    session, settings.alerts, now, lag=lag, succeeded=succeeded
                )
            changes = alerts.state_changes(results, states, now)
            took = dispatch(
                changes,
                notifiers(settings, logger),
                settings.alerts.max_notifications,
                logger,
            )
            alerts.record(
                session,
                changes,
                took,
                settings.warehouse.commit_retries,
                settings.warehouse.turn_wait_s,
            )
        finally:
            if own:
                session.close()
    return changes


def after_run(
    flow: str, *, lag: Sequence[PartitionRange] | None = None
) -> list[alerts.AlertChange]:
    """``evaluate_and_notify`` at the end of a good flow run, in its logs; an evaluation
    that fails is logged as an error and does not fail the run."""
    logger = _run_logger()
    try:
        return evaluate_and_notify(get_settings(), lag=lag, succeeded=flow, logger=logger)
    except Exception as exc:  # the run's own work is done and committed
        logger.error(f"alerts not evaluated: {type(exc).__name__}: {exc}")
        return []


def on_flow_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect ``on_failure`` / ``on_crashed`` hook: fire ``flow_failed`` for this flow (once,
    however many runs fail in a row; its next good run resolves it)."""
    reason = " ".join(str(state.message or state.name).split())[:300]
    try:
        evaluate_and_notify(get_settings(), failed=(flow.name, reason), logger=_run_logger())
    except Exception as exc:  # a hook that raises only adds noise to the failed run's logs
        log.error(f"flow_failed alert for {flow.name} not recorded: {type(exc).__name__}: {exc}")


def _run_logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    """The flow run's logger (its lines reach the Prefect UI), else this module's."""
    if "prefect" not in sys.modules:
        return log
    # lazy: no run without Prefect imported (see _in_flow_run)
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except Exception:  # MissingContextError: called outside a run
        return log
