-- observation_parts_exceed_whole: parts of a printed whole (level observations whose part_of names the whole's measure: the same document, entity, period, unit and status) that add up to more than the whole, beyond the rounding of all of them (operators' base stations counted twice, segments above their market). Each part and the whole count once: a figure printed in a chart and again in the text is one figure (a disagreement between them is text_vs_chart's), and of restated figures the latest vintage counts.
with printed as (
    select * from staging.observations where metric = 'level' and is_counted_once
),

wholes as (
    select * from printed where bound in ('exact', 'approx')
),

parts as (
    select * from printed where part_of is not null
),

summed as (
    select
        w.entity_id,
        w.fiscal_period,
        w.status,
        w.unit,
        w.series_label,
        w.value_printed as whole_printed,
        w.value_high_printed as whole_high_printed,
        w.value_high_bound as whole_high,
        w.event_id,
        sum(p.value) as parts_total,
        sum(case when p.bound in ('exact', 'approx') then p.value_rounding else 0 end)
            as parts_rounding,
        list(p.measure || ' ' || p.value_printed order by p.event_id) as parts_printed,
        list(p.event_id order by p.event_id) as part_event_ids
    from wholes as w
    inner join parts as p
        on p.part_of = w.measure
        and p.source_document = w.source_document
        and p.entity_id = w.entity_id
        and p.fiscal_period is not distinct from w.fiscal_period
        and p.status = w.status
        and p.unit = w.unit
    group by all
)

select
    'observation_parts_exceed_whole' as rule_id,
    'error' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: its parts ({}) add up to {} {}, above the whole {}{} {}: a part is counted twice or the whole leaves some out',
        series_label, coalesce(fiscal_period, '(no period)'), status,
        array_to_string(parts_printed, ', '), round(parts_total, 6), unit, whole_printed,
        coalesce('～' || whole_high_printed, ''), unit
    ) as detail,
    list_prepend(event_id, part_event_ids) as event_ids
from summed
-- a printed range (73～80) allows up to its upper end
where parts_total - parts_rounding > whole_high
