-- yoy_shifted: a series whose stated growth labels sit one period early (each label is the next period's growth): one finding per series, naming every shifted label, instead of one yoy_mismatch a year.
select
    'yoy_shifted' as rule_id,
    'error' as severity,
    entity_id,
    min(fiscal_period) as fiscal_period,
    format(
        '{} {}: the growth labels of {} are the growth of {} (printed one period early)',
        series_label, currency,
        string_agg(fiscal_period, ', ' order by fiscal_period),
        string_agg(next_period, ', ' order by fiscal_period)
    ) as detail,
    list_sort(list_distinct(flatten(list([event_id, next_event_id])))) as event_ids
from marts.spend_growth_labels
where series_shifted and fits_next and not coalesce(fits_own, false)
group by series_key, series_label, entity_id, currency
