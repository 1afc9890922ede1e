-- One maturity score per institution and panel: its mean stage over the capabilities it is rated in, on a 0–100 scale.
-- grain: one row per panel × institution with at least one rating in it
-- columns:
--   panel: a survey's wave (survey_id/wave) or 'milestones' (staging.stage_ratings): compare institutions within one panel
--   capabilities_rated: capabilities with a rating (staging.stage_ratings)
--   mean_stage: mean stage ordinal, 1–5
--   maturity_index: (mean_stage - 1) / 4 × 100, so planning everywhere is 0 and iteration everywhere is 100
--   is_synthetic, is_constructed: any rating it rests on is synthetic, or constructed (source.provenance)
--   as_of: the date of the newest rating it rests on
select
    panel,
    entity_id,
    any_value(institution_type) as institution_type,
    count(*) as capabilities_rated,
    avg(stage_ordinal) as mean_stage,
    (avg(stage_ordinal) - 1) / 4 * 100 as maturity_index,
    max(rated_on) as as_of,
    bool_or(is_synthetic) as is_synthetic,
    bool_or(is_constructed) as is_constructed
from staging.stage_ratings
group by panel, entity_id
