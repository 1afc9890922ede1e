-- How many institutions of a type stand at each stage of a capability within one panel, every stage listed even when empty.
-- grain: panel × institution_type × capability × stage (the five lifecycle stages)
-- unique: panel, institution_type, capability, stage
-- not_null: panel, institution_type, capability, stage, stage_ordinal, institutions
-- references: capability -> reference.taxonomy_terms[capability]
-- references: stage -> reference.taxonomy_terms[stage]
-- columns:
--   panel: a survey's wave (survey_id/wave) or 'milestones' (staging.stage_ratings)
--   capability_label_zh, capability_label_en: the capability's name (reference.taxonomy_terms)
--   stage_label_zh, stage_label_en: the stage's name (reference.taxonomy_terms)
--   stage_ordinal: 1–5
--   institutions: institutions whose rating is this stage
--   is_synthetic, is_constructed: any rating it rests on is synthetic, or constructed (source.provenance)
--   share: institutions / all institutions of the type rated in the capability in the panel
with stages as (
    select
        code as stage,
        ordinal as stage_ordinal,
        label_zh as stage_label_zh,
        label_en as stage_label_en
    from reference.taxonomy_terms
    where taxonomy = 'stage' and ordinal is not null
),

rated as (
    select
        panel,
        institution_type,
        capability,
        bool_or(is_synthetic) as is_synthetic,
        bool_or(is_constructed) as is_constructed
    from staging.stage_ratings
    group by panel, institution_type, capability
),

counts as (
    select panel, institution_type, capability, stage, count(*) as institutions
    from staging.stage_ratings
    group by panel, institution_type, capability, stage
)

select
    r.panel,
    r.institution_type,
    r.capability,
    cap.label_zh as capability_label_zh,
    cap.label_en as capability_label_en,
    s.stage,
    s.stage_label_zh,
    s.stage_label_en,
    s.stage_ordinal,
    coalesce(c.institutions, 0) as institutions,
    coalesce(c.institutions, 0)
        / sum(coalesce(c.institutions, 0))
            over (partition by r.panel, r.institution_type, r.capability)
        as share,
    r.is_synthetic,
    r.is_constructed
from rated as r
cross join stages as s
left join counts as c
    on c.panel = r.panel
    and c.institution_type = r.institution_type
    and c.capability = r.capability
    and c.stage = s.stage
left join reference.taxonomy_terms as cap
    on cap.taxonomy = 'capability' and cap.code = r.capability
