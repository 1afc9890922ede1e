-- yoy_mismatch: a stated growth rate that the levels cannot produce, whatever their rounding.
-- fires when the reported_yoy interval (± half its last printed digit) does not meet [yoy_low, yoy_high], the growth range the two rounded levels allow; a label of a series whose labels sit one period early and that fits the next period's growth is yoy_shifted's, not this rule's.
select
    'yoy_mismatch' as rule_id,
    'error' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {}: reported growth {:.2f}% but {} → {} gives {:.2f}% (rounding allows {:.2f}% to {:.2f}%)',
        series_label, status,
        reported_yoy * 100, previous_period, fiscal_period, yoy * 100, yoy_low * 100, yoy_high * 100
    ) as detail,
    [previous_event_id, event_id] as event_ids
from marts.spend_growth_labels
where not fits_own
    and not (series_shifted and coalesce(fits_next, false))
