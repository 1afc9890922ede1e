-- Spend figures at their latest vintage, with year-over-year growth computed from the levels beside the growth the source states.
-- grain: entity × scope × spend_class × technology × measure × currency × fiscal_period × status (latest vintage)
-- unique: entity_id, scope, spend_class, technology, measure, currency, fiscal_period, status
-- not_null: entity_id, scope, spend_class, currency, fiscal_period, status, vintage, amount_yi, series_key, event_id
-- references: scope -> reference.taxonomy_terms[scope]
-- references: spend_class -> reference.taxonomy_terms[spend_class]
-- references: technology -> reference.taxonomy_terms[spend_technology]
-- references: currency -> reference.taxonomy_terms[currency]
-- references: status -> reference.taxonomy_terms[status]
-- references: bound -> reference.taxonomy_terms[bound]
-- columns:
--   entity_name_zh, entity_name_en: the entity's name in Chinese and English (reference.entities: the registry's, generated for synthetic institutions; NULL for an entity only events describe, which marts.dim_entity names)
--   technology: NULL = all technologies of the spend class
--   technology_label_zh, technology_label_en: the technology's name (reference.taxonomy_terms, spend_technology); NULL with technology
--   measure: the source's own name for what it measures; NULL: not stated. A series (and its yoy) never crosses measures
--   amount_yi: in 亿 of currency (亿元, 亿美元): compare and add only within one currency
--   yoy: amount / the same series' amount one year earlier - 1. An actual compares with the previous actual only; an estimate or forecast with the previous period's actual if there is one, else its estimate, else its forecast. NULL when either figure is a bound (gt, gte) or absent
--   yoy_low, yoy_high: the range yoy can take given the rounding of both printed levels
--   yoy_gap: reported_yoy - yoy
--   is_restated: an earlier vintage of the same figure exists
--   series_key, series_label: the series the figure belongs to, and its name in words (staging.spend_disclosures)
--   stated_cagr, stated_cagr_from, stated_cagr_rounding: a CAGR the source states for the series from stated_cagr_from to this period, and half its last printed digit (cagr_mismatch checks it)
--   previous_period, previous_status, previous_event_id: the figure yoy compares with
--   is_synthetic, is_constructed: the figure's source.provenance (synthetic: generated; constructed: rebuilt to match published figures)
with latest as (
    select * from staging.spend_disclosures where is_latest_vintage
),

previous as (
    select
        cur.event_id,
        prev.fiscal_period as previous_period,
        prev.status as previous_status,
        prev.event_id as previous_event_id,
        prev.amount_yi as previous_yi,
        prev.amount_yi_rounding as previous_rounding,
        prev.bound as previous_bound
    from latest as cur
    inner join latest as prev
        on prev.series_key = cur.series_key
        and prev.fiscal_year = cur.fiscal_year - 1
    -- forecasts never feed an actual
    where cur.status <> 'actual' or prev.status = 'actual'
    qualify row_number() over (
        partition by cur.event_id
        order by case prev.status when 'actual' then 1 when 'estimate' then 2 else 3 end
    ) = 1
),

with_growth as (
    select
        l.*,
        p.previous_period,
        p.previous_status,
        p.previous_event_id,
        p.previous_yi,
        p.previous_rounding,
        l.bound in ('exact', 'approx') and p.previous_bound in ('exact', 'approx') as comparable
    from latest as l
    left join previous as p on p.event_id = l.event_id
),

entity_names as (
    select entity_id, name_zh as entity_name_zh, name_en as entity_name_en
    from reference.entities
),

technology_labels as (
    select code as technology, label_zh as technology_label_zh, label_en as technology_label_en
    from reference.taxonomy_terms
    where taxonomy = 'spend_technology'
)

select
    entity_id,
    entity_name_zh,
    entity_name_en,
    scope,
    spend_class,
    technology,
    technology_label_zh,
    technology_label_en,
    measure,
    fiscal_period,
    status,
    vintage,
    amount_yi,
    currency,
    bound,
    case when comparable then amount_yi / previous_yi - 1 end as yoy,
    reported_yoy,
    reported_yoy - yoy as yoy_gap,
    revenue_share,
    vintages > 1 as is_restated,
    case when comparable
        then (amount_yi - amount_yi_rounding) / (previous_yi + previous_rounding) - 1
    end as yoy_low,
    case when comparable
        then (amount_yi + amount_yi_rounding) / (previous_yi - previous_rounding) - 1
    end as yoy_high,
    amount_yi_rounding,
    reported_yoy_rounding,
    stated_cagr,
    stated_cagr_from,
    stated_cagr_rounding,
    fiscal_year,
    period_kind,
    series_key,
    series_label,
    level,
    institution_type,
    tech_headcount,
    tech_headcount_share,
    previous_period,
    previous_status,
    previous_event_id,
    event_id,
    source_document,
    source_locator,
    is_synthetic,
    is_constructed
from with_growth
left join entity_names using (entity_id)
left join technology_labels using (technology)
