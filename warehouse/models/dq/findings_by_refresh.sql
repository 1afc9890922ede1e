-- How many findings were open after each refresh, by severity: the trend of dq.findings_history.
-- grain: one row per refresh × severity with open findings
-- unique: refresh_id, severity
-- not_null: refresh_id, refreshed_at, severity, open_findings, new_findings
-- columns:
--   refresh_id: the refresh (ops.refresh_runs)
--   severity: error | warning | info
--   refreshed_at: when the refresh started (ops.refresh_runs.started_at)
--   open_findings: findings open after it (an episode first seen at or before it and not resolved by then)
--   new_findings: of them, first seen at that refresh
select
    r.refresh_id,
    r.started_at as refreshed_at,
    h.severity,
    count(*) as open_findings,
    count(*) filter (where h.first_seen_at = r.started_at) as new_findings
from ops.refresh_runs as r
inner join dq.findings_history as h
    on h.first_seen_at <= r.started_at
    and (h.resolved_at is null or h.resolved_at > r.started_at)
group by all
