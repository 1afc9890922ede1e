-- Frontier-technology spend as a share of total spend, wherever a frontier figure and a total (stated, or frontier plus non-frontier) exist for the same period.
-- grain: entity × scope × fiscal_period × status × currency (latest vintage)
-- unique: entity_id, scope, fiscal_period, status, currency
-- not_null: entity_id, scope, fiscal_period, status, currency, total_yi, total_basis, frontier_yi, frontier_share
-- references: scope -> reference.taxonomy_terms[scope]
-- references: status -> reference.taxonomy_terms[status]
-- references: currency -> reference.taxonomy_terms[currency]
-- columns:
--   frontier_yi: frontier-technology spend, in 亿 of currency
--   non_frontier_yi: the rest of the technology spend, in 亿 of currency (NULL: not disclosed)
--   event_ids: the disclosures it rests on (raw.spend_disclosures.event_id)
--   entity_name_zh, entity_name_en: the entity's name in Chinese and English (reference.entities: the registry's, generated for synthetic institutions; NULL for an entity only events describe, which marts.dim_entity names)
--   total_yi: the stated total, else frontier_yi + non_frontier_yi
--   total_basis: stated, or frontier_plus_non_frontier
--   frontier_share: frontier_yi / total_yi
--   is_synthetic, is_constructed: any figure it rests on is synthetic, or constructed (source.provenance)
--   is_bound: either figure is a lower bound (gt, gte), so the share is indicative only
with classes as (
    select
        entity_id,
        scope,
        fiscal_period,
        status,
        currency,
        max(amount_yi) filter (where spend_class = 'total') as stated_total_yi,
        max(amount_yi) filter (where spend_class = 'frontier') as frontier_yi,
        max(amount_yi) filter (where spend_class = 'non_frontier') as non_frontier_yi,
        bool_or(bound in ('gt', 'gte')) as is_bound,
        list(event_id order by spend_class) as event_ids,
        bool_or(is_synthetic) as is_synthetic,
        bool_or(is_constructed) as is_constructed
    from marts.spend_series
    where technology is null
    group by entity_id, scope, fiscal_period, status, currency
)

select
    c.entity_id,
    e.name_zh as entity_name_zh,
    e.name_en as entity_name_en,
    c.scope,
    c.fiscal_period,
    c.status,
    c.currency,
    coalesce(stated_total_yi, frontier_yi + non_frontier_yi) as total_yi,
    case when stated_total_yi is not null then 'stated' else 'frontier_plus_non_frontier' end
        as total_basis,
    frontier_yi,
    non_frontier_yi,
    frontier_yi / total_yi as frontier_share,
    is_bound,
    event_ids,
    c.is_synthetic,
    c.is_constructed
from classes as c
left join reference.entities as e on e.entity_id = c.entity_id
where frontier_yi is not null and total_yi is not null
