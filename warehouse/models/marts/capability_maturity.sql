-- How far each capability has matured per institution type within one panel: the spread of institutions over the five-stage lifecycle, summarised and clustered as the 2025 report does.
-- grain: panel × institution_type × capability
-- unique: panel, institution_type, capability
-- not_null: panel, institution_type, capability, institutions, median_stage, mean_stage, share_at_or_beyond_scaled
-- references: capability -> reference.taxonomy_terms[capability]
-- columns:
--   panel: a survey's wave (survey_id/wave) or 'milestones' (staging.stage_ratings): panels are never pooled
--   institutions: distinct institutions rated (staging.stage_ratings)
--   capability_label_zh, capability_label_en: the capability's name (reference.taxonomy_terms)
--   median_stage: the median stage ordinal (the lower middle value for an even count), 1–5
--   mean_stage: the mean stage ordinal
--   share_at_or_beyond_scaled: share of institutions at scaled_deployment (3) or later
--   skewness: Fisher–Pearson population skewness g1 = m3 / m2^1.5 of the stage ordinals; NULL when all share one stage
--   is_synthetic, is_constructed: any rating it rests on is synthetic, or constructed (source.provenance)
--   cluster: leaders (先行派, g1 < -0.3: most institutions late), explorers (探索派, g1 > 0.3), tackling (攻坚派) otherwise; NULL under 10 institutions (the shape of fewer says little) and for the catch-all type other (not one population)
with moments as (
    select
        panel,
        institution_type,
        capability,
        count(*) as institutions,
        quantile_disc(stage_ordinal, 0.5) as median_stage,
        avg(stage_ordinal) as mean_stage,
        avg(case when stage_ordinal >= 3 then 1.0 else 0.0 end) as share_at_or_beyond_scaled,
        list(stage_ordinal) as ordinals,
        bool_or(is_synthetic) as is_synthetic,
        bool_or(is_constructed) as is_constructed
    from staging.stage_ratings
    group by panel, institution_type, capability
),

central as (
    select
        *,
        list_avg(list_transform(ordinals, x -> pow(x - mean_stage, 2))) as m2,
        list_avg(list_transform(ordinals, x -> pow(x - mean_stage, 3))) as m3
    from moments
)

select
    panel,
    institution_type,
    capability,
    cap.label_zh as capability_label_zh,
    cap.label_en as capability_label_en,
    institutions,
    median_stage,
    mean_stage,
    share_at_or_beyond_scaled,
    case when m2 > 0 then m3 / pow(m2, 1.5) end as skewness,
    case
        when institutions < 10 or institution_type = 'other' then null
        when skewness < -0.3 then 'leaders'
        when skewness > 0.3 then 'explorers'
        else 'tackling'
    end as cluster,
    is_synthetic,
    is_constructed
from central
left join reference.taxonomy_terms as cap
    on cap.taxonomy = 'capability' and cap.code = central.capability
