-- ratio_denominator: a printed share (exact, 约 or a range, read at its printed precision) whose own numerator and denominator (the same entity's figures of numerator_measure and base_measure in the same document and period) cannot give it, whatever their rounding; any printing of the two (a chart's and the text's) that gives it clears it. The detail names another entity of the document whose denominator does give it (a ratio computed on the wrong row).
with ratios as (
    select * from staging.observations
    where metric in ('share', 'rate') and numerator_measure is not null
        and base_measure is not null and unit = '%' and bound in ('exact', 'approx')
        and is_latest_vintage
),

-- every figure of a document a ratio may divide by: observation levels and shares (a share
-- of a sub-group is one share over another), and spend totals, each at its latest vintage
amounts as (
    select source_document, entity_id, fiscal_period, measure, unit, value,
        value_rounding as rounding, event_id
    from staging.observations
    where metric in ('level', 'share') and bound in ('exact', 'approx') and is_latest_vintage
    union all
    select source_document, entity_id, fiscal_period, measure,
        case currency when 'CNY' then '亿元' else '亿' || currency end, amount_yi,
        amount_yi_rounding, event_id
    from staging.spend_disclosures
    where measure is not null and spend_class = 'total' and is_latest_vintage
),

pairs as (
    select
        r.event_id,
        r.entity_id,
        r.fiscal_period,
        r.series_label,
        r.value_printed,
        r.value_high_printed,
        r.value_low_bound,
        r.value_high_bound,
        r.source_document,
        r.base_measure,
        n.value as numerator,
        n.rounding as numerator_rounding,
        n.event_id as numerator_event_id,
        d.value as denominator,
        d.event_id as denominator_event_id,
        100 * n.value / d.value as computed,
        r.value_high_bound >= 100 * (n.value - n.rounding) / (d.value + d.rounding)
            and r.value_low_bound <= 100 * (n.value + n.rounding) / (d.value - d.rounding)
            as fits
    from ratios as r
    inner join amounts as n
        on n.source_document = r.source_document and n.entity_id = r.entity_id
        and n.fiscal_period is not distinct from r.fiscal_period and n.measure = r.numerator_measure
    inner join amounts as d
        on d.source_document = r.source_document and d.entity_id = r.entity_id
        and d.fiscal_period is not distinct from r.fiscal_period and d.measure = r.base_measure
        and d.unit = n.unit
),

misfits as (
    select
        event_id, entity_id, fiscal_period, source_document, base_measure,
        any_value(series_label) as series_label,
        any_value(value_printed) as value_printed,
        any_value(value_high_printed) as value_high_printed,
        any_value(value_low_bound) as value_low_bound,
        any_value(value_high_bound) as value_high_bound,
        any_value(numerator) as numerator,
        any_value(numerator_rounding) as numerator_rounding,
        any_value(denominator) as denominator,
        any_value(computed) as computed,
        list_distinct(flatten(list([numerator_event_id, denominator_event_id]))) as own_event_ids
    from pairs
    group by event_id, entity_id, fiscal_period, source_document, base_measure
    having not bool_or(fits)
),

-- the same numerator over another entity's figure of the same measure in the document
elsewhere as (
    select
        p.event_id,
        string_agg(
            format('{} / {} = {:.2f}% ({}''s {})', p.numerator, o.value, 100 * p.numerator / o.value,
                o.entity_id, p.base_measure),
            '; ' order by o.entity_id
        ) as matches,
        list(o.event_id order by o.entity_id) as event_ids
    from misfits as p
    inner join amounts as o
        on o.source_document = p.source_document and o.measure = p.base_measure
        and o.fiscal_period is not distinct from p.fiscal_period and o.entity_id <> p.entity_id
    where p.value_high_bound >= 100 * (p.numerator - p.numerator_rounding) / (o.value + o.rounding)
        and p.value_low_bound <= 100 * (p.numerator + p.numerator_rounding) / (o.value - o.rounding)
    group by p.event_id
)

select
    'ratio_denominator' as rule_id,
    'error' as severity,
    p.entity_id,
    p.fiscal_period,
    format(
        '{} {}: printed {}{}% but its own figures give {} / {} = {:.2f}%{}',
        p.series_label, coalesce(p.fiscal_period, '(no period)'), p.value_printed,
        coalesce('～' || p.value_high_printed, ''), p.numerator, p.denominator, p.computed,
        coalesce('; it is ' || e.matches || ': the ratio was computed on another entity''s denominator', '')
    ) as detail,
    list_concat([p.event_id], p.own_event_ids, coalesce(e.event_ids, [])) as event_ids
from misfits as p
left join elsewhere as e on e.event_id = p.event_id
