-- share_base_mismatch: printed shares of a stated base (base_count N: respondents, events) that no whole number of the N can give, under plain rounding or the rounding to 0.01 % first; one finding per base, naming the shares that do not fit and the largest base below N that fits them all.
with shares as (
    select
        *,
        -- a share printed with d < 2 decimals may come from a value first rounded to 0.01 %
        value_rounding + case when value_rounding > 0.005 then 0.005 else 0 end as slack
    from staging.observations
    where metric = 'share' and base_count is not null and bound = 'exact' and unit = '%'
        and value_high is null and is_counted_once
),

fits as (
    select
        *,
        ceil((value - slack) * base_count / 100 - 1e-9)
            <= floor((value + slack) * base_count / 100 + 1e-9) as fits_base
    from shares
),

bases as (
    select
        source_document,
        entity_id,
        fiscal_period,
        status,
        base_measure,
        base_count,
        any_value(series_label) as series_label,
        count(*) as printed_shares,
        list(measure || ' ' || value_printed || '%' order by event_id) filter (where not fits_base)
            as misfits,
        list(event_id order by event_id) filter (where not fits_base) as event_ids,
        list({'value': value, 'slack': slack}) as all_shares
    from fits
    group by source_document, entity_id, fiscal_period, status, base_measure, base_count
    having bool_or(not fits_base)
),

-- the largest base below the stated one that every share of the group fits
fitting as (
    select
        b.source_document, b.entity_id, b.fiscal_period, b.status, b.base_measure, b.base_count,
        max(n.n) as fitting_base
    from bases as b
    cross join range(1, 100000) as n(n)
    where n.n < b.base_count
        and list_bool_and(list_transform(
            b.all_shares,
            s -> ceil((s.value - s.slack) * n.n / 100 - 1e-9) <= floor((s.value + s.slack) * n.n / 100 + 1e-9)
        ))
    group by all
)

select
    'share_base_mismatch' as rule_id,
    'error' as severity,
    b.entity_id,
    b.fiscal_period,
    format(
        '{} shares of {} (n = {}){}: {} of {} printed shares are no whole number of {} ({}){}',
        b.entity_id, coalesce(b.base_measure, 'a stated base'), b.base_count,
        coalesce(' ' || b.fiscal_period, ''), len(b.misfits), b.printed_shares, b.base_count,
        array_to_string(b.misfits, '; '),
        coalesce('; every share fits a base of ' || f.fitting_base, '; no smaller base fits them all')
    ) as detail,
    b.event_ids
from bases as b
left join fitting as f
    on f.source_document = b.source_document
    and f.entity_id = b.entity_id
    and f.fiscal_period is not distinct from b.fiscal_period
    and f.status = b.status
    and f.base_measure is not distinct from b.base_measure
    and f.base_count = b.base_count
