-- cagr_mismatch: a compound annual growth rate the source states (a spend figure's stated_cagr over stated_cagr_from to its period, or an observation of metric cagr over span_from to its period) that the series' levels at the ends of that span cannot produce, whatever their rounding. For spend, the detail names the span whose levels do give it, if one does.
-- the levels an observation's stated CAGR may start and end on: its document's, of its entity
-- and measure, the actual one where a period has both, the latest vintage
with observed_levels as (
    select * from staging.observations where is_period_level
),

observed_cagrs as (
    select
        c.event_id,
        c.entity_id,
        c.fiscal_period,
        c.series_label,
        c.status,
        c.bound,
        c.value_printed,
        c.span_from,
        b.value_printed as start_printed,
        e.value_printed as end_printed,
        e.unit,
        [b.event_id, e.event_id] as level_event_ids,
        (c.period_month - c.span_from_month) / 12.0 as years,
        100 * (pow(e.value / b.value, 1 / years) - 1) as cagr,
        100 * (pow((e.value - e.value_rounding) / (b.value + b.value_rounding), 1 / years) - 1)
            as cagr_low,
        100 * (pow((e.value + e.value_rounding) / (b.value - b.value_rounding), 1 / years) - 1)
            as cagr_high,
        case
            -- "more than": the levels must be able to reach it
            when c.bound in ('gt', 'gte') then cagr_high >= c.value_low_bound
            -- exact, approximate or a range: the stated interval and the levels' one meet
            else c.value_high_bound >= cagr_low and c.value_low_bound <= cagr_high
        end as fits
    from staging.observations as c
    inner join observed_levels as b
        on b.source_document = c.source_document and b.entity_id = c.entity_id
        and b.measure = c.measure and b.fiscal_period = c.span_from
    inner join observed_levels as e
        on e.source_document = c.source_document and e.entity_id = c.entity_id
        and e.measure = c.measure and e.fiscal_period = c.fiscal_period and e.unit = b.unit
    where c.metric = 'cagr' and c.unit = '%' and c.span_from is not null
        and c.period_month > c.span_from_month
),

stated as (
    select * from marts.spend_series where stated_cagr is not null
),

-- each earlier level of the same series (one measure, one currency), as a possible start
starts as (
    select
        s.event_id,
        b.fiscal_period as start_period,
        b.event_id as start_event_id,
        s.fiscal_year - b.fiscal_year as years,
        pow(s.amount_yi / b.amount_yi, 1.0 / years) - 1 as cagr,
        pow((s.amount_yi - s.amount_yi_rounding) / (b.amount_yi + b.amount_yi_rounding), 1.0 / years)
            - 1 as cagr_low,
        pow((s.amount_yi + s.amount_yi_rounding) / (b.amount_yi - b.amount_yi_rounding), 1.0 / years)
            - 1 as cagr_high
    from stated as s
    inner join marts.spend_series as b
        on b.series_key = s.series_key
        and b.fiscal_year < s.fiscal_year
        and b.bound in ('exact', 'approx')
    qualify row_number() over (
        partition by s.event_id, b.fiscal_period
        order by b.status = 'actual' desc, b.vintage desc, b.event_id
    ) = 1
),

fits as (
    select
        s.event_id,
        x.start_period,
        x.start_event_id,
        x.cagr,
        x.cagr_low,
        x.cagr_high,
        s.stated_cagr + s.stated_cagr_rounding >= x.cagr_low
            and s.stated_cagr - s.stated_cagr_rounding <= x.cagr_high as fits
    from stated as s
    inner join starts as x on x.event_id = s.event_id
)

select
    'cagr_mismatch' as rule_id,
    'error' as severity,
    s.entity_id,
    s.fiscal_period,
    format(
        '{} {}: stated CAGR {:.2f}% for {}→{} but its levels give {:.2f}% (rounding allows {:.2f}% to {:.2f}%){}',
        s.series_label, s.currency,
        s.stated_cagr * 100, s.stated_cagr_from, s.fiscal_period, f.cagr * 100,
        f.cagr_low * 100, f.cagr_high * 100,
        coalesce(
            '; it is the CAGR of '
            || (
                select string_agg(o.start_period || '→' || s.fiscal_period, ', ')
                from fits as o
                where o.event_id = s.event_id and o.fits
            ),
            ''
        )
    ) as detail,
    [f.start_event_id, s.event_id] as event_ids
from stated as s
inner join fits as f on f.event_id = s.event_id and f.start_period = s.stated_cagr_from
where not f.fits
union all
select
    'cagr_mismatch',
    'error',
    entity_id,
    fiscal_period,
    format(
        '{} {}: stated CAGR {}{}% for {}→{} but its levels {} → {} {} give {:.2f}% (rounding allows {:.2f}% to {:.2f}%)',
        any_value(series_label), any_value(status),
        case any_value(bound) when 'gt' then '>' when 'gte' then '≥' when 'approx' then '约' else '' end,
        any_value(value_printed), any_value(span_from), fiscal_period, any_value(start_printed),
        any_value(end_printed), any_value(unit), any_value(cagr), any_value(cagr_low),
        any_value(cagr_high)
    ),
    list_distinct(flatten(list(level_event_ids))) || [event_id]
from observed_cagrs
group by event_id, entity_id, fiscal_period
-- any printing of the two levels (a chart's and the text's) that gives it clears it
having not bool_or(fits)
