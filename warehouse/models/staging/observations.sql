-- Every landed observation (contract v1.2): a market size, KPI, rate, share, growth rate or stated CAGR as the source printed it, with the rounding its printed digits carry.
-- grain: one row per observation event: entity × measure × metric × unit × fiscal_period × status × vintage (× presentation, for a figure a document prints twice)
-- unique: event_id
-- not_null: event_id, entity_id, measure, metric, status, vintage, value, unit, figure_key
-- references: level -> reference.taxonomy_terms[level]
-- references: institution_type -> reference.taxonomy_terms[institution_type]
-- references: metric -> reference.taxonomy_terms[observation_metric]
-- references: status -> reference.taxonomy_terms[status]
-- references: bound -> reference.taxonomy_terms[bound]
-- references: presentation -> reference.taxonomy_terms[presentation]
-- columns:
--   span_from_year: the year of span_from (its first four digits)
--   measure: the source's own name for what it measures; figures of different measures never compare
--   metric: level, share, rate, growth, cagr or multiple
--   fiscal_period: NULL when the source states no period
--   value: as printed, in unit (a percentage as 45.49 with unit %); the lower end of a printed range
--   value_high: the upper end of a printed range; NULL for a single value
--   value_printed, value_high_printed: the numbers as the wire carries them, with their printed digits (8.0, not 8)
--   value_rounding: half a unit of value's last printed digit (33.4 carries ±0.05)
--   value_high_rounding: the same for value_high
--   value_low_bound, value_high_bound: the interval the printed figure allows: its range widened by the rounding (a range 73–80 gives 72.5 to 80.5)
--   unit: the source's own unit as printed (亿元, 亿美元, %, 人 …)
--   presentation: chart, table, text or summary; NULL when not stated
--   cited_source: the data source the document cites for the figure
--   part_of: the measure of the whole this figure is a part of (same entity, period and unit)
--   base_measure, base_count, numerator_measure: what a share is of, the stated size of its base, and its numerator's measure
--   figure_key: entity, measure, metric, unit, fiscal_period, span_from and status joined with '|': one printed figure (a chart's and the text's copy of it share a key)
--   series_label: entity and "measure" in words, as findings name a figure
--   period_month, span_from_month: the last month of fiscal_period and of span_from, counted from year 0 (2019 is 2019 × 12 + 12, 2020H1 2020 × 12 + 6): spans of halves and quarters in fractional years
--   vintage_rank: 1 for the latest vintage of the figure as printed in one place (figure_key × presentation), 2 for the one before, …
--   is_latest_vintage: vintage_rank = 1; a figure a document prints in a chart and in the text has two latest rows, one per presentation
--   is_counted_once: the one row of a figure that rules adding or comparing figures count: per document, entity, measure, metric, period, status and unit, the latest vintage, a chart's printing before a table's, the text's or the summary's (their disagreement is text_vs_chart's)
--   is_period_level: an exact or approximate level that growth and CAGRs start or end on: per document, entity, measure, unit and period, the actual one where the period has an actual and a forecast, the latest vintage (every printing of it)
--   is_synthetic: source.provenance is synthetic (generated data, never a source's)
--   is_constructed: source.provenance is constructed (rebuilt from printed figures by the source's own stated method)
with observations as (
    select
        event_id,
        entity_id,
        level,
        institution_type,
        tier,
        measure,
        metric,
        fiscal_period,
        cast(left(fiscal_period, 4) as integer) as fiscal_year,
        span_from,
        cast(left(span_from, 4) as integer) as span_from_year,
        status,
        vintage,
        value,
        value_high,
        coalesce(bound, 'exact') as bound,
        unit,
        currency,
        presentation,
        cited_source,
        part_of,
        base_measure,
        base_count,
        numerator_measure,
        -- the wire's number text is the printed precision; a decoded double has lost it
        regexp_extract(raw_json, '"value"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1) as value_printed,
        nullif(regexp_extract(raw_json, '"value_high"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1), '')
            as value_high_printed,
        source_publisher,
        source_document,
        source_locator,
        coalesce(source_provenance = 'synthetic', false) as is_synthetic,
        coalesce(source_provenance = 'constructed', false) as is_constructed,
        occurred_at,
        kafka_topic,
        kafka_partition,
        kafka_offset,
        ingested_at
    from raw.observations
),

with_rounding as (
    select
        *,
        0.5 * pow(10, -(case when value_printed like '%.%'
            then length(value_printed) - strpos(value_printed, '.') else 0 end)) as value_rounding,
        case when value_high is not null then
            0.5 * pow(10, -(case when value_high_printed like '%.%'
                then length(value_high_printed) - strpos(value_high_printed, '.') else 0 end))
        end as value_high_rounding
    from observations
),

keyed as (
    select
        *,
        value - value_rounding as value_low_bound,
        coalesce(value_high + value_high_rounding, value + value_rounding) as value_high_bound,
        concat_ws(
            '|', entity_id, measure, metric, unit, coalesce(fiscal_period, '-'),
            coalesce(span_from, '-'), status
        ) as figure_key,
        concat_ws(' ', entity_id, '"' || measure || '"') as series_label,
        fiscal_year * 12 + case substr(fiscal_period, 5)
            when 'H1' then 6 when 'Q1' then 3 when 'Q2' then 6 when 'Q3' then 9 else 12
        end as period_month,
        span_from_year * 12 + case substr(span_from, 5)
            when 'H1' then 6 when 'Q1' then 3 when 'Q2' then 6 when 'Q3' then 9 else 12
        end as span_from_month
    from with_rounding
),

ranked as (
    select
        *,
        row_number() over (
            partition by figure_key, presentation
            order by vintage desc, occurred_at desc, event_id desc
        ) as vintage_rank,
        vintage_rank = 1 as is_latest_vintage
    from keyed
)

select
    *,
    row_number() over (
        partition by source_document, entity_id, measure, metric, fiscal_period, status, unit
        order by vintage desc,
            case presentation when 'chart' then 1 when 'table' then 2 when 'text' then 3
                when 'summary' then 4 else 5 end,
            occurred_at desc, event_id
    ) = 1 as is_counted_once,
    coalesce(
        metric = 'level' and bound in ('exact', 'approx') and is_latest_vintage
        and fiscal_period is not null
        and dense_rank() over (
            partition by source_document, entity_id, measure, metric, unit, fiscal_period,
                bound in ('exact', 'approx'), is_latest_vintage
            order by status = 'actual' desc, vintage desc
        ) = 1,
        false
    ) as is_period_level
from ranked
