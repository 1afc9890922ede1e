-- Groups' spend added up from their members' totals, beside the figure the group itself disclosed; members' figures of different scopes are added but flagged.
-- grain: group × scope × fiscal_period × status × currency (scope = the group's own disclosed scope, else its members' common scope, else mixed)
-- unique: group_id, scope, fiscal_period, status, currency
-- not_null: group_id, scope, fiscal_period, status, currency, members_reported, members_total_yi
-- references: status -> reference.taxonomy_terms[status]
-- references: currency -> reference.taxonomy_terms[currency]
-- columns:
--   group_id: the group's entity_id (marts.dim_entity, level group)
--   group_event_id: the group's own disclosure (NULL if it disclosed none)
--   member_event_ids: the members' disclosures added up
--   group_name_zh, group_name_en: the group's name in Chinese and English (as in marts.dim_entity)
--   members_expected: members the group declares
--   members_reported: members with a total for the period and status
--   members_total_yi: sum of the members' totals (each member's figure in the group's scope if it has one, else its own)
--   group_reported_yi: the group's own figure, NULL if it disclosed none
--   scopes_mixed: the members' figures carry different scopes
--   member_scopes: the scopes added
--   rounding_yi: the rounding the compared figures carry together
--   is_synthetic, is_constructed: any figure it rests on is synthetic, or constructed (source.provenance)
with groups as (
    select entity_id as group_id, members
    from staging.entities
    where level = 'group' and len(members) > 0
),

membership as (
    select group_id, unnest(members) as member_id from groups
),

totals as (
    select *
    from marts.spend_series
    where spend_class = 'total' and technology is null
),

group_figures as (
    select t.entity_id as group_id, t.scope, t.fiscal_period, t.status, t.currency, t.amount_yi,
        t.amount_yi_rounding, t.event_id, t.is_synthetic, t.is_constructed
    from totals as t
    inner join groups as g on g.group_id = t.entity_id
),

-- every period a group or any member reported; the group's own scopes where it disclosed
frames as (
    select group_id, scope, fiscal_period, status, currency from group_figures
    union
    select m.group_id, null as scope, t.fiscal_period, t.status, t.currency
    from totals as t
    inner join membership as m on m.member_id = t.entity_id
    where not exists (
        select 1 from group_figures as gf
        where gf.group_id = m.group_id
            and gf.fiscal_period = t.fiscal_period
            and gf.status = t.status
            and gf.currency = t.currency
    )
),

member_figures as (
    select
        f.group_id,
        f.scope as frame_scope,
        f.fiscal_period,
        f.status,
        f.currency,
        m.member_id,
        t.scope,
        t.amount_yi,
        t.amount_yi_rounding,
        t.event_id,
        t.is_synthetic,
        t.is_constructed
    from frames as f
    inner join membership as m on m.group_id = f.group_id
    inner join totals as t
        on t.entity_id = m.member_id
        and t.fiscal_period = f.fiscal_period
        and t.status = f.status
        and t.currency = f.currency
    qualify row_number() over (
        partition by f.group_id, f.scope, f.fiscal_period, f.status, f.currency, m.member_id
        order by t.scope is not distinct from f.scope desc, t.scope
    ) = 1
),

rolled as (
    select
        group_id,
        frame_scope,
        fiscal_period,
        status,
        currency,
        count(*) as members_reported,
        sum(amount_yi) as members_total_yi,
        sum(amount_yi_rounding) as members_rounding_yi,
        list(distinct scope order by scope) as member_scopes,
        list(event_id order by event_id) as member_event_ids,
        bool_or(is_synthetic) as is_synthetic,
        bool_or(is_constructed) as is_constructed
    from member_figures
    group by group_id, frame_scope, fiscal_period, status, currency
)

select
    f.group_id,
    ge.name_zh as group_name_zh,
    ge.name_en as group_name_en,
    coalesce(
        f.scope, case when len(r.member_scopes) = 1 then r.member_scopes[1] else 'mixed' end
    ) as scope,
    f.fiscal_period,
    f.status,
    f.currency,
    len(g.members) as members_expected,
    coalesce(r.members_reported, 0) as members_reported,
    r.members_total_yi,
    gf.amount_yi as group_reported_yi,
    coalesce(len(r.member_scopes) > 1, false) as scopes_mixed,
    r.member_scopes,
    coalesce(r.members_rounding_yi, 0) + coalesce(gf.amount_yi_rounding, 0) as rounding_yi,
    gf.event_id as group_event_id,
    r.member_event_ids,
    coalesce(r.is_synthetic, false) or coalesce(gf.is_synthetic, false) as is_synthetic,
    coalesce(r.is_constructed, false) or coalesce(gf.is_constructed, false) as is_constructed
from frames as f
inner join groups as g on g.group_id = f.group_id
left join staging.entities as ge on ge.entity_id = f.group_id
left join rolled as r
    on r.group_id = f.group_id
    and r.frame_scope is not distinct from f.scope
    and r.fiscal_period = f.fiscal_period
    and r.status = f.status
    and r.currency = f.currency
left join group_figures as gf
    on gf.group_id = f.group_id
    and gf.scope = f.scope
    and gf.fiscal_period = f.fiscal_period
    and gf.status = f.status
    and gf.currency = f.currency
