-- yoy_mismatch: a stated growth rate (a spend figure's reported_yoy, or an observation of metric growth) that the levels cannot produce, whatever their rounding.
-- fires when the reported_yoy interval (± half its last printed digit) does not meet [yoy_low, yoy_high], the growth range the two rounded levels allow; a label of a series whose labels sit one period early and that fits the next period's growth is yoy_shifted's, not this rule's.
select
    'yoy_mismatch' as rule_id,
    'error' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {}: reported growth {:.2f}% but {} → {} gives {:.2f}% (rounding allows {:.2f}% to {:.2f}%)',
        series_label, status,
        reported_yoy * 100, previous_period, fiscal_period, yoy * 100, yoy_low * 100, yoy_high * 100
    ) as detail,
    [previous_event_id, event_id] as event_ids
from marts.spend_growth_labels
where not fits_own
    and not (series_shifted and coalesce(fits_next, false))
union all
-- an observation's printed growth (metric growth) against the levels of its measure in its
-- document: from span_from when stated, else from the same half or quarter of the year
-- before; of a period with both, the actual level, the latest vintage; silent when any
-- printing of the two levels (a chart's and the text's) gives it
select
    'yoy_mismatch',
    'error',
    g.entity_id,
    g.fiscal_period,
    format(
        '{} {}: reported growth {}{}% but {} → {} gives {:.2f}% ({} → {} {})',
        g.series_label, g.status, g.value_printed, coalesce('～' || g.value_high_printed, ''),
        any_value(b.fiscal_period), g.fiscal_period,
        100 * (any_value(e.value) / any_value(b.value) - 1),
        any_value(b.value_printed), any_value(e.value_printed), any_value(e.unit)
    ),
    list_distinct(flatten([list(b.event_id), list(e.event_id), [g.event_id]]))
from staging.observations as g
inner join (select * from staging.observations where is_period_level) as e
    on e.entity_id = g.entity_id and e.measure = g.measure
    and e.fiscal_period = g.fiscal_period and e.source_document = g.source_document
inner join (select * from staging.observations where is_period_level) as b
    on b.entity_id = g.entity_id and b.measure = g.measure
    and b.unit = e.unit and b.source_document = g.source_document
    and b.fiscal_period = coalesce(
        g.span_from, cast(g.fiscal_year - 1 as varchar) || substr(g.fiscal_period, 5)
    )
where g.metric = 'growth' and g.unit = '%' and g.bound in ('exact', 'approx')
group by
    g.event_id, g.entity_id, g.fiscal_period, g.series_label, g.status, g.value_printed,
    g.value_high_printed
having not bool_or(
    g.value_high_bound >= 100 * ((e.value - e.value_rounding) / (b.value + b.value_rounding) - 1)
    and g.value_low_bound <= 100 * ((e.value + e.value_rounding) / (b.value - b.value_rounding) - 1)
)
