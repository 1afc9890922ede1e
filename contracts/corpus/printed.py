"""Numbers as the reports print them, from the corpus YAML to the wire.

YAML reads ``0.080`` as the float 0.08, and its JSON would be ``0.08``: the platform reads a
figure's precision from the digits on the wire (``0.080`` carries ±0.0005, ``0.08`` ±0.005),
so a trailing zero lost there loosens every check on that figure tenfold. ``PrintedLoader``
keeps each decimal number's text beside its value (``PrintedFloat``), and ``corpus_json``
writes that text back (orjson's ``Fragment``).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import yaml

JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


class PrintedFloat(float):
    """A float that remembers the text it was printed as."""

    text: str

    def __new__(cls, text: str) -> PrintedFloat:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __reduce__(self) -> tuple[Any, ...]:
        return PrintedFloat, (self.text,)


class PrintedLoader(yaml.SafeLoader):
    """A safe YAML loader whose decimal numbers are ``PrintedFloat``s."""


def _printed_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = loader.construct_scalar(node)
    if isinstance(text, str) and JSON_NUMBER.fullmatch(text):
        return PrintedFloat(text)
    return loader.construct_yaml_float(node)


PrintedLoader.add_constructor("tag:yaml.org,2002:float", _printed_float)


def load_printed(text: str) -> Any:
    """``text`` as YAML, its decimal numbers as printed."""
    return yaml.load(text, Loader=PrintedLoader)


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, PrintedFloat):
        return orjson.Fragment(value.text.encode())
    raise TypeError(f"{type(value).__name__} is not JSON")


def corpus_json(event: dict[str, Any]) -> bytes:
    """An event as compact UTF-8 JSON, each printed number with its printed digits."""
    return orjson.dumps(event, default=_fragment, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
