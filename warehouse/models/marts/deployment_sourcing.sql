-- How landing cases were sourced (purchased, co-developed, in-house) per institution type, over all capabilities.
-- grain: institution_type × sourcing (cases with a stated sourcing)
-- unique: institution_type, sourcing
-- not_null: institution_type, sourcing, cases, share
-- references: sourcing -> reference.taxonomy_terms[sourcing]
-- columns:
--   cases: cases of marts.deployment_cases with this sourcing
--   share: cases / all cases of the type with a stated sourcing
--   is_synthetic, is_constructed: any case it counts is synthetic, or constructed (source.provenance)
select
    institution_type,
    sourcing,
    cast(sum(cases) as bigint) as cases,
    sum(cases) / sum(sum(cases)) over (partition by institution_type) as share,
    bool_or(is_synthetic) as is_synthetic,
    bool_or(is_constructed) as is_constructed
from marts.deployment_cases
where sourcing is not null
group by institution_type, sourcing
