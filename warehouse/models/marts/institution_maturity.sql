-- One maturity score per institution and panel: its mean stage over the capabilities it is rated in, on a 0–100 scale.
-- grain: one row per panel × institution with at least one rating in it
-- unique: panel, entity_id
-- not_null: panel, entity_id, institution_type, capabilities_rated, mean_stage, maturity_index, as_of
-- columns:
--   panel: a survey's wave (survey_id/wave) or 'milestones' (staging.stage_ratings): compare institutions within one panel
--   entity_name_zh, entity_name_en: the institution's name in Chinese and English (reference.entities: the registry's, generated for synthetic institutions; NULL for an entity only events describe, which marts.dim_entity names)
--   capabilities_rated: capabilities with a rating (staging.stage_ratings)
--   mean_stage: mean stage ordinal, 1–5
--   maturity_index: (mean_stage - 1) / 4 × 100, so planning everywhere is 0 and iteration everywhere is 100
--   is_synthetic, is_constructed: any rating it rests on is synthetic, or constructed (source.provenance)
--   as_of: the date of the newest rating it rests on
select
    r.panel,
    r.entity_id,
    any_value(e.name_zh) as entity_name_zh,
    any_value(e.name_en) as entity_name_en,
    any_value(r.institution_type) as institution_type,
    count(*) as capabilities_rated,
    avg(r.stage_ordinal) as mean_stage,
    (avg(r.stage_ordinal) - 1) / 4 * 100 as maturity_index,
    max(r.rated_on) as as_of,
    bool_or(r.is_synthetic) as is_synthetic,
    bool_or(r.is_constructed) as is_constructed
from staging.stage_ratings as r
left join reference.entities as e on e.entity_id = r.entity_id
group by r.panel, r.entity_id
