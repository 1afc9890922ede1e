-- Every answer of every landed survey response, with its question's kind and rated capability, marked when a later response of the same respondent supersedes it.
-- grain: one row per survey_response event × answered question
-- unique: event_id, question_id
-- not_null: event_id, survey_id, wave, respondent_id, question_id, kind
-- references: survey_id, question_id -> reference.survey_questions
-- references: kind -> reference.taxonomy_terms[answer_kind]
-- references: capability -> reference.taxonomy_terms[capability]
-- references: stage -> reference.taxonomy_terms[stage]
-- columns:
--   occurred_on: the date of occurred_at in the producer's own time zone (the offset it was written with): a response at 2025-04-01T00:00+08:00 is of 1 April, not of the UTC day before
--   is_synthetic: source.provenance is synthetic (generated data, never a source's)
--   is_constructed: source.provenance is constructed (rebuilt to aggregate to what a source published)
--   is_latest_response: the respondent's latest response to this survey and wave (later occurred_at wins)
--   capability: the capability a stage question rates (reference.survey_questions)
--   stage_ordinal: 1–5 for a stage answer, NULL otherwise or for retired
with offsets as (
    select
        *,
        regexp_extract(
            raw_json, '"occurred_at"\s*:\s*"[^"]*?([+-][0-9]{2}:[0-9]{2})"', 1
        ) as utc_offset
    from raw.survey_responses
),

responses as (
    select
        event_id,
        survey_id,
        wave,
        respondent_id,
        entity_id,
        institution_type,
        department,
        occurred_at,
        coalesce(source_provenance = 'synthetic', false) as is_synthetic,
        coalesce(source_provenance = 'constructed', false) as is_constructed,
        cast(
            (occurred_at at time zone 'UTC')
            + to_minutes(case when utc_offset = '' then 0 else
                (case when utc_offset[1] = '-' then -1 else 1 end)
                * (cast(utc_offset[2:3] as integer) * 60 + cast(utc_offset[5:6] as integer))
            end)
            as date
        ) as occurred_on,
        row_number() over (
            partition by survey_id, wave, respondent_id order by occurred_at desc, event_id desc
        ) = 1 as is_latest_response
    from offsets
)

select
    r.event_id,
    r.survey_id,
    r.wave,
    r.respondent_id,
    r.entity_id,
    r.institution_type,
    r.department,
    r.occurred_at,
    r.occurred_on,
    r.is_synthetic,
    r.is_constructed,
    r.is_latest_response,
    a.answer_index,
    a.question_id,
    a.kind,
    a.options,
    a.score,
    a.stage,
    q.capability,
    s.ordinal as stage_ordinal
from responses as r
inner join raw.survey_answers as a on a.event_id = r.event_id
left join reference.survey_questions as q
    on q.survey_id = r.survey_id and q.question_id = a.question_id
left join reference.taxonomy_terms as s
    on s.taxonomy = 'stage' and s.code = a.stage
