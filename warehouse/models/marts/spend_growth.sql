-- Compound annual growth of each yearly spend series, between its first and last year with a level; a series never crosses measures, currencies or (for estimates and forecasts) the vintage that projected it.
-- grain: entity × scope × spend_class × technology × measure × currency × status × forecast_vintage (yearly figures, latest vintage; lower bounds left out)
-- unique: entity_id, scope, spend_class, technology, measure, currency, status, forecast_vintage
-- not_null: entity_id, scope, spend_class, currency, status, start_period, end_period, periods, points, start_yi, end_yi
-- references: scope -> reference.taxonomy_terms[scope]
-- references: spend_class -> reference.taxonomy_terms[spend_class]
-- references: technology -> reference.taxonomy_terms[spend_technology]
-- references: currency -> reference.taxonomy_terms[currency]
-- references: status -> reference.taxonomy_terms[status]
-- columns:
--   entity_name_zh, entity_name_en: the entity's name in Chinese and English (reference.entities: the registry's, generated for synthetic institutions; NULL for an entity only events describe, which marts.dim_entity names)
--   technology_label_zh, technology_label_en: the technology's name (reference.taxonomy_terms, spend_technology); NULL with technology
--   measure: the source's own name for what it measures; NULL: not stated
--   forecast_vintage: for estimates and forecasts, the vintage (as-of date) of the projection: one report's forecasts form a series, another report's another. NULL for actuals, whose series runs across vintages (each year at its latest)
--   start_period, end_period: the first and last year of the series
--   periods: years between them (end - start)
--   points: yearly figures in the series
--   start_yi, end_yi: the levels the growth is computed from, in 亿 of currency
--   source_documents: how many documents the series' points come from
--   series_break: the points come from several documents and none states its measure, so they may measure different things: no cagr is given
--   is_synthetic, is_constructed: any figure it rests on is synthetic, or constructed (source.provenance)
--   cagr: (end_yi / start_yi) ^ (1 / periods) - 1; NULL for a single year or a series_break
with yearly as (
    select
        *,
        case when status <> 'actual' then vintage end as forecast_vintage
    from marts.spend_series
    where period_kind = 'year' and bound in ('exact', 'approx')
),

series as (
    select
        entity_id,
        any_value(entity_name_zh) as entity_name_zh,
        any_value(entity_name_en) as entity_name_en,
        scope,
        spend_class,
        technology,
        any_value(technology_label_zh) as technology_label_zh,
        any_value(technology_label_en) as technology_label_en,
        measure,
        currency,
        status,
        forecast_vintage,
        min(fiscal_period) as start_period,
        max(fiscal_period) as end_period,
        max(fiscal_year) - min(fiscal_year) as periods,
        count(*) as points,
        arg_min(amount_yi, fiscal_year) as start_yi,
        arg_max(amount_yi, fiscal_year) as end_yi,
        count(distinct source_document) as source_documents,
        bool_or(is_synthetic) as is_synthetic,
        bool_or(is_constructed) as is_constructed
    from yearly
    group by entity_id, scope, spend_class, technology, measure, currency, status, forecast_vintage
)

select
    * exclude (source_documents),
    source_documents,
    measure is null and source_documents > 1 as series_break,
    case
        when periods > 0 and not series_break then pow(end_yi / start_yi, 1.0 / periods) - 1
    end as cagr
from series
