-- Every entity analysts can filter or join on: institutions, groups, segments and industry aggregates.
-- grain: one row per entity
-- columns:
--   members_expected: number of members a group declares (NULL for other levels or undeclared)
--   origin: registry (contracts/reference/entities) or events (a subject only events describe)
select
    entity_id,
    level,
    institution_type,
    tier,
    name_zh,
    name_en,
    members,
    len(members) as members_expected,
    origin
from staging.entities
