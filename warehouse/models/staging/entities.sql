-- Every entity the warehouse knows: the registry's, then any other subject events describe (latest description wins), with the members of groups.
-- grain: one row per entity_id
-- unique: entity_id
-- not_null: entity_id, level, institution_type, origin
-- references: level -> reference.taxonomy_terms[level]
-- references: institution_type -> reference.taxonomy_terms[institution_type]
-- references: tier -> reference.taxonomy_terms[tier]
-- columns:
--   members: the group's members (registry first, else the latest event's subject.members)
--   origin: registry, synthetic (an institution of the synthetic stream, named in contracts/synthetic_entities.py), or events for subjects only events describe
--   is_synthetic: an institution of the synthetic stream: its name is generated, not real
with subjects as (
    select entity_id, level, institution_type, tier, name_zh, name_en, members, occurred_at
    from raw.spend_disclosures
    union all
    select entity_id, level, institution_type, tier, name_zh, name_en, members, occurred_at
    from raw.deployment_milestones
    union all
    select entity_id, level, institution_type, tier, name_zh, name_en, members, occurred_at
    from raw.survey_responses
),

latest_subject as (
    select *
    from subjects
    qualify row_number() over (partition by entity_id order by occurred_at desc, name_zh) = 1
),

registry_members as (
    select group_id as entity_id, list(member_id order by member_id) as members
    from reference.group_members
    group by group_id
)

select
    e.entity_id,
    e.level,
    e.institution_type,
    e.tier,
    e.name_zh,
    e.name_en,
    coalesce(m.members, s.members) as members,
    case when e.is_synthetic then 'synthetic' else 'registry' end as origin,
    e.is_synthetic
from reference.entities as e
left join registry_members as m on m.entity_id = e.entity_id
left join latest_subject as s on s.entity_id = e.entity_id
union all
select
    s.entity_id,
    s.level,
    s.institution_type,
    s.tier,
    s.name_zh,
    s.name_en,
    s.members,
    'events' as origin,
    false as is_synthetic
from latest_subject as s
where s.entity_id not in (select entity_id from reference.entities)
