-- Frontier-technology spend as a share of total spend, wherever a frontier figure and a total (stated, or frontier plus non-frontier) exist for the same period.
-- grain: entity × scope × fiscal_period × status (latest vintage), currency beside
-- columns:
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
    entity_id,
    scope,
    fiscal_period,
    status,
    currency,
    coalesce(stated_total_yi, frontier_yi + non_frontier_yi) as total_yi,
    case when stated_total_yi is not null then 'stated' else 'frontier_plus_non_frontier' end
        as total_basis,
    frontier_yi,
    non_frontier_yi,
    frontier_yi / total_yi as frontier_share,
    is_bound,
    event_ids,
    is_synthetic,
    is_constructed
from classes
where frontier_yi is not null and total_yi is not null
