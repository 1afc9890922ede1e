-- Landing cases of technology in each capability by how they were sourced: counted cases a segment publishes, plus institutions' own deployments at their latest stage.
-- grain: institution_type × capability × sourcing (NULL sourcing = not stated)
-- unique: institution_type, capability, sourcing
-- not_null: institution_type, capability, cases
-- references: capability -> reference.taxonomy_terms[capability]
-- references: sourcing -> reference.taxonomy_terms[sourcing]
-- columns:
--   capability_label_zh, capability_label_en: the capability's name (reference.taxonomy_terms)
--   cases: published case counts (case_count) plus one per institution deployment (entity × technology × capability × product at its latest milestone) that reached exploration or beyond and is not retired
--   is_synthetic, is_constructed: any milestone it rests on is synthetic, or constructed (source.provenance)
--   share_of_type: cases / all cases of the institution type with a stated sourcing (NULL for unstated sourcing)
with institution_deployments as (
    select *
    from staging.deployment_milestones
    where level = 'institution'
    qualify row_number() over (
        partition by entity_id, technology, capability, coalesce(product, '')
        order by effective_date desc, occurred_at desc, event_id desc
    ) = 1
),

landed as (
    select institution_type, capability, sourcing, cases, is_synthetic, is_constructed
    from staging.deployment_milestones
    where level <> 'institution' and stage_ordinal >= 2
    union all
    select institution_type, capability, sourcing, 1 as cases, is_synthetic, is_constructed
    from institution_deployments
    where stage_ordinal >= 2
),

by_cell as (
    select
        institution_type,
        capability,
        sourcing,
        cast(sum(cases) as bigint) as cases,
        bool_or(is_synthetic) as is_synthetic,
        bool_or(is_constructed) as is_constructed
    from landed
    group by institution_type, capability, sourcing
)

select
    b.institution_type,
    b.capability,
    cap.label_zh as capability_label_zh,
    cap.label_en as capability_label_en,
    b.sourcing,
    b.cases,
    case when b.sourcing is not null then
        b.cases
        / sum(b.cases) filter (where b.sourcing is not null) over (partition by b.institution_type)
    end as share_of_type,
    b.is_synthetic,
    b.is_constructed
from by_cell as b
left join reference.taxonomy_terms as cap
    on cap.taxonomy = 'capability' and cap.code = b.capability
