"""Survey definitions are data: a new file in the folder is a new survey, no code change."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.checks import check_event
from contracts.survey_catalog import SURVEYS_DIR, SurveyCatalog, survey_catalog
from tests.fixtures.contract import survey_example

NOW = datetime(2026, 11, 26, tzinfo=UTC)
NEW_SURVEY = """\
survey_id: ai-budget-pulse-2026
title_zh: 金融机构AI预算快速调查（2026）
title_en: AI budget pulse of financial institutions (2026)
publisher: finradar
document: pulse questionnaire
published_on: 2026-11-01
waves: ["2026Q4"]
questions:
  - question_id: budget_trend
    kind: single
    text_zh: 明年AI预算变化
    text_en: AI budget next year
    options:
      - {option_id: up, label_zh: 增加, label_en: Up}
      - {option_id: flat, label_zh: 持平, label_en: Flat}
  - question_id: genai_stage
    kind: stage
    text_zh: 生成式AI在客服中的阶段
    text_en: Stage of GenAI in customer service
    capability: customer_service
"""


def _response() -> dict:
    event = survey_example()
    event["payload"].update(
        survey_id="ai-budget-pulse-2026",
        wave="2026Q4",
        answers=[
            {"question_id": "budget_trend", "kind": "single", "options": ["up"]},
            {"question_id": "genai_stage", "kind": "stage", "stage": "exploration"},
        ],
    )
    return event


def test_a_new_survey_file_is_picked_up(tmp_path: Path):
    folder = tmp_path / "surveys"
    shutil.copytree(SURVEYS_DIR, folder)
    before = SurveyCatalog.load(folder)
    codes = [r.code for r in check_event(_response(), now=NOW, catalog=before)]
    assert codes == ["unknown_survey"]
    (folder / "ai-budget-pulse-2026.yaml").write_text(NEW_SURVEY, encoding="utf-8")
    after = SurveyCatalog.load(folder)
    assert check_event(_response(), now=NOW, catalog=after) == []
    assert after.get("ai-budget-pulse-2026").questions["genai_stage"].capability == (
        "customer_service"
    )


def test_file_name_must_match_survey_id(tmp_path: Path):
    (tmp_path / "other-name.yaml").write_text(NEW_SURVEY, encoding="utf-8")
    with pytest.raises(ValueError, match="differs from the file name"):
        SurveyCatalog.load(tmp_path)


def test_shipped_surveys():
    catalog = survey_catalog()
    # A superset, not equality: test_continuous adds a definition to this very folder (the
    # documented way to add a survey) while the other test worker may be running this test.
    assert {s.survey_id for s in catalog} >= {"fintech-practice-2025", "capability-maturity-2025"}
    maturity = catalog.get("capability-maturity-2025")
    assert all(q.kind == "stage" and q.capability for q in maturity.questions.values())


def test_a_stage_question_must_rate_a_known_capability(tmp_path: Path):
    broken = NEW_SURVEY.replace("capability: customer_service", "capability: teleportation")
    (tmp_path / "ai-budget-pulse-2026.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError, match="known capability"):
        SurveyCatalog.load(tmp_path)
