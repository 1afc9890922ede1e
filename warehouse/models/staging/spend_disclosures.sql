-- Every landed spend figure, typed and in 亿 of its currency, with the rounding its printed digits carry and its place among the vintages of its key.
-- grain: one row per spend_disclosure event: entity × scope × spend_class × technology × measure × currency × fiscal_period × status × vintage
-- unique: event_id
-- not_null: event_id, entity_id, scope, spend_class, fiscal_period, status, vintage, currency, amount_yi, figure_key, series_key
-- references: level -> reference.taxonomy_terms[level]
-- references: institution_type -> reference.taxonomy_terms[institution_type]
-- references: scope -> reference.taxonomy_terms[scope]
-- references: spend_class -> reference.taxonomy_terms[spend_class]
-- references: technology -> reference.taxonomy_terms[spend_technology]
-- references: status -> reference.taxonomy_terms[status]
-- references: currency -> reference.taxonomy_terms[currency]
-- references: bound -> reference.taxonomy_terms[bound]
-- columns:
--   is_synthetic: source.provenance is synthetic (generated data, never a source's)
--   is_constructed: source.provenance is constructed (rebuilt to aggregate to what a source published)
--   measure: the source's own name for what it measures (contract v1.1); NULL: not stated
--   figure_key: entity, scope, spend_class, technology, measure, currency, fiscal_period and status, joined with '|': a later vintage of the same key restates the earlier (the same thing measured in the same currency; a figure in another currency or of another measure is another figure)
--   fiscal_year: the calendar year of fiscal_period
--   period_kind: year, half or quarter
--   series_label: entity id, then scope, spend_class and technology in words (their English labels), then "measure", as findings name a figure: cn.bank.icbc technology spend, frontier technology (AI) "…"
--   series_key: entity, scope, spend_class, technology, measure, currency, period kind and the half or quarter, joined with '|': the series a figure belongs to (growth, CAGRs and growth labels never leave it)
--   amount_yi: amount in 亿 of currency (亿元 for CNY, 亿美元 for USD): never added across currencies
--   amount_yi_rounding: half a unit of the amount's last printed digit, in 亿 (163.74 carries ±0.005)
--   reported_yoy_rounding: half a unit of reported_yoy's last printed digit (0.191 carries ±0.0005)
--   stated_cagr, stated_cagr_from: a CAGR the source states for the series from stated_cagr_from to this period (contract v1.1)
--   stated_cagr_rounding: half a unit of stated_cagr's last printed digit
--   vintage_rank: 1 for the latest vintage of the key, 2 for the one before, …
--   is_latest_vintage: vintage_rank = 1
--   vintages: how many vintages the key has
with figures as (
    select
        event_id,
        entity_id,
        level,
        institution_type,
        tier,
        scope,
        spend_class,
        technology,
        measure,
        fiscal_period,
        cast(left(fiscal_period, 4) as integer) as fiscal_year,
        case
            when length(fiscal_period) = 4 then 'year'
            when fiscal_period[5] = 'H' then 'half'
            else 'quarter'
        end as period_kind,
        status,
        vintage,
        amount,
        unit,
        currency,
        amount_yi,
        coalesce(bound, 'exact') as bound,
        revenue_share,
        reported_yoy,
        stated_cagr,
        stated_cagr_from,
        tech_headcount,
        tech_headcount_share,
        -- the wire's number text is the printed precision; a decoded double has lost it
        regexp_extract(raw_json, '"amount"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1) as amount_text,
        regexp_extract(raw_json, '"reported_yoy"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1) as reported_yoy_text,
        regexp_extract(raw_json, '"stated_cagr"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1) as stated_cagr_text,
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
    from raw.spend_disclosures
),

with_rounding as (
    select
        figures.*,
        concat_ws(
            '|', entity_id, scope, spend_class, coalesce(technology, '-'), coalesce(measure, '-'),
            currency, fiscal_period, status
        ) as figure_key,
        concat_ws(
            '|', entity_id, scope, spend_class, coalesce(technology, '-'), coalesce(measure, '-'),
            currency, period_kind, substr(fiscal_period, 5)
        ) as series_key,
        concat_ws(
            ' ', entity_id,
            lower(scope_term.label_en) || ', ' || lower(class_term.label_en)
                || coalesce(' (' || technology_term.label_en || ')', ''),
            '"' || measure || '"'
        ) as series_label,
        0.5 * pow(10, -(case when amount_text like '%.%'
            then length(amount_text) - strpos(amount_text, '.') else 0 end))
            * amount_yi / amount as amount_yi_rounding,
        case when reported_yoy is not null then
            0.5 * pow(10, -(case when reported_yoy_text like '%.%'
                then length(reported_yoy_text) - strpos(reported_yoy_text, '.') else 0 end))
        end as reported_yoy_rounding,
        case when stated_cagr is not null then
            0.5 * pow(10, -(case when stated_cagr_text like '%.%'
                then length(stated_cagr_text) - strpos(stated_cagr_text, '.') else 0 end))
        end as stated_cagr_rounding
    from figures
    -- the labels findings name a series by (the codes are in the grain columns)
    left join reference.taxonomy_terms as scope_term
        on scope_term.taxonomy = 'scope' and scope_term.code = figures.scope
    left join reference.taxonomy_terms as class_term
        on class_term.taxonomy = 'spend_class' and class_term.code = figures.spend_class
    left join reference.taxonomy_terms as technology_term
        on technology_term.taxonomy = 'spend_technology'
        and technology_term.code = figures.technology
)

select
    * exclude (amount_text, reported_yoy_text, stated_cagr_text),
    row_number() over (
        partition by figure_key order by vintage desc, occurred_at desc, event_id desc
    ) as vintage_rank,
    vintage_rank = 1 as is_latest_vintage,
    count(*) over (partition by figure_key) as vintages
from with_rounding
