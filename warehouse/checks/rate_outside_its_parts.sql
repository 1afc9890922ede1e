-- rate_outside_its_parts: a rate of a whole (all financial institutions' replacement rate) that lies outside the range of the same rate of the sub-groups printed beside it (banks, insurers, securities firms, funds: rate observations whose part_of names it, in the same document, entity, period, unit and status). A rate of a whole is a weighted mean of its sub-groups' rates and cannot leave their range, unless the printed sub-groups leave part of the whole out, which the warning says. Each figure counts once (a chart's and the text's copy are one; the latest vintage).
with printed as (
    select * from staging.observations
    where metric = 'rate' and is_counted_once and bound in ('exact', 'approx')
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
        count(distinct p.measure) as parts,
        list(p.event_id order by p.event_id) as part_event_ids
    from printed as w
    inner join printed as p
        on p.part_of = w.measure
        and p.source_document = w.source_document
        and p.entity_id = w.entity_id
        and p.fiscal_period is not distinct from w.fiscal_period
        and p.status = w.status
        and p.unit = w.unit
    group by all
    having count(distinct p.measure) >= 2
)

select
    'rate_outside_its_parts' as rule_id,
    'warning' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: {}{} {} lies outside the range of its {} sub-groups printed beside it, {} to {} {}: a weighted mean of theirs cannot, unless they leave part of the whole out',
        series_label, coalesce(fiscal_period, '(no period)'), status,
        value_printed, coalesce('～' || value_high_printed, ''), unit, parts, parts_min, parts_max,
        unit
    ) as detail,
    list_prepend(event_id, part_event_ids) as event_ids
from ranged
-- half-open: a printed 71 stands for [70.5, 71.5)
where value_low_bound >= parts_high or value_high_bound <= parts_low
