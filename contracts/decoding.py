"""Strict decoding of a Kafka value: one definition for ingest, replay, validate and produce.

A value is accepted only if every later stage can store it exactly as it was meant:

* at most ``MAX_MESSAGE_BYTES`` (``oversize``), UTF-8 (``invalid_utf8``);
* one JSON document (``invalid_json``: trailing data, NaN/Infinity, a byte-order mark…),
  an object at the top (``not_an_object``);
* nested at most ``MAX_DEPTH`` levels (``nesting_too_deep``; the contract needs five), checked
  before parsing so the parser never recurses deeper;
* every object's keys distinct (``duplicate_key``: readers disagree on which one counts);
* every number exactly representable as an IEEE double (``number_out_of_range``: integers
  within ±(2^53 − 1), RFC 8259's interoperable range, and no float that overflows);
* every string valid Unicode (``invalid_unicode``: a ``\\uD800``-style escape without its
  pair decodes to a lone surrogate, which no UTF-8 store can hold).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from contracts.personal_data import shown, withheld_if_personal
from contracts.spec import MAX_MESSAGE_BYTES

MAX_DEPTH = 32  # objects and arrays inside each other; the contract itself nests five deep
MAX_SAFE_INTEGER = 2**53 - 1

# a JSON string (escapes included; one left open runs to the end, so a scan never starts
# again inside it: that would be quadratic) or one bracket: what the depth scan looks at
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
# an escaped UTF-16 surrogate: the only way a lone surrogate can reach decoded text
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


class Decoded:
    """A decoded value: the object, or the reason it could not be decoded."""

    __slots__ = ("event", "reason")

    def __init__(self, event: dict[str, Any] | None, reason: Reason | None) -> None:
        self.event = event
        self.reason = reason


class _Rejected(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = Reason(code, detail)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _Rejected("duplicate_key", f"key {shown(key, 80)} appears twice in one object")
    return obj


def _integer(text: str) -> int:
    # more than 16 digits is beyond 2^53 whatever they are: never convert them (a literal of
    # thousands of digits would cost quadratic time, or exceed Python's conversion limit)
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise _Rejected(
            "number_out_of_range", f"integer {text[:40]} is beyond ±(2^53 - 1) (RFC 8259)"
        )
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected("number_out_of_range", f"number {text[:40]} overflows a double")
    return value


def _reject_constant(name: str) -> None:
    raise _Rejected("invalid_json", f"{name} is not valid JSON")


def nests_deeper_than(value: bytes, limit: int) -> bool:
    """Whether the objects and arrays of a JSON text nest more than ``limit`` levels deep
    (brackets inside strings aside); stops at the first level past it."""
    depth = 0
    for m in _TOKEN.finditer(value):
        token = m.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def printable(text: str) -> str:
    """``text`` with what UTF-8 cannot hold (lone surrogates) written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _lone_surrogate_at(node: Any) -> str | None:
    """The path of the first string (or key) holding a lone surrogate, or None."""
    stack: list[tuple[Any, str]] = [(node, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return printable(withheld_if_personal(where)) or "the value"
        elif isinstance(item, dict):
            for k, v in item.items():
                path = f"{where}.{k}" if where else k
                stack.append((k, f"a key of {where or 'the event'}"))
                stack.append((v, path))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
    return None


def decode(value: bytes | None) -> Decoded:
    """The value as a JSON object, or the first reason it is not one a store could keep."""
    if value is None:
        return Decoded(None, Reason("invalid_json", "empty value (tombstone)"))
    if len(value) > MAX_MESSAGE_BYTES:
        return Decoded(None, Reason("oversize", f"{len(value)} bytes > {MAX_MESSAGE_BYTES}"))
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Decoded(None, Reason("invalid_utf8", f"byte {exc.start}: {exc.reason}"))
    # the bracket count bounds the depth from above: only a value with many brackets is scanned
    if value.count(b"[") + value.count(b"{") > MAX_DEPTH and nests_deeper_than(value, MAX_DEPTH):
        return Decoded(None, Reason("nesting_too_deep", f"nested more than {MAX_DEPTH} levels"))
    try:
        event = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_reject_constant,
        )
    except _Rejected as exc:
        return Decoded(None, exc.reason)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        return Decoded(None, Reason("invalid_json", str(exc)[:200]))
    if not isinstance(event, dict):
        return Decoded(None, Reason("not_an_object", f"top level is {type(event).__name__}"))
    if _SURROGATE_ESCAPE.search(text) and (where := _lone_surrogate_at(event)) is not None:
        return Decoded(None, Reason("invalid_unicode", f"{where}: a lone UTF-16 surrogate"))
    return Decoded(event, None)
