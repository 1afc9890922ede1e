-- unit_conflict: one figure of a document (entity, measure, metric, period and status) printed in two currencies (亿元 and 亿美元). The same number in both means one currency is mislabelled (error); different numbers a conversion to check (warning). Units of one kind (成 and %) are not a conflict.
with figures as (
    select
        source_document,
        entity_id,
        measure,
        metric,
        fiscal_period,
        status,
        any_value(series_label) as series_label,
        list(distinct unit order by unit) as units,
        list(format('{} {}', value_printed, unit) order by unit, value) as values_printed,
        list(event_id order by unit, event_id) as event_ids,
        max(value_low_bound) <= min(value_high_bound) as same_number
    from staging.observations
    where currency is not null
    group by source_document, entity_id, measure, metric, fiscal_period, status
    having count(distinct currency) > 1
)

select
    'unit_conflict' as rule_id,
    case when same_number then 'error' else 'warning' end as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: {} — {}',
        series_label, coalesce(fiscal_period, '(no period)'), status,
        array_to_string(values_printed, ' and '),
        case when same_number
            then 'the same number in ' || array_to_string(units, ' and ') || ': one currency is mislabelled'
            else 'one figure in ' || array_to_string(units, ' and ') || ': check the conversion'
        end
    ) as detail,
    event_ids
from figures
