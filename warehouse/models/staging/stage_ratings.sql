-- The stage each institution has reached in each capability: its latest deployment milestone, or its survey stage answer when no milestone exists; ties go to the later occurred_at.
-- grain: one row per institution × capability (institution-level subjects; a capability whose latest stage is retired is left out)
-- columns:
--   rating_source: milestone or survey
--   rated_on: the milestone's effective_date, or the date the survey response occurred (in its producer's time zone)
--   event_id: the event the rating comes from
with milestones as (
    select
        entity_id,
        institution_type,
        capability,
        stage,
        stage_ordinal,
        'milestone' as rating_source,
        effective_date as rated_on,
        occurred_at,
        event_id
    from staging.deployment_milestones
    where level = 'institution'
),

survey_stages as (
    select
        entity_id,
        institution_type,
        capability,
        stage,
        stage_ordinal,
        'survey' as rating_source,
        occurred_on as rated_on,
        occurred_at,
        event_id
    from staging.survey_answers
    where kind = 'stage' and is_latest_response
),

candidates as (
    select * from milestones
    union all
    select * from survey_stages
    where not exists (
        select 1 from milestones as m
        where m.entity_id = survey_stages.entity_id and m.capability = survey_stages.capability
    )
),

latest as (
    select *
    from candidates
    qualify row_number() over (
        partition by entity_id, capability order by rated_on desc, occurred_at desc, event_id desc
    ) = 1
)

-- a capability whose latest stage is retired has no stage on the lifecycle any more
select entity_id, institution_type, capability, stage, stage_ordinal, rating_source, rated_on, event_id
from latest
where stage_ordinal is not null
