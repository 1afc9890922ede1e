-- Every growth rate a source states, beside the growth its series' levels give for that period and for the next one: a label that fits the next period's growth but not its own was printed one period early.
-- grain: one row per spend_series figure with a reported_yoy
-- unique: entity_id, scope, spend_class, technology, measure, currency, fiscal_period, status
-- not_null: entity_id, scope, spend_class, currency, series_key, fiscal_period, status, event_id, reported_yoy
-- references: scope -> reference.taxonomy_terms[scope]
-- references: spend_class -> reference.taxonomy_terms[spend_class]
-- references: technology -> reference.taxonomy_terms[spend_technology]
-- references: currency -> reference.taxonomy_terms[currency]
-- references: status -> reference.taxonomy_terms[status]
-- columns:
--   entity_name_zh, entity_name_en: the entity's name in Chinese and English (reference.entities: the registry's, generated for synthetic institutions; NULL for an entity only events describe, which marts.dim_entity names)
--   technology_label_zh, technology_label_en: the technology's name (reference.taxonomy_terms, spend_technology); NULL with technology
--   fits_own: reported_yoy meets [yoy_low, yoy_high] within its own rounding; NULL when the figure has no computed yoy
--   next_period, next_event_id: the figure whose growth is computed from this one (the same series, one period on)
--   fits_next: reported_yoy meets the next figure's growth range within its rounding; NULL without a next figure
--   is_synthetic, is_constructed: the labelled figure's source.provenance
--   series_shifted: at least two labels of the series fit the next period's growth and not their own: the series' labels sit one period early (yoy_shifted), and those labels are not counted as yoy_mismatch
with labelled as (
    select * from marts.spend_series where reported_yoy is not null
),

following as (
    select
        l.event_id,
        n.fiscal_period as next_period,
        n.event_id as next_event_id,
        n.yoy_low as next_low,
        n.yoy_high as next_high
    from labelled as l
    inner join marts.spend_series as n on n.previous_event_id = l.event_id
    -- an actual follows first, as an actual's growth is computed from actuals only
    qualify row_number() over (
        partition by l.event_id order by n.status = 'actual' desc, n.fiscal_period, n.event_id
    ) = 1
),

fits as (
    select
        l.entity_id,
        l.entity_name_zh,
        l.entity_name_en,
        l.scope,
        l.spend_class,
        l.technology,
        l.technology_label_zh,
        l.technology_label_en,
        l.measure,
        l.currency,
        l.series_key,
        l.series_label,
        l.fiscal_period,
        l.status,
        l.event_id,
        l.previous_period,
        l.previous_event_id,
        l.reported_yoy,
        l.reported_yoy_rounding,
        l.yoy,
        l.yoy_low,
        l.yoy_high,
        l.is_synthetic,
        l.is_constructed,
        f.next_period,
        f.next_event_id,
        case when l.yoy_low is not null then
            l.reported_yoy + l.reported_yoy_rounding >= l.yoy_low
            and l.reported_yoy - l.reported_yoy_rounding <= l.yoy_high
        end as fits_own,
        case when f.next_low is not null then
            l.reported_yoy + l.reported_yoy_rounding >= f.next_low
            and l.reported_yoy - l.reported_yoy_rounding <= f.next_high
        end as fits_next
    from labelled as l
    left join following as f on f.event_id = l.event_id
)

select
    *,
    count(*) filter (where fits_next and not coalesce(fits_own, false))
        over (partition by series_key) >= 2 as series_shifted
from fits
