-- Who chose each option of each single- and multiple-choice question, over those who answered the question, beside the share the report printed.
-- grain: survey × wave × question × option (every option of the definition, chosen or not)
-- unique: survey_id, wave, question_id, option_id
-- not_null: survey_id, wave, question_id, option_id, respondents, selected
-- references: survey_id, question_id, option_id -> reference.survey_options
-- columns:
--   option_id: option of the question (reference.survey_options)
--   option_position: its place among the question's options (1, 2, …)
--   question_text_zh, question_text_en: the question as the survey asked it (reference.survey_questions)
--   option_label_zh, option_label_en: the option's label (reference.survey_options)
--   respondents: respondents who answered the question (latest response per respondent)
--   selected: respondents who chose the option
--   share: selected / respondents
--   published_share: the share printed in the report, over those asked (reference.survey_options)
--   is_synthetic, is_constructed: any answer it counts is synthetic, or constructed (source.provenance)
--   published_share_of_all: a share the report states over all respondents instead
with answers as (
    select survey_id, wave, question_id, respondent_id, options, is_synthetic, is_constructed
    from staging.survey_answers
    where is_latest_response and kind in ('single', 'multi')
),

asked as (
    select
        survey_id,
        wave,
        question_id,
        count(distinct respondent_id) as respondents,
        bool_or(is_synthetic) as is_synthetic,
        bool_or(is_constructed) as is_constructed
    from answers
    group by survey_id, wave, question_id
),

chosen as (
    select survey_id, wave, question_id, option_id, count(distinct respondent_id) as selected
    from (
        select survey_id, wave, question_id, respondent_id, unnest(options) as option_id
        from answers
    )
    group by survey_id, wave, question_id, option_id
)

select
    a.survey_id,
    a.wave,
    a.question_id,
    q.text_zh as question_text_zh,
    q.text_en as question_text_en,
    o.option_id,
    o.label_zh as option_label_zh,
    o.label_en as option_label_en,
    a.respondents,
    coalesce(c.selected, 0) as selected,
    coalesce(c.selected, 0) / a.respondents as share,
    o.published_share,
    o.published_share_of_all,
    o.position as option_position,
    a.is_synthetic,
    a.is_constructed
from asked as a
inner join reference.survey_options as o
    on o.survey_id = a.survey_id and o.question_id = a.question_id
left join reference.survey_questions as q
    on q.survey_id = a.survey_id and q.question_id = a.question_id
left join chosen as c
    on c.survey_id = a.survey_id
    and c.wave = a.wave
    and c.question_id = a.question_id
    and c.option_id = o.option_id
