-- cited_source_conflict: one figure of a document (entity, measure, metric, unit, period and status) credited to different data sources in different places (the text cites IDC, the chart Gartner): which one holds is not known.
with figures as (
    select
        entity_id,
        fiscal_period,
        status,
        any_value(series_label) as series_label,
        list(distinct cited_source order by cited_source) as sources,
        list(event_id order by event_id) as event_ids
    from staging.observations
    where cited_source is not null
    group by source_document, figure_key, entity_id, fiscal_period, status
    having count(distinct cited_source) > 1
)

select
    'cited_source_conflict' as rule_id,
    'warning' as severity,
    entity_id,
    fiscal_period,
    format(
        '{} {} {}: credited to {} in different places of the document: check which source it comes from',
        series_label, coalesce(fiscal_period, '(no period)'), status,
        array_to_string(sources, ' and ')
    ) as detail,
    event_ids
from figures
