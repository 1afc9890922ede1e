-- group_total_covers_fewer_members: a group's own technology headcount or spend that is exactly the sum of the members that reported, while other declared members have no figure in the document: the total is printed for the whole group but covers only some of it.
with figures as (
    select source_document, entity_id, fiscal_period, status, 'tech_headcount' as figure,
        cast(tech_headcount as double) as value, 0.5 as rounding, event_id
    from staging.spend_disclosures
    where tech_headcount is not null and is_latest_vintage
    union all
    select source_document, entity_id, fiscal_period, status, 'amount ' || scope || ' ' || currency,
        amount_yi, amount_yi_rounding, event_id
    from staging.spend_disclosures
    where spend_class = 'total' and is_latest_vintage
),

groups as (
    select g.*, m.members_expected
    from figures as g
    inner join (
        select group_id, count(*) as members_expected from reference.group_members group by group_id
    ) as m on m.group_id = g.entity_id
),

reported as (
    select
        g.event_id,
        g.entity_id,
        g.fiscal_period,
        g.status,
        g.figure,
        g.value,
        g.rounding,
        g.members_expected,
        count(distinct f.entity_id) as members_reported,
        sum(f.value) as members_total,
        sum(f.rounding) as members_rounding,
        list(f.event_id order by f.entity_id) filter (where f.event_id is not null)
            as member_event_ids,
        list(f.entity_id order by f.entity_id) filter (where f.event_id is not null) as reporting
    from groups as g
    inner join reference.group_members as gm on gm.group_id = g.entity_id
    left join figures as f
        on f.entity_id = gm.member_id
        and f.source_document = g.source_document
        and f.fiscal_period = g.fiscal_period
        and f.status = g.status
        and f.figure = g.figure
    group by all
),

missing as (
    select r.event_id, r.figure, list(gm.member_id order by gm.member_id) as silent
    from reported as r
    inner join reference.group_members as gm on gm.group_id = r.entity_id
    where not list_contains(r.reporting, gm.member_id)
    group by r.event_id, r.figure
)

select
    'group_total_covers_fewer_members' as rule_id,
    'warning' as severity,
    r.entity_id,
    r.fiscal_period,
    format(
        '{} {} {}: the group''s {} is the sum of {} of its {} members; {} {} no figure in the document',
        r.entity_id, r.fiscal_period, replace(r.figure, '_', ' '),
        case when r.value = round(r.value) then cast(cast(r.value as bigint) as varchar)
            else cast(r.value as varchar) end,
        r.members_reported,
        r.members_expected, array_to_string(m.silent, ', '),
        case when len(m.silent) = 1 then 'has' else 'have' end
    ) as detail,
    list_prepend(r.event_id, r.member_event_ids) as event_ids
from reported as r
inner join missing as m on m.event_id = r.event_id and m.figure = r.figure
where r.members_reported > 0
    and r.members_reported < r.members_expected
    and abs(r.value - r.members_total) <= r.rounding + r.members_rounding
