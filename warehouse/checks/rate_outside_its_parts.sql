-- rate_outside_its_parts: a rate or share of a whole (all financial institutions' replacement rate) that lies outside the range of the same rate of its parts (banks, insurers, securities firms, funds: observations whose part_of names it, in the same document, entity, period, unit and status). A whole's rate is a weighted mean of its parts' and cannot leave their range.
with wholes as (
    select * from staging.observations
    where metric in ('rate', 'share') and bound in ('exact', 'approx')
),

parts as (
    select * from staging.observations
    where metric in ('rate', 'share') and part_of is not null and bound in ('exact', 'approx')
),

ranged as (
    select
        w.event_id,
        w.entity_id,
        w.fiscal_period,
        w.status,
        w.unit,
        w.series_label,
        w.value_printed,
        w.value_high_printed,
        w.value_low_bound,
        w.value_high_bound,
        min(p.value) as parts_min,
        max(coalesce(p.value_high, p.value)) as parts_max,
        min(p.value_low_bound) as parts_low,
        max(p.value_high_bound) as parts_high,
        count(*) as parts,
        list(p.event_id order by p.event_id) as part_event_ids
    from wholes as w
    inner join parts as p
        on p.part_of = w.measure
        and p.metric = w.metric
        and p.source_document = w.source_document
        and p.entity_id = w.entity_id
        and p.fiscal_period is not distinct from w.fiscal_period
        and p.status = w.status
        and p.unit = w.unit
    group by all
    having count(*) >= 2
)

select
    'rate_outside_its_parts' as rule_id,
    'error' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: {}{} {} lies outside its {} parts'' range {} to {} {}: a whole''s rate is a mean of its parts''',
        series_label, coalesce(fiscal_period, '(no period)'), status,
        value_printed, coalesce('～' || value_high_printed, ''), unit, parts, parts_min, parts_max, unit
    ) as detail,
    list_prepend(event_id, part_event_ids) as event_ids
from ranged
-- half-open: a printed 71 stands for [70.5, 71.5)
where value_low_bound >= parts_high or value_high_bound <= parts_low
