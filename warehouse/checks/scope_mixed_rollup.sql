-- scope_mixed_rollup: a group roll-up that adds members' figures of different scopes (e.g. 金融科技投入 with 信息科技投入).
select
    'scope_mixed_rollup' as rule_id,
    'warning' as severity,
    group_id as entity_id,
    fiscal_period,
    format(
        '{} {} {}: the roll-up of {} members adds scopes {}',
        group_id, fiscal_period, status, members_reported, array_to_string(member_scopes, ' + ')
    ) as detail,
    case when group_event_id is null then member_event_ids
        else list_prepend(group_event_id, member_event_ids) end as event_ids
from marts.spend_group_rollup
where scopes_mixed
