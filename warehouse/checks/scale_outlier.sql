-- scale_outlier: an amount a thousand times (or more) above or below the rest of its own series, as a 万-for-亿 or 元-for-万 unit slip would make it.
-- a series is entity × scope × spend_class × technology × currency over all periods, statuses and vintages; with three or more figures each is compared with the series' median, with two the pair is compared.
with figures as (
    select
        *,
        concat_ws('|', entity_id, scope, spend_class, coalesce(technology, '-'), currency) as series,
        count(*) over (partition by series) as series_points,
        median(amount_yi) over (partition by series) as series_median
    from staging.spend_disclosures
),

single_outliers as (
    select *
    from figures
    where series_points >= 3
        and (amount_yi >= 1000 * series_median or amount_yi * 1000 <= series_median)
),

pairs as (
    select
        a.entity_id, a.fiscal_period, a.amount_yi as a_yi, b.amount_yi as b_yi,
        b.fiscal_period as b_period, a.event_id as a_event_id, b.event_id as b_event_id
    from figures as a
    inner join figures as b on b.series = a.series and b.event_id <> a.event_id
    where a.series_points = 2 and a.amount_yi >= 1000 * b.amount_yi
)

select
    'scale_outlier' as rule_id,
    'warning' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}{} {}: {} 亿 is {:.0f}× the median {} 亿 of its series ({} figures): a unit error?',
        entity_id, scope, spend_class, coalesce(' ' || technology, ''), fiscal_period,
        amount_yi, amount_yi / series_median, series_median, series_points
    ) as detail,
    [event_id] as event_ids
from single_outliers
union all
select
    'scale_outlier',
    'warning',
    entity_id,
    fiscal_period,
    format(
        '{} {}: {} 亿 is {:.0f}× the {} 亿 of {}, the only other figure of its series: a unit error?',
        entity_id, fiscal_period, a_yi, a_yi / b_yi, b_yi, b_period
    ),
    [a_event_id, b_event_id]
from pairs
