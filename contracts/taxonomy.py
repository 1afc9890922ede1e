"""Controlled vocabularies (enums) of the contract, loaded from ``taxonomies.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from contracts.yaml_files import read_yaml

TAXONOMY_FILE = Path(__file__).with_name("taxonomies.yaml")


@dataclass(frozen=True)
class Term:
    code: str
    zh: str
    en: str
    extra: dict[str, Any]


@dataclass(frozen=True)
class Taxonomy:
    name: str
    terms: tuple[Term, ...]
    codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", tuple(t.code for t in self.terms))

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def term(self, code: str) -> Term:
        for t in self.terms:
            if t.code == code:
                return t
        raise KeyError(f"{code!r} is not in {self.name}")


@cache
def taxonomies() -> dict[str, Taxonomy]:
    raw = read_yaml(TAXONOMY_FILE)
    result = {}
    for name, entries in raw.items():
        terms = tuple(
            Term(
                code=str(code),
                zh=str(v["zh"]),
                en=str(v["en"]),
                extra={k: x for k, x in v.items() if k not in ("zh", "en")},
            )
            for code, v in entries.items()
        )
        result[name] = Taxonomy(name, terms)
    return result


def taxonomy(name: str) -> Taxonomy:
    return taxonomies()[name]


def codes(name: str) -> tuple[str, ...]:
    return taxonomy(name).codes


@cache
def unit_scale() -> dict[str, float]:
    return {t.code: float(t.extra["scale"]) for t in taxonomy("unit").terms}


@cache
def stage_ordinal() -> dict[str, int]:
    return {
        t.code: int(t.extra["ordinal"]) for t in taxonomy("stage").terms if "ordinal" in t.extra
    }
