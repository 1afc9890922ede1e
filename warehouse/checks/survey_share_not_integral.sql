-- survey_share_not_integral: a printed option share that no whole number of the question's respondents can give, within the share's printed rounding (e.g. 33.3% of 10 respondents).
with shares as (
    select
        s.survey_id,
        s.wave,
        s.question_id,
        s.option_id,
        s.respondents,
        s.published_share,
        -- half a unit of the last printed digit of a percentage with published_decimals decimals
        0.5 * pow(10, -(coalesce(q.published_decimals, 0) + 2)) as rounding
    from marts.survey_option_shares as s
    inner join reference.survey_questions as q
        on q.survey_id = s.survey_id and q.question_id = s.question_id
    where s.published_share is not null and s.respondents > 0
)

select
    'survey_share_not_integral' as rule_id,
    'warning' as severity,
    -- the subject of a survey finding is the question's option (no entity of the registry)
    concat_ws('/', survey_id, question_id, option_id) as entity_id,
    wave as fiscal_period,
    format(
        '{} {} option {}: printed {:.4g}% of {} respondents is {:.2f} respondents; no whole number gives {:.4g}% ± {:.4g} pp',
        survey_id, question_id, option_id, published_share * 100, respondents,
        published_share * respondents, published_share * 100, rounding * 100
    ) as detail,
    []::varchar[] as event_ids
from shares
where abs(round(published_share * respondents) / respondents - published_share) > rounding + 1e-12
