-- text_vs_chart: one figure that a document prints twice (chart and text, summary or table: the same entity, measure, metric, unit, period and status) with values that disagree beyond what their printed digits allow; "约" is read at its printed precision too.
with printed as (
    select
        *,
        case when bound in ('gt', 'gte') then 'inf'::double else value_high_bound end as upper
    from staging.observations
    where presentation is not null
),

pairs as (
    select
        a.entity_id,
        a.fiscal_period,
        a.series_label,
        a.status,
        a.unit,
        a.presentation as first_presentation,
        b.presentation as second_presentation,
        concat_ws('', case a.bound when 'approx' then '约' when 'gt' then '>' when 'gte' then '≥' end,
            a.value_printed, '～' || a.value_high_printed) as first_value,
        concat_ws('', case b.bound when 'approx' then '约' when 'gt' then '>' when 'gte' then '≥' end,
            b.value_printed, '～' || b.value_high_printed) as second_value,
        [a.event_id, b.event_id] as event_ids
    from printed as a
    inner join printed as b
        on b.source_document = a.source_document
        and b.figure_key = a.figure_key
        and b.presentation > a.presentation
    -- half-open: a printed 65.5 stands for [65.45, 65.55), so 65.5 and 65.6 never meet
    where a.value_low_bound >= b.upper - 1e-9 or b.value_low_bound >= a.upper - 1e-9
)

select
    'text_vs_chart' as rule_id,
    'error' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: the {} prints {} {} and the {} {} {}: one figure, two values beyond their printed precision',
        series_label, coalesce(fiscal_period, '(no period)'), status,
        first_presentation, first_value, unit, second_presentation, second_value, unit
    ) as detail,
    event_ids
from pairs
