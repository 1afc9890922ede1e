-- spend_per_staff_outlier: an institution whose technology spend per technology staff is under half or over twice the median of its peers in the same document and period (same institution type and currency, at least three other institutions; an institution that gives totals of several scopes counts once, by the first of them): its headcount (or spend) likely counts something else, and comparing the two across institutions needs a definition.
with per_staff as (
    select
        event_id,
        entity_id,
        institution_type,
        source_document,
        fiscal_period,
        status,
        scope,
        currency,
        amount_yi * 10000 / tech_headcount as wan_per_staff
    from staging.spend_disclosures
    where level = 'institution' and spend_class = 'total' and tech_headcount > 0
        and is_latest_vintage
    qualify row_number() over (
        partition by source_document, entity_id, fiscal_period, status, currency order by scope
    ) = 1
),

peers as (
    select
        s.event_id,
        s.entity_id,
        s.fiscal_period,
        s.currency,
        s.wan_per_staff,
        median(p.wan_per_staff) as peer_median,
        count(distinct p.entity_id) as peer_count,
        list(p.event_id order by p.entity_id) as peer_event_ids
    from per_staff as s
    inner join per_staff as p
        on p.source_document = s.source_document
        and p.fiscal_period = s.fiscal_period
        and p.status = s.status
        and p.currency = s.currency
        and p.institution_type = s.institution_type
        and p.entity_id <> s.entity_id
    group by all
)

select
    'spend_per_staff_outlier' as rule_id,
    'warning' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {}: {:.1f} 万 {} of technology spend per technology staff against a median of {:.1f} for its {} peers in the document: its headcount or spend counts something else',
        entity_id, fiscal_period, wan_per_staff, currency, peer_median, peer_count
    ) as detail,
    list_prepend(event_id, peer_event_ids) as event_ids
from peers
where peer_count >= 3 and (wan_per_staff < peer_median / 2 or wan_per_staff > peer_median * 2)
