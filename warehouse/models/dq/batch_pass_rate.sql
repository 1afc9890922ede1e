-- Each ingest batch's pass rate, counting every rejection: the contract check's (before Great Expectations), GX's, staging's and the landing's, against what the batch consumed. Its consumed, landed, duplicates and quarantined are the batch's accounting in ops.ingest_runs (consumed = landed + duplicates + quarantined).
-- grain: one row per ingest batch that consumed messages
-- unique: batch_id
-- not_null: batch_id, consumed, landed, duplicates, quarantined, pass_rate, duplicate_rate, quarantine_rate
-- columns:
--   finished_at: when the batch committed (ops.ingest_runs)
--   consumed, landed, duplicates, quarantined: the batch's accounting (ops.ingest_runs)
--   rejected_by_contract, rejected_by_gx, rejected_in_staging, rejected_at_landing: its quarantined messages by stage (dq.batch_quality)
--   pass_rate: landed / consumed
--   duplicate_rate: duplicates / consumed (byte-identical repeats of landed events: not landed again, and no quality failure)
--   quarantine_rate: quarantined / consumed = 1 - pass_rate - duplicate_rate
with stages as (
    select
        batch_id,
        coalesce(sum(messages) filter (where stage = 'contract'), 0) as rejected_by_contract,
        coalesce(sum(messages) filter (where stage = 'gx'), 0) as rejected_by_gx,
        coalesce(sum(messages) filter (where stage = 'staging'), 0) as rejected_in_staging,
        coalesce(sum(messages) filter (where stage = 'landing'), 0) as rejected_at_landing
    from dq.batch_quality
    where outcome = 'quarantined'
    group by batch_id
)

select
    r.batch_id,
    r.finished_at,
    r.consumed,
    r.landed,
    r.duplicates,
    r.quarantined,
    coalesce(s.rejected_by_contract, 0)::bigint as rejected_by_contract,
    coalesce(s.rejected_by_gx, 0)::bigint as rejected_by_gx,
    coalesce(s.rejected_in_staging, 0)::bigint as rejected_in_staging,
    coalesce(s.rejected_at_landing, 0)::bigint as rejected_at_landing,
    r.landed / r.consumed as pass_rate,
    r.duplicates / r.consumed as duplicate_rate,
    r.quarantined / r.consumed as quarantine_rate
from ops.ingest_runs as r
left join stages as s using (batch_id)
where r.consumed > 0
