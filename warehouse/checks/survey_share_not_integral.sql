-- survey_share_not_integral: a printed option share that no whole number of the printed sample gives, rounded as the report rounds (plainly, or to two decimals of a percent first and then half up to the printed decimals: 38 of 122 is 31.1475% → 31.15% → 31.2%; contracts/surveys/README.md). Checked for questions put to the whole sample (reference.survey_questions.published_base); a follow-up's base is not printed.
with shares as (
    select
        o.survey_id,
        o.question_id,
        o.option_id,
        q.published_base as respondents,
        o.published_share,
        coalesce(q.published_decimals, 0) as decimals
    from reference.survey_options as o
    inner join reference.survey_questions as q
        on q.survey_id = o.survey_id and q.question_id = o.question_id
    where o.published_share is not null and q.published_base > 0
        and coalesce(q.published_decimals, 0) between 0 and 2
),

-- the two whole numbers of respondents nearest the printed share
candidates as (
    select
        *,
        unnest([
            cast(floor(published_share * respondents) as bigint),
            cast(ceil(published_share * respondents) as bigint)
        ]) as selected
    from shares
),

-- in whole units of the printed digit (31.2% with one decimal: 312), integer arithmetic
rounded as (
    select
        *,
        cast(round(published_share * 100 * pow(10, decimals)) as bigint) as printed,
        cast(pow(10, decimals) as bigint) as per_percent,
        cast(pow(10, 2 - decimals) as bigint) as hundredths_per_unit,
        (2 * selected * 100 * per_percent + respondents) // (2 * respondents) as plainly,
        (2 * ((2 * selected * 10000 + respondents) // (2 * respondents)) + hundredths_per_unit)
            // (2 * hundredths_per_unit) as twice
    from candidates
)

select
    'survey_share_not_integral' as rule_id,
    'warning' as severity,
    -- the subject of a survey finding is the question's option (no entity of the registry)
    concat_ws('/', survey_id, question_id, option_id) as entity_id,
    null as fiscal_period,
    format(
        '{} {} option {}: printed {:.4g}% of {} respondents would be {:.2f} of them; no whole number rounds to it',
        survey_id, question_id, option_id, any_value(published_share) * 100, respondents,
        any_value(published_share) * respondents
    ) as detail,
    []::varchar[] as event_ids
from rounded
group by survey_id, question_id, option_id, respondents
having not bool_or(plainly = printed or twice = printed)
