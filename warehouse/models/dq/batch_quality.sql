-- Every message an ingest batch consumed, by outcome and reason: landed, dropped as a byte-identical repeat, or quarantined, whether the contract check rejected it (before Great Expectations) or a GX suite did. The outcomes of a batch add up to what it consumed.
-- grain: one row per ingest batch × outcome × stage × reason_code (batches that consumed nothing are left out)
-- unique: batch_id, outcome, stage, reason_code
-- not_null: batch_id, outcome, messages, consumed, share
-- columns:
--   finished_at: when the batch committed (ops.ingest_runs)
--   reason_code: the first reason of a quarantined message (quarantine.events.reason_code); NULL unless quarantined
--   consumed: messages the batch read (ops.ingest_runs)
--   outcome: landed | duplicate | quarantined. A duplicate is a byte-identical repeat of an event that landed: it passed every check and the warehouse keeps its first copy, so it is not a quality failure
--   stage: where a quarantined message was rejected: contract (decoding and the contract's rules, before GX), gx (a Great Expectations suite, or GX failing on it), staging (normalising it for its raw table failed), landing (its event_id landed before with other content, or its raw table cannot hold a value); NULL unless quarantined, as is reason_code (the first of the message's reasons)
--   messages: messages of the batch with this outcome, stage and reason
--   share: messages / consumed (what the batch consumed, ops.ingest_runs, repeated on each of its rows)
with batches as (
    select batch_id, finished_at, consumed, landed, duplicates
    from ops.ingest_runs
    where consumed > 0
),

quarantined as (
    select
        batch_id,
        case
            when reason_code = 'event_id_conflict' or reason_detail like 'landing: %'
                then 'landing'
            -- a suite's reason reads "<suite>.v1 <expectation>(<column>)"
            when reason_detail like 'GX validation: %'
                or regexp_matches(reason_detail, '^[a-z_]+\.v1 Expect[A-Za-z]+\(')
                then 'gx'
            when reason_detail like 'normalise: %' or reason_detail like 'staging %'
                then 'staging'
            else 'contract'
        end as stage,
        reason_code,
        count(*) as messages
    from quarantine.events
    group by all
),

outcomes as (
    select batch_id, 'landed' as outcome, null as stage, null as reason_code, landed as messages
    from batches
    union all
    select batch_id, 'duplicate', null, null, duplicates
    from batches
    union all
    select batch_id, 'quarantined', stage, reason_code, messages
    from quarantined
)

select
    b.batch_id,
    b.finished_at,
    o.outcome,
    o.stage,
    o.reason_code,
    o.messages,
    b.consumed,
    o.messages / b.consumed as share
from outcomes as o
inner join batches as b using (batch_id)
where o.messages > 0
