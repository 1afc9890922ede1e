-- survey_shares_sum: the printed shares of a single-choice question's options do not add up to 100% within their rounding (half a printed digit per option).
with printed as (
    select
        o.survey_id,
        o.question_id,
        count(*) as options,
        sum(o.published_share) as total,
        0.5 * pow(10, -(coalesce(any_value(q.published_decimals), 0) + 2)) as rounding
    from reference.survey_options as o
    inner join reference.survey_questions as q
        on q.survey_id = o.survey_id and q.question_id = o.question_id
    where q.kind = 'single'
    group by o.survey_id, o.question_id
    -- every option printed: a question with an unprinted option cannot be added up
    having count(o.published_share) = count(*)
)

select
    'survey_shares_sum' as rule_id,
    'error' as severity,
    -- the subject of a survey finding is the question (no entity of the registry)
    concat_ws('/', survey_id, question_id) as entity_id,
    null as fiscal_period,
    format(
        '{} {}: the {} printed shares of a single-choice question add up to {:.4g}%, not 100% ± {:.4g} pp',
        survey_id, question_id, options, total * 100, options * rounding * 100
    ) as detail,
    []::varchar[] as event_ids
from printed
where abs(total - 1) > options * rounding + 1e-12
