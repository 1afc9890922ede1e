"""``dq.findings_history``: each finding's episodes across refreshes, kept by the refresh.

``dq.findings`` holds the latest refresh's findings only. After a refresh computes them,
``record`` compares them with the history's open episodes (by ``finding_key``): an open
episode still found is seen again, one no longer found is resolved at this refresh, and a
finding without an open episode opens one (its first, or the next after a resolved one).
Inside the refresh's transaction, and in SQL only: findings never travel to Python.
"""

from __future__ import annotations

import math
from datetime import datetime

import duckdb

# findings opened by one statement: the statement ranks each finding key's rows (a window,
# held in memory), and all of a 5,000,000-event warehouse's findings at once outgrew the
# session's memory limit; keys split by hash open the same episodes in parts
OPENED_PER_STATEMENT = 200_000


def record(con: duckdb.DuckDBPyConnection, refresh_id: str, now: datetime) -> int:
    """Bring ``dq.findings_history`` (grain: finding × episode) up to ``dq.findings`` as
    of refresh ``refresh_id`` started at ``now``; returns how many episodes it holds."""
    params = {"refresh": refresh_id, "now": now}
    con.execute(
        """
        update dq.findings_history as h
        set resolved_refresh_id = $refresh, resolved_at = $now
        where h.resolved_at is null
          and h.finding_key not in (select finding_key from dq.findings)
        """,
        params,
    )
    con.execute(
        """
        update dq.findings_history as h
        set last_seen_refresh_id = $refresh, last_seen_at = $now,
            severity = f.severity, detail = f.detail
        from (select finding_key, min(severity) as severity, min(detail) as detail
              from dq.findings group by finding_key) as f
        where h.finding_key = f.finding_key and h.resolved_at is null
        """,
        params,
    )
    # an episode starts when its finding was detected (``dq.findings.detected_at``): this
    # refresh, but for a finding older than the history (a warehouse from before it), the
    # refresh that detected it
    findings = con.execute("select count(*) from dq.findings").fetchone()[0]
    parts = max(1, math.ceil(findings / OPENED_PER_STATEMENT))
    for part in range(parts):
        _open_episodes(con, params | {"parts": parts, "part": part})
    return con.execute("select count(*) from dq.findings_history").fetchone()[0]


def _open_episodes(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> None:
    """Open an episode for each finding of ``dq.findings`` without an open one, of the
    finding keys whose hash falls in part ``part`` of ``parts``."""
    con.execute(
        """
        insert into dq.findings_history by name
        with episodes as (
            select finding_key, max(episode) as episode, bool_or(resolved_at is null) as open
            from dq.findings_history
            group by finding_key
        ),
        refreshes as (
            select started_at, min(refresh_id) as refresh_id
            from ops.refresh_runs
            group by started_at
        )
        select f.finding_key,
               coalesce(e.episode, 0) + 1 as episode,
               f.rule_id, f.severity, f.entity_id, f.fiscal_period, f.event_ids, f.detail,
               coalesce(r.refresh_id, $refresh) as first_seen_refresh_id,
               f.detected_at as first_seen_at,
               $refresh as last_seen_refresh_id,
               $now as last_seen_at
        from dq.findings as f
        left join episodes as e using (finding_key)
        left join refreshes as r on r.started_at = f.detected_at
        where not coalesce(e.open, false) and hash(f.finding_key) % $parts = $part
        qualify row_number() over (partition by f.finding_key order by f.detail) = 1
        """,
        params,
    )
