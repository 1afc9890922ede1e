"""What each column of the tables defined in ``warehouse/schema.py`` and
``warehouse/reference.py`` means, for the data dictionary (``warehouse.dictionary``).

One entry per relation × column; a test fails when a column of the dictionary has no meaning.
Columns holding a code of a taxonomy (``contracts/taxonomies.yaml``) are marked by
``taxonomy_of``: the dictionary then points to ``reference.taxonomy_terms`` for their values
and labels. Other closed sets of values are spelled out in the meaning itself.
"""

from __future__ import annotations

# a column whose name is a taxonomy's holds its codes, unless its relation's type is numeric
TAXONOMY_COLUMNS = {
    "event_type": "event_type",
    "source_provenance": "provenance",
    "provenance": "provenance",
    "level": "level",
    "institution_type": "institution_type",
    "tier": "tier",
    "status": "status",
    "scope": "scope",
    "spend_class": "spend_class",
    "currency": "currency",
    "unit": "unit",
    "bound": "bound",
    "capability": "capability",
    "stage": "stage",
    "date_precision": "date_precision",
    "sourcing": "sourcing",
    "xinchuang_layer": "xinchuang_layer",
    "metric": "observation_metric",
    "presentation": "presentation",
}
# ``technology`` is a spend technology or a deployment technology, by relation
DEPLOYMENT_RELATIONS = ("deployment", "milestone", "maturity", "stage_rating")
# ``kind`` is an answer kind only in the survey relations
ANSWER_KIND_RELATIONS = ("raw.survey_answers", "staging.survey_answers")


def taxonomy_of(relation: str, column: str, data_type: str) -> str | None:
    """The taxonomy whose codes ``relation.column`` holds, or None."""
    if not data_type.startswith("varchar"):
        return None
    if column == "technology":
        deployment = any(word in relation for word in DEPLOYMENT_RELATIONS)
        return "deployment_technology" if deployment else "spend_technology"
    if column == "kind":
        return "answer_kind" if relation in ANSWER_KIND_RELATIONS else None
    if relation == "reference.taxonomy_terms":
        return None
    return TAXONOMY_COLUMNS.get(column)


_BATCH = "the ingest or backfill batch (ops.ingest_runs.batch_id)"
_COUNTS = {
    "consumed": "messages read",
    "landed": "events landed in raw.*",
    "duplicates": "byte-identical repeats of a landed event, dropped (ops.duplicate_events)",
    "quarantined": "messages put in quarantine.events",
}
_SEVERITY = "error | warning | info (docs/reconciliation.md)"

TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "quarantine.events": {
        "raw_value": "the message value as received, byte for byte (personal data replaced by "
        "its keyed hash when redacted); finradar sql prints it as base64",
        "raw_text": "raw_value as text for a person: UTF-8 decoded, each invalid byte as "
        "U+FFFD (�); NULL when there are no bytes, they hold a NUL byte (not text), or more "
        "of them than the contract allows a message (oversize: whole in raw_value)",
        "raw_sha256": "SHA-256 of the bytes as received, before any redaction "
        "(hmac-sha256:<hex>, keyed, when they held personal data)",
        "redacted": "personal data in raw_value or message_key was replaced by its keyed hash: "
        "the message is no longer the one sent and is never replayed",
        "event_id": "the event's id when the message could be read that far, else NULL",
        "event_type": "the envelope's event_type when it could be read, else NULL",
        "reason_code": "the first reason it was not landed: a reason code of contracts/checks.py "
        "(listed in the README, section Contracts: oversize, invalid_json, unknown_enum, "
        "event_id_conflict, internal_error, …)",
        "reason_detail": "the first reason's detail, for a person (field, value, limit)",
        "reasons": "every reason found, in order: {code, detail}",
        "batch_id": "the ingest or backfill batch that quarantined the message (ops.ingest_runs)",
        "quarantined_at": "when that batch committed",
        "replayed_at": "when a replay landed it or found it a duplicate (NULL: still waiting)",
        "replay_batch_id": "the replay that did (ops.replay_runs.replay_batch_id)",
    },
    "ops.kafka_offsets": {
        "kafka_topic": "topic",
        "kafka_partition": "partition",
        "next_offset": "the next offset an ingest reads: every message before it is accounted "
        "for (landed, duplicate or quarantined)",
        "batch_id": "the batch that last moved it",
        "committed_at": "when that batch committed",
    },
    "ops.partition_batches": {
        "batch_id": _BATCH,
        "kafka_topic": "topic",
        "kafka_partition": "partition",
        "start_offset": "first offset the batch read",
        "next_offset": "offset after the last one it read",
        **_COUNTS,
    },
    "ops.ingest_runs": {
        "batch_id": _BATCH + ": <time>-<hex>; the DuckLake commit message of its "
        "snapshot is `ingest <batch_id>` or `backfill <batch_id>`",
        "started_at": "when the batch started reading",
        "finished_at": "when it committed",
        **_COUNTS,
        "runner": "the Beam runner that ran it (DirectRunner, PrismRunner, …)",
        "seconds": "finished_at − started_at, in seconds",
    },
    "ops.landed_events": {
        "event_id": "a landed event's id (one row each: the first copy landed)",
        "event_type": "its event type",
        "content_sha256": "SHA-256 of its bytes (keyed when they held personal data): a repeat "
        "with the same hash is a duplicate, with another an event_id_conflict",
        "kafka_topic": "topic it was read from",
        "kafka_partition": "partition",
        "kafka_offset": "offset",
        "batch_id": "the batch that landed it",
    },
    "ops.duplicate_events": {
        "kafka_topic": "topic the repeat was read from",
        "kafka_partition": "partition",
        "kafka_offset": "offset of the repeat",
        "event_id": "the event it repeats (ops.landed_events)",
        "content_sha256": "SHA-256 of its bytes, equal to the landed event's",
        "batch_id": "the batch that dropped it",
    },
    "ops.model_state": {
        "relation": "a reference table, model (schema.name) or `checks` (the findings)",
        "kind": "reference | view | table | checks",
        "fingerprint": "hash of its SQL (or data) and of what it reads: unchanged, it is not "
        "rebuilt",
        "rows": "rows it held when built",
        "refresh_id": "the refresh that built it",
        "built_at": "when",
    },
    "ops.refresh_runs": {
        "refresh_id": "refresh-<time>-<hex>; the DuckLake commit message of its snapshot is "
        "`refresh <refresh_id>`",
        "started_at": "when the refresh started",
        "finished_at": "when it committed",
        "rebuilt": "the relations it rebuilt (ops.model_state.relation)",
        "unchanged": "how many relations it left as they were",
        "findings": "findings open after it (dq.findings)",
        "seconds": "how long it took",
    },
    "ops.offset_resets": {
        "kafka_topic": "topic",
        "kafka_partition": "partition",
        "batch_id": "the backfill that read the partition again",
        "previous_next_offset": "what the warehouse had committed for the old topic",
        "next_offset": "where the recreated partition ended",
        "reset_at": "when the backfill committed",
    },
    "ops.replay_runs": {
        "replay_batch_id": "replay-<time>-<hex>; the DuckLake commit message of its snapshot is "
        "`replay <replay_batch_id>`",
        "started_at": "when the replay started",
        "finished_at": "when it committed",
        "reasons": "the reason codes replayed (empty: all)",
        "rechecked": "quarantined messages checked again",
        "landed": "of those, events landed in raw.*",
        "duplicates": "of those, events that had landed meanwhile with the same content",
        "still_quarantined": "of those, messages that failed again (they stay in quarantine)",
        "seconds": "how long it took",
    },
    "dq.validation_runs": {
        "batch_id": _BATCH,
        "contract": "the event type whose Great Expectations suite ran (spend_disclosure, …)",
        "rows_checked": "rows of the batch the suite checked",
        "rows_failed": "rows that failed at least one expectation (quarantined)",
        "expectations": "expectations of the suite",
        "expectations_failed": "expectations with at least one failing row",
        "success": "true when every expectation passed",
        "report_path": "the GX data-docs page of the run (NULL when none was written)",
    },
    "dq.expectation_results": {
        "batch_id": _BATCH,
        "contract": "the event type whose suite ran",
        "expectation": "the GX expectation type (expect_column_values_to_be_in_set, …)",
        "column_name": "the column it checks (NULL for a table-level expectation)",
        "reason_code": "the quarantine reason_code its failing rows get",
        "success": "true when no row failed it",
        "unexpected_count": "rows that failed it",
    },
    "dq.findings": {
        "finding_key": "stable id of a finding: the same rule, subject and events give the "
        "same key in every refresh",
        "rule_id": "the reconciliation rule (table at the end of this page)",
        "severity": _SEVERITY,
        "entity_id": "the entity it is about (NULL: several)",
        "fiscal_period": "the period it is about (NULL: several)",
        "detail": "one line for a person: the figures and why they disagree",
        "event_ids": "the events involved (raw.*.event_id)",
        "detected_at": "the first refresh that raised it",
        "refresh_id": "the last refresh that confirmed it (ops.refresh_runs)",
    },
    "dq.findings_history": {
        "finding_key": "as in dq.findings",
        "episode": "1, then 2 if it reappears after it was resolved, …",
        "rule_id": "the reconciliation rule",
        "severity": _SEVERITY,
        "entity_id": "the entity it is about (NULL: several)",
        "fiscal_period": "the period it is about (NULL: several)",
        "event_ids": "the events involved",
        "detail": "as last seen",
        "first_seen_refresh_id": "the refresh that opened the episode",
        "first_seen_at": "when",
        "last_seen_refresh_id": "the last refresh whose checks found it (a refresh whose inputs "
        "had not changed runs no checks: the finding stays open)",
        "last_seen_at": "when",
        "resolved_refresh_id": "the first refresh that no longer found it (NULL: open)",
        "resolved_at": "when (NULL: open)",
    },
    "dq.alerts": {
        "alert_id": "one id per state change",
        "rule": "the alert rule of the settings (alerts.*: flow_failed, quarantine_rate, "
        "error_finding, freshness, consumer_lag)",
        "subject": "what it is about: a topic, a flow, a finding key",
        "state": "firing | resolved",
        "previous_state": "ok | firing",
        "value": "what was measured (rate, age in s, lag, count)",
        "threshold": "the bound it was held against",
        "detail": "one line for a person",
        "changed_at": "when the state changed",
        "notified": "the notifiers that took it (webhook, log)",
    },
    "reference.taxonomy_terms": {
        "taxonomy": "the taxonomy of contracts/taxonomies.yaml (institution_type, capability, "
        "stage, …): every column marked 'codes of taxonomy X' on this page takes its values "
        "from the rows with taxonomy = X",
        "code": "the code events and relations carry",
        "position": "its place in the taxonomy (1, 2, …): the order to list codes in",
        "label_zh": "label in Chinese",
        "label_en": "label in English",
        "ordinal": "for stages: 1 (lowest) up to the highest stage; NULL otherwise",
        "scale": "for units: the factor to yuan (万 = 1e4, 亿 = 1e8); NULL otherwise",
    },
    "reference.entities": {
        "entity_id": "stable id, e.g. cn.bank.icbc (syn.… for the synthetic stream's)",
        "name_zh": "display name in Chinese (generated for a synthetic institution, e.g. "
        "合成城市商业银行042)",
        "name_en": "display name in English (generated for a synthetic institution, e.g. "
        "Synthetic city commercial bank 042)",
        "is_synthetic": "an institution of the synthetic stream (contracts/synthetic_entities.py):"
        " its name is generated, not a real institution's",
    },
    "reference.group_members": {
        "group_id": "a group's entity_id (reference.entities, level group)",
        "member_id": "a member's entity_id",
    },
    "reference.survey_questions": {
        "survey_id": "survey (contracts/surveys)",
        "question_id": "question of the survey",
        "position": "its place in the questionnaire (1, 2, …)",
        "kind": "single | multi | score | stage (codes of taxonomy answer_kind)",
        "capability": "for a stage question: the capability it rates",
        "institution_types": "the institution types it was put to (NULL: all)",
        "text_zh": "the question in Chinese",
        "text_en": "the question in English",
        "published_decimals": "decimals the report printed its figures with",
        "published_cluster": "the cluster the report printed for it (先行派 / 攻坚派 / 探索派)",
        "published_base": "the printed sample size, for a question put to the whole sample",
    },
    "reference.survey_options": {
        "survey_id": "survey",
        "question_id": "question",
        "option_id": "option of the question",
        "position": "its place among the question's options (1, 2, …)",
        "label_zh": "label in Chinese",
        "label_en": "label in English",
        "published_share_approx": "a share the report prints only roughly (约), as a number",
    },
}

# fields the contract (contracts/spec.py) declares without a doc, as they land in raw.*
CONTRACT_FIELDS = {
    "schema_version": "the contract's major version on the wire (1; a minor revision only adds "
    "optional fields)",
    "effective_date": "when the milestone took effect, to the precision of date_precision",
    "product": "the product or system the source names",
    "vendor": "the vendor the source names (NULL: none stated)",
    "kpis": "the KPIs the source gives for the milestone: {name, value, unit, baseline}",
    "amount": "the amount as disclosed, in unit of currency (amount_yi: in 亿)",
    "question_id": "question of the survey (reference.survey_questions)",
    "survey_id": "survey (contracts/surveys, reference.survey_questions)",
    "wave": "wave of the survey (e.g. 2025)",
    "department": "the respondent's department as answered",
}
