-- Every landed deployment milestone, typed, with the stage's ordinal on the five-stage lifecycle.
-- grain: one row per deployment_milestone event
-- unique: event_id
-- not_null: event_id, entity_id, level, institution_type, technology, capability, stage, effective_date, cases
-- references: level -> reference.taxonomy_terms[level]
-- references: institution_type -> reference.taxonomy_terms[institution_type]
-- references: technology -> reference.taxonomy_terms[deployment_technology]
-- references: capability -> reference.taxonomy_terms[capability]
-- references: stage -> reference.taxonomy_terms[stage]
-- references: sourcing -> reference.taxonomy_terms[sourcing]
-- columns:
--   stage_ordinal: 1 (planning) to 5 (iteration); NULL for retired
--   case_count: the counted landing cases as printed; NULL when the event does not count cases
--   cases: case_count, 1 when the event does not count cases
--   is_synthetic: source.provenance is synthetic (generated data, never a source's)
--   is_constructed: source.provenance is constructed (rebuilt to aggregate to what a source published)
select
    m.event_id,
    m.entity_id,
    m.level,
    m.institution_type,
    m.tier,
    m.technology,
    m.capability,
    m.stage,
    s.ordinal as stage_ordinal,
    m.effective_date,
    m.date_precision,
    m.sourcing,
    m.case_count,
    coalesce(m.case_count, 1) as cases,
    m.product,
    m.vendor,
    m.xinchuang_layer,
    m.kpis,
    m.source_publisher,
    m.source_document,
    m.source_locator,
    coalesce(m.source_provenance = 'synthetic', false) as is_synthetic,
    coalesce(m.source_provenance = 'constructed', false) as is_constructed,
    m.occurred_at,
    m.kafka_topic,
    m.kafka_partition,
    m.kafka_offset,
    m.ingested_at
from raw.deployment_milestones as m
left join reference.taxonomy_terms as s
    on s.taxonomy = 'stage' and s.code = m.stage
