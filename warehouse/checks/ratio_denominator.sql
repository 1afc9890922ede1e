-- ratio_denominator: a printed share (exact or 约, read at its printed precision) whose own numerator and denominator (the same entity's figures of numerator_measure and base_measure in the same document and period) cannot give it, whatever their rounding. The detail names another entity of the document whose denominator does give it (a ratio computed on the wrong row).
with ratios as (
    select * from staging.observations
    where metric in ('share', 'rate') and numerator_measure is not null
        and base_measure is not null and unit = '%' and bound in ('exact', 'approx')
),

-- every figure of a document a ratio may divide by: observation levels and shares (a share
-- of a sub-group is one share over another), and spend amounts
amounts as (
    select source_document, entity_id, fiscal_period, measure, unit, value,
        value_rounding as rounding, event_id
    from staging.observations
    where metric in ('level', 'share') and bound in ('exact', 'approx')
    union all
    select source_document, entity_id, fiscal_period, measure,
        case currency when 'CNY' then '亿元' else '亿' || currency end, amount_yi,
        amount_yi_rounding, event_id
    from staging.spend_disclosures
    where measure is not null and spend_class = 'total'
),

parts as (
    select
        r.event_id,
        r.entity_id,
        r.fiscal_period,
        r.series_label,
        r.value,
        r.value_printed,
        r.value_rounding,
        r.source_document,
        r.base_measure,
        n.value as numerator,
        n.rounding as numerator_rounding,
        n.event_id as numerator_event_id,
        d.value as denominator,
        d.rounding as denominator_rounding,
        d.event_id as denominator_event_id,
        100 * n.value / d.value as computed,
        100 * (n.value - n.rounding) / (d.value + d.rounding) as computed_low,
        100 * (n.value + n.rounding) / (d.value - d.rounding) as computed_high
    from ratios as r
    inner join amounts as n
        on n.source_document = r.source_document and n.entity_id = r.entity_id
        and n.fiscal_period is not distinct from r.fiscal_period and n.measure = r.numerator_measure
    inner join amounts as d
        on d.source_document = r.source_document and d.entity_id = r.entity_id
        and d.fiscal_period is not distinct from r.fiscal_period and d.measure = r.base_measure
        and d.unit = n.unit
    where r.value + r.value_rounding < computed_low or r.value - r.value_rounding > computed_high
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
    from parts as p
    inner join amounts as o
        on o.source_document = p.source_document and o.measure = p.base_measure
        and o.fiscal_period is not distinct from p.fiscal_period and o.entity_id <> p.entity_id
    where p.value + p.value_rounding >= 100 * (p.numerator - p.numerator_rounding) / (o.value + o.rounding)
        and p.value - p.value_rounding <= 100 * (p.numerator + p.numerator_rounding) / (o.value - o.rounding)
    group by p.event_id
)

select
    'ratio_denominator' as rule_id,
    'error' as severity,
    p.entity_id,
    p.fiscal_period,
    format(
        '{} {}: printed {}% but its own figures give {} / {} = {:.2f}%{}',
        p.series_label, coalesce(p.fiscal_period, '(no period)'), p.value_printed, p.numerator,
        p.denominator, p.computed,
        coalesce('; it is ' || e.matches || ': the ratio was computed on another entity''s denominator', '')
    ) as detail,
    list_concat([p.event_id, p.numerator_event_id, p.denominator_event_id], coalesce(e.event_ids, []))
        as event_ids
from parts as p
left join elsewhere as e on e.event_id = p.event_id
