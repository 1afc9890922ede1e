-- scale_outlier: an amount a thousand times (or more) above or below the figures it should resemble, as a 万-for-亿 or 元-for-万 unit slip would make it.
-- a figure is compared with the median of its own series (entity × scope × spend_class × technology × currency, all periods, statuses and vintages) when the series has three or more figures; the two figures of a series of two with each other; a lone figure with the median of the entity's figures of the same spend class when there are three or more, else of all its figures in that currency when there are four or more.
with figures as (
    select
        *,
        concat_ws('|', entity_id, scope, spend_class, coalesce(technology, '-'), currency) as series,
        count(*) over (partition by series) as series_points,
        median(amount_yi) over (partition by series) as series_median,
        count(*) over (partition by entity_id, spend_class, currency) as class_points,
        median(amount_yi) over (partition by entity_id, spend_class, currency) as class_median,
        count(*) over (partition by entity_id, currency) as entity_points,
        median(amount_yi) over (partition by entity_id, currency) as entity_median
    from staging.spend_disclosures
),

compared as (
    select
        *,
        case
            when series_points >= 3 then series_median
            when series_points = 1 and class_points >= 3 then class_median
            when series_points = 1 and entity_points >= 4 then entity_median
        end as reference_yi,
        case
            when series_points >= 3 then format('the median of its series ({} figures)', series_points)
            when series_points = 1 and class_points >= 3
                then format('the median of the entity''s {} {} figures', class_points, spend_class)
            when series_points = 1 then format('the median of the entity''s {} figures', entity_points)
        end as reference_label
    from figures
),

single_outliers as (
    select *
    from compared
    where amount_yi >= 1000 * reference_yi or amount_yi * 1000 <= reference_yi
),

pairs as (
    select
        a.entity_id, a.fiscal_period, a.amount_yi as a_yi, b.amount_yi as b_yi,
        b.fiscal_period as b_period, a.event_id as a_event_id, b.event_id as b_event_id
    from compared as a
    inner join compared as b on b.series = a.series and b.event_id <> a.event_id
    where a.series_points = 2 and a.amount_yi >= 1000 * b.amount_yi
)

select
    'scale_outlier' as rule_id,
    'warning' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {}: {} 亿 is {:.0f}× {}, {} 亿: a unit error?',
        series_label, fiscal_period,
        amount_yi, greatest(amount_yi / reference_yi, reference_yi / amount_yi), reference_label,
        reference_yi
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
