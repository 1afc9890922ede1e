-- Every answer of every landed survey response, with its question's kind and rated capability, marked when a later response of the same respondent supersedes it.
-- grain: one row per survey_response event × answered question
-- columns:
--   is_latest_response: the respondent's latest response to this survey and wave (later occurred_at wins)
--   capability: the capability a stage question rates (reference.survey_questions)
--   stage_ordinal: 1–5 for a stage answer, NULL otherwise or for retired
with responses as (
    select
        event_id,
        survey_id,
        wave,
        respondent_id,
        entity_id,
        institution_type,
        department,
        occurred_at,
        row_number() over (
            partition by survey_id, wave, respondent_id order by occurred_at desc, event_id desc
        ) = 1 as is_latest_response
    from raw.survey_responses
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
