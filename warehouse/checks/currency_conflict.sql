-- currency_conflict: one figure (entity, scope, spend class, technology, measure, period and status) disclosed in more than one currency. Both are kept, never one restating the other; the same number in two currencies means one currency is mislabelled (error), different numbers a conversion to check (warning).
with latest as (
    select * from staging.spend_disclosures where is_latest_vintage
),

conflicts as (
    select
        entity_id,
        scope,
        spend_class,
        technology,
        measure,
        fiscal_period,
        status,
        any_value(series_label) as series_label,
        list(format('{} 亿 {}', amount_yi, currency) order by currency) as amounts,
        list(event_id order by currency, event_id) as event_ids,
        count(distinct amount_yi) = 1 as same_number
    from latest
    group by entity_id, scope, spend_class, technology, measure, fiscal_period, status
    having count(distinct currency) > 1
)

select
    'currency_conflict' as rule_id,
    case when same_number then 'error' else 'warning' end as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: {} — {}',
        series_label, fiscal_period, status,
        array_to_string(amounts, ' and '),
        case when same_number
            then 'the same number in two currencies: one of them is mislabelled'
            else 'the same figure in two currencies: both kept, check the conversion'
        end
    ) as detail,
    event_ids
from conflicts
