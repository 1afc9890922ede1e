-- parts_exceed_whole: technologies of a frontier figure that add up to more than the figure, beyond rounding (GenAI is part of AI, so it is compared with AI, not added beside it).
with wholes as (
    select * from marts.spend_series
    where spend_class = 'frontier' and technology is null and bound in ('exact', 'approx')
),

parts as (
    select * from marts.spend_series
    where spend_class = 'frontier' and technology is not null and technology <> 'genai'
),

summed as (
    select
        w.entity_id, w.scope, w.fiscal_period, w.status, w.amount_yi as whole_yi,
        w.amount_yi_rounding as whole_rounding, w.event_id,
        sum(p.amount_yi) as parts_yi,
        sum(case when p.bound in ('exact', 'approx') then p.amount_yi_rounding else 0 end)
            as parts_rounding,
        list(p.technology order by p.technology) as technologies,
        list(p.event_id order by p.event_id) as part_event_ids
    from wholes as w
    inner join parts as p
        on p.entity_id = w.entity_id
        and p.scope = w.scope
        and p.fiscal_period = w.fiscal_period
        and p.status = w.status
        and p.currency = w.currency
    group by all
),

genai_in_ai as (
    select
        g.entity_id, g.scope, g.fiscal_period, g.status,
        g.amount_yi as genai_yi, a.amount_yi as ai_yi,
        [a.event_id, g.event_id] as event_ids
    from marts.spend_series as g
    inner join marts.spend_series as a
        on a.entity_id = g.entity_id
        and a.scope = g.scope
        and a.spend_class = g.spend_class
        and a.fiscal_period = g.fiscal_period
        and a.status = g.status
        and a.currency = g.currency
        and a.technology = 'ai'
    where g.technology = 'genai'
        and a.bound in ('exact', 'approx')
        and g.amount_yi - g.amount_yi_rounding > a.amount_yi + a.amount_yi_rounding
)

select
    'parts_exceed_whole' as rule_id,
    'error' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: frontier technologies ({}) add up to {:.2f} 亿, above the frontier figure {} 亿',
        entity_id, scope, status, array_to_string(technologies, ', '), parts_yi, whole_yi
    ) as detail,
    list_prepend(event_id, part_event_ids) as event_ids
from summed
where parts_yi - parts_rounding > whole_yi + whole_rounding
union all
select
    'parts_exceed_whole',
    'error',
    entity_id,
    fiscal_period,
    format('{} {} {}: GenAI {} 亿 exceeds AI {} 亿, which contains it', entity_id, scope, status, genai_yi, ai_yi),
    event_ids
from genai_in_ai
