-- Every entity analysts can filter or join on: institutions, groups, segments and industry aggregates.
-- grain: one row per entity
-- unique: entity_id
-- not_null: entity_id, level, institution_type, origin
-- references: level -> reference.taxonomy_terms[level]
-- references: institution_type -> reference.taxonomy_terms[institution_type]
-- references: tier -> reference.taxonomy_terms[tier]
-- columns:
--   members_expected: number of members a group declares (NULL for other levels or undeclared)
--   origin: registry (contracts/reference/entities), synthetic (an institution of the synthetic stream) or events (a subject only events describe)
--   is_synthetic: an institution of the synthetic stream; its names are generated ("Synthetic city commercial bank 042" / "合成城市商业银行042", contracts/synthetic_entities.py), not a real institution's
select
    entity_id,
    level,
    institution_type,
    tier,
    name_zh,
    name_en,
    members,
    len(members) as members_expected,
    origin,
    is_synthetic
from staging.entities
