-- copied_figure: one document gives the same amount to different segments, industries or groups for the same period, status, spend class, technology and currency: possibly a value copied from one chart into another (warning). Left out, as they coincide honestly: round amounts (printed to no better than ±0.5%, e.g. 100), and institutions' figures (a document listing hundreds of institutions repeats three-digit amounts by chance).
with figures as (
    select
        s.*,
        d.amount,
        d.unit,
        d.amount_yi_rounding / d.amount_yi as relative_rounding
    from marts.spend_series as s
    inner join staging.spend_disclosures as d using (event_id)
),

copies as (
    select
        source_document,
        fiscal_period,
        status,
        spend_class,
        technology,
        currency,
        amount,
        unit,
        list(distinct entity_id order by entity_id) as entities,
        list(event_id order by entity_id, event_id) as event_ids
    from figures
    where relative_rounding < 0.005 and level <> 'institution'
    group by source_document, fiscal_period, status, spend_class, technology, currency, amount, unit
    having count(distinct entity_id) > 1
)

select
    'copied_figure' as rule_id,
    'warning' as severity,
    entities[1] as entity_id,
    fiscal_period,
    format(
        '{}: {} {}{} {} {} is {} {} for each of {}: possibly copied from one chart into another',
        source_document, spend_class, coalesce(technology || ' ', ''), fiscal_period, status,
        currency, amount, unit, array_to_string(entities, ', ')
    ) as detail,
    event_ids
from copies
