-- Compound annual growth of each yearly spend series, between its first and last year with a level.
-- grain: entity × scope × spend_class × technology × status (yearly figures, latest vintage; lower bounds left out), currency beside
-- columns:
--   start_period, end_period: the first and last year of the series
--   periods: years between them (end - start)
--   points: yearly figures in the series
--   start_yi, end_yi: the levels the growth is computed from
--   cagr: (end_yi / start_yi) ^ (1 / periods) - 1; NULL for a single year
with yearly as (
    select *
    from marts.spend_series
    where period_kind = 'year' and bound in ('exact', 'approx')
)

select
    entity_id,
    scope,
    spend_class,
    technology,
    status,
    currency,
    min(fiscal_period) as start_period,
    max(fiscal_period) as end_period,
    max(fiscal_year) - min(fiscal_year) as periods,
    count(*) as points,
    arg_min(amount_yi, fiscal_year) as start_yi,
    arg_max(amount_yi, fiscal_year) as end_yi,
    case when periods > 0 then pow(end_yi / start_yi, 1.0 / periods) - 1 end as cagr
from yearly
group by entity_id, scope, spend_class, technology, status, currency
