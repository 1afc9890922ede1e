-- frontier_exceeds_total: frontier spend above the stated total of the same entity, scope, period and status, beyond rounding.
select
    'frontier_exceeds_total' as rule_id,
    'error' as severity,
    f.entity_id,
    f.fiscal_period,
    format(
        '{} {} {}: frontier {} 亿 exceeds total {} 亿',
        f.entity_id, f.scope, f.status, f.amount_yi, t.amount_yi
    ) as detail,
    [t.event_id, f.event_id] as event_ids
from marts.spend_series as f
inner join marts.spend_series as t
    on t.entity_id = f.entity_id
    and t.scope = f.scope
    and t.fiscal_period = f.fiscal_period
    and t.status = f.status
    and t.currency = f.currency
    and t.spend_class = 'total'
    and t.technology is null
where f.spend_class = 'frontier'
    and f.technology is null
    -- a total that is only a lower bound can be exceeded
    and t.bound in ('exact', 'approx')
    and f.amount_yi - f.amount_yi_rounding > t.amount_yi + t.amount_yi_rounding
