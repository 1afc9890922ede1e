-- The stage each institution has reached in each capability, per panel: a survey wave's stage answers, or the deployment milestones of every source. A panel's ratings are never mixed with another's (a 2025 survey answer is not outranked by a 2016 milestone, nor the reverse).
-- grain: one row per panel × institution × capability (institution-level subjects; a capability with no stage on the lifecycle left out)
-- unique: panel, entity_id, capability
-- not_null: panel, entity_id, institution_type, capability, stage, stage_ordinal, rating_source, rated_on, event_id
-- references: institution_type -> reference.taxonomy_terms[institution_type]
-- references: capability -> reference.taxonomy_terms[capability]
-- references: stage -> reference.taxonomy_terms[stage]
-- references: technology -> reference.taxonomy_terms[deployment_technology]
-- columns:
--   panel: survey_id/wave for a survey's stage answers (the respondent's latest response), or 'milestones': each technology at its latest milestone, the capability at its most advanced technology (a 5G pilot does not undo mature AI in the same capability)
--   rating_source: milestone or survey
--   technology: the technology whose milestone gives the rating; NULL for a survey answer
--   rated_on: the milestone's effective_date, or the date the survey response occurred (in its producer's time zone)
--   event_id: the event the rating comes from
--   is_synthetic, is_constructed: the provenance of that event (staging.deployment_milestones, staging.survey_answers)
with latest_per_technology as (
    select *
    from staging.deployment_milestones
    where level = 'institution'
    qualify row_number() over (
        partition by entity_id, capability, technology
        order by effective_date desc, occurred_at desc, event_id desc
    ) = 1
),

milestones as (
    select
        'milestones' as panel,
        entity_id,
        institution_type,
        capability,
        stage,
        stage_ordinal,
        'milestone' as rating_source,
        technology,
        effective_date as rated_on,
        event_id,
        is_synthetic,
        is_constructed
    from latest_per_technology
    -- a technology whose latest milestone is retired no longer stands anywhere on the lifecycle
    where stage_ordinal is not null
    qualify row_number() over (
        partition by entity_id, capability
        order by stage_ordinal desc, effective_date desc, event_id desc
    ) = 1
),

survey_stages as (
    select
        survey_id || '/' || wave as panel,
        entity_id,
        institution_type,
        capability,
        stage,
        stage_ordinal,
        'survey' as rating_source,
        null::varchar as technology,
        occurred_on as rated_on,
        event_id,
        is_synthetic,
        is_constructed
    from staging.survey_answers
    where kind = 'stage' and is_latest_response and stage_ordinal is not null
    qualify row_number() over (
        partition by survey_id, wave, entity_id, capability
        order by occurred_at desc, event_id desc
    ) = 1
)

select * from milestones
union all
select * from survey_stages
