-- restated: a later vintage changed a figure beyond the rounding of both (severity info).
with vintages as (
    select
        *,
        lead(amount_yi) over w as earlier_yi,
        lead(amount_yi_rounding) over w as earlier_rounding,
        lead(vintage) over w as earlier_vintage,
        lead(event_id) over w as earlier_event_id
    from staging.spend_disclosures
    window w as (partition by figure_key order by vintage_rank)
)

select
    'restated' as rule_id,
    'info' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: {} 亿 {} (vintage {}) restated as {} 亿 {} (vintage {})',
        series_label, fiscal_period, status,
        earlier_yi, currency, earlier_vintage, amount_yi, currency, vintage
    ) as detail,
    [earlier_event_id, event_id] as event_ids
from vintages
where earlier_event_id is not null
    and abs(amount_yi - earlier_yi) > amount_yi_rounding + earlier_rounding
