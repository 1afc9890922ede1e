-- Mean importance score of each score question, beside the mean the report printed.
-- grain: survey × wave × question (score questions)
-- unique: survey_id, wave, question_id
-- not_null: survey_id, wave, question_id, respondents
-- references: survey_id, question_id -> reference.survey_questions
-- columns:
--   question_text_zh, question_text_en: the question as the survey asked it (reference.survey_questions)
--   respondents: respondents who answered the question (latest response per respondent)
--   mean_score: mean of the scores in [0, 1]
--   is_synthetic, is_constructed: any answer it counts is synthetic, or constructed (source.provenance)
--   published_mean: the mean printed in the report (reference.survey_questions)
select
    a.survey_id,
    a.wave,
    a.question_id,
    any_value(q.text_zh) as question_text_zh,
    any_value(q.text_en) as question_text_en,
    count(distinct a.respondent_id) as respondents,
    avg(a.score) as mean_score,
    any_value(q.published_mean) as published_mean,
    bool_or(a.is_synthetic) as is_synthetic,
    bool_or(a.is_constructed) as is_constructed
from staging.survey_answers as a
left join reference.survey_questions as q
    on q.survey_id = a.survey_id and q.question_id = a.question_id
where a.is_latest_response and a.kind = 'score'
group by a.survey_id, a.wave, a.question_id
