-- Every printed figure the events carry, one number each, as the warehouse gives it back: spend amounts, shares, growth labels, CAGRs and headcounts, counted cases and KPIs of milestones, observations' values, and the survey shares and means the respondents' answers give at the report's printed precision.
-- grain: one row per figure_id (event × field), and per figure_id × wave for survey figures (survey × question × option × published figure)
-- unique: figure_id, fiscal_period
-- not_null: figure_id, field, value, source_document
-- columns:
--   figure_id: <event_id>/<field>, <event_id>/kpis/<kpi name>, or survey/<survey_id>/<question_id>[/<option_id>]/published_share|published_mean (contracts/corpus/coverage.py)
--   entity_name_zh, entity_name_en: the entity's name in Chinese and English (reference.entities: the registry's, generated for synthetic institutions; NULL for an entity only events describe, which marts.dim_entity names); NULL for survey figures
--   field: the payload field: a numeric field of its event type (contracts/corpus/coverage.py figure_fields: amount, revenue_share, reported_yoy, stated_cagr, tech_headcount, tech_headcount_share, case_count, value, value_high, base_count), kpis/<name>, or published_share, published_mean
--   value: the figure in the field's own unit: spend amounts in their printed unit, spend shares and rates as fractions (2.5% is 0.025), observations as printed (45.49 for 45.49%), survey figures as fractions
--   unit: the unit of value as the source gives it (亿元 for a spend amount in 亿 CNY, '%', fraction for shares kept as fractions)
--   source_document: the document that printed it (the survey's id for survey figures)
--   is_synthetic, is_constructed: the figure's event (or any answer counted) is synthetic or constructed
with spend as (
    select
        event_id,
        entity_id,
        fiscal_period,
        source_document,
        is_synthetic,
        is_constructed,
        unit as amount_unit,
        currency,
        amount,
        revenue_share,
        reported_yoy,
        stated_cagr,
        cast(tech_headcount as double) as tech_headcount,
        tech_headcount_share
    from staging.spend_disclosures
),

spend_figures as (
    unpivot spend
    on amount, revenue_share, reported_yoy, stated_cagr, tech_headcount, tech_headcount_share
    into name field value value
),

observation_figures as (
    select
        * exclude (unit),
        -- a share's stated base is a count, not in the share's unit
        case when field = 'base_count' then 'count' else unit end as unit
    from (
        unpivot (
            select
                event_id, entity_id, fiscal_period, source_document, is_synthetic,
                is_constructed, unit, value, value_high, cast(base_count as double) as base_count
            from staging.observations
        )
        on value, value_high, base_count
        into name field value value
    )
),

milestone_cases as (
    select
        event_id, entity_id, cast(year(effective_date) as varchar) as fiscal_period,
        source_document, is_synthetic, is_constructed,
        'case_count' as field, cast(case_count as double) as value, '个' as unit
    from staging.deployment_milestones
    where case_count is not null
),

milestone_kpis as (
    select
        event_id, entity_id, cast(year(effective_date) as varchar) as fiscal_period,
        source_document, is_synthetic, is_constructed,
        'kpis/' || kpi.name as field, kpi.value as value, kpi.unit as unit
    from (select *, unnest(kpis) as kpi from staging.deployment_milestones)
    where kpi.value is not null
),

-- the survey figures the respondents' answers give, in percent: option shares and mean scores
survey_percentages as (
    select
        'survey/' || s.survey_id || '/' || s.question_id || '/' || s.option_id
            || '/published_share' as figure_id,
        'published_share' as field,
        s.survey_id, s.question_id, s.wave, s.is_synthetic, s.is_constructed,
        s.share * 100 as percent
    from marts.survey_option_shares as s
    where s.published_share is not null and s.respondents > 0
    union all
    select
        'survey/' || s.survey_id || '/' || s.question_id || '/published_mean',
        'published_mean',
        s.survey_id, s.question_id, s.wave, s.is_synthetic, s.is_constructed,
        s.mean_score * 100
    from marts.survey_scores as s
    where s.published_mean is not null
),

-- as the report prints them: rounded to 0.01 % first, then to the question's digits
survey_figures as (
    select
        p.*,
        cast(
            case q.published_decimals
                when 0 then round(cast(round(p.percent, 2) as decimal(12, 2)), 0)
                when 1 then round(cast(round(p.percent, 2) as decimal(12, 2)), 1)
                else cast(round(p.percent, 2) as decimal(12, 2))
            end as double
        ) / 100 as value
    from survey_percentages as p
    inner join reference.survey_questions as q
        on q.survey_id = p.survey_id and q.question_id = p.question_id
),

-- a spend amount's unit in words, from the contract's unit labels (亿 + 元 = 亿元)
amount_units as (
    select code as amount_unit, rtrim(label_zh, '元') as scale_zh
    from reference.taxonomy_terms
    where taxonomy = 'unit'
),

figures as (
    select
        event_id || '/' || field as figure_id,
        event_id,
        entity_id,
        fiscal_period,
        field,
        value,
        case
            when field = 'amount' then
                trim(u.scale_zh || case currency when 'CNY' then '元' else ' ' || currency end)
            when field = 'tech_headcount' then '人'
            else 'fraction'
        end as unit,
        source_document,
        is_synthetic,
        is_constructed
    from spend_figures
    left join amount_units as u using (amount_unit)
    union all by name
    select
        event_id || '/' || field as figure_id, event_id, entity_id, fiscal_period, field, value,
        unit, source_document, is_synthetic, is_constructed
    from observation_figures
    union all by name
    select
        event_id || '/' || field as figure_id, event_id, entity_id, fiscal_period, field, value,
        unit, source_document, is_synthetic, is_constructed
    from milestone_cases
    union all by name
    select
        event_id || '/' || field as figure_id, event_id, entity_id, fiscal_period, field, value,
        unit, source_document, is_synthetic, is_constructed
    from milestone_kpis
    union all by name
    select
        figure_id, null as event_id, null as entity_id, wave as fiscal_period, field, value,
        'fraction' as unit, survey_id as source_document, is_synthetic, is_constructed
    from survey_figures
)

select
    f.figure_id,
    f.event_id,
    f.entity_id,
    e.name_zh as entity_name_zh,
    e.name_en as entity_name_en,
    f.* exclude (figure_id, event_id, entity_id)
from figures as f
left join reference.entities as e on e.entity_id = f.entity_id
