-- group_members_mismatch: a group's own figure that differs from its members' sum beyond the rounding of all of them, when every member reported.
select
    'group_members_mismatch' as rule_id,
    'error' as severity,
    group_id as entity_id,
    fiscal_period,
    format(
        '{} {} {}: the group states {} 亿 but its {} members add up to {:.2f} 亿',
        group_id, scope, status, group_reported_yi, members_reported, members_total_yi
    ) as detail,
    list_prepend(group_event_id, member_event_ids) as event_ids
from marts.spend_group_rollup
where group_reported_yi is not null
    and members_reported = members_expected
    and abs(group_reported_yi - members_total_yi) > rounding_yi
