"""Survey definitions (``contracts/surveys/*.yaml``) as a lookup for checks and models.

A file added to the folder is picked up without code changes; see ``surveys/README.md``
for the format.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from contracts.taxonomy import codes
from contracts.yaml_files import read_yaml

SURVEYS_DIR = Path(__file__).with_name("surveys")


@dataclass(frozen=True)
class Question:
    question_id: str
    kind: str
    options: frozenset[str]
    capability: str | None
    definition: dict[str, Any]


@dataclass(frozen=True)
class Survey:
    survey_id: str
    waves: tuple[str, ...]
    questions: dict[str, Question]
    definition: dict[str, Any]


class SurveyCatalog:
    """The surveys of one folder by ``survey_id``."""

    def __init__(self, surveys: dict[str, Survey]) -> None:
        self.surveys = surveys

    def get(self, survey_id: str) -> Survey | None:
        return self.surveys.get(survey_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.surveys.values())

    @classmethod
    def load(cls, folder: Path | None = None) -> SurveyCatalog:
        """The surveys of ``folder`` (``SURVEYS_DIR`` as it is when called)."""
        surveys: dict[str, Survey] = {}
        for path in sorted((folder or SURVEYS_DIR).glob("*.yaml")):
            doc = read_yaml(path)
            survey_id = str(doc["survey_id"])
            if path.stem != survey_id:
                raise ValueError(f"{path.name}: survey_id {survey_id!r} differs from the file name")
            questions = {}
            for q in doc["questions"]:
                qid = str(q["question_id"])
                if qid in questions:
                    raise ValueError(f"{path.name}: question {qid} defined twice")
                _check_question(path.name, q)
                questions[qid] = Question(
                    question_id=qid,
                    kind=str(q["kind"]),
                    options=frozenset(str(o["option_id"]) for o in q.get("options") or []),
                    capability=q.get("capability"),
                    definition=q,
                )
            surveys[survey_id] = Survey(
                survey_id=survey_id,
                waves=tuple(str(w) for w in doc["waves"]),
                questions=questions,
                definition=doc,
            )
        return cls(surveys)


def _check_question(file: str, q: dict[str, Any]) -> None:
    where = f"{file}: question {q['question_id']}"
    if q["kind"] not in codes("answer_kind"):
        raise ValueError(f"{where}: kind {q['kind']!r} is not one of {codes('answer_kind')}")
    option_ids = [str(o["option_id"]) for o in q.get("options") or []]
    if len(option_ids) != len(set(option_ids)):
        raise ValueError(f"{where}: an option id is repeated")
    if q["kind"] in ("single", "multi") and not option_ids:
        raise ValueError(f"{where}: a {q['kind']} question needs options")
    if q["kind"] == "stage" and q.get("capability") not in codes("capability"):
        raise ValueError(f"{where}: a stage question rates a known capability")


def catalog_signature(folder: Path | None = None) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the definition files (of ``SURVEYS_DIR`` as
    it is when called): changes when one is added or edited."""
    return tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted((folder or SURVEYS_DIR).glob("*.yaml"))
    )


@cache
def _catalog(folder: Path, signature: tuple[tuple[str, int, int], ...]) -> SurveyCatalog:
    return SurveyCatalog.load(folder)


_current: list[tuple[tuple[str, int, int], ...]] = []


def survey_catalog() -> SurveyCatalog:
    """The catalog of ``contracts/surveys`` as of the last ``reload_survey_catalog`` (loaded
    once per process until then: per-event checks call this)."""
    if not _current:
        _current.append(catalog_signature())
    return _catalog(SURVEYS_DIR, _current[0])


def loaded_signature() -> tuple[tuple[str, int, int], ...]:
    """The signature of the files ``survey_catalog()`` was loaded from."""
    survey_catalog()
    return _current[0]


def reload_survey_catalog() -> tuple[tuple[str, int, int], ...]:
    """Pick up definitions added or edited since the catalog was loaded (a long-running
    ``serve`` or ``follow`` calls this before each pass); returns the current signature."""
    _current[:] = [catalog_signature()]
    return _current[0]
