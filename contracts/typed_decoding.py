"""The contract's event types as ``msgspec`` Structs: a message decoded and most of its
declared fields checked in one C pass, the batch check's fast path
(``contracts.batch_checks``), with no dict made of the event.

What a Struct decoder accepts, ``orjson`` decodes to the same values (a number field's
integers come out as doubles of the same value), and every declared field it checks
breaks no rule of the per-message checker:

* a leaf field's JSON type (a number field takes integers and doubles, an integer field
  integers only; neither takes a boolean), whether it may be null or absent, its enum (a
  ``Literal`` of its taxonomy's codes), its pattern (``anchored``, in Python's ``re`` as the
  checker reads it), its lengths in code points, its bounds, and every number within
  ±(2^53 − 1);
* the envelope's constants: the event type of its topic's contract, and the schema version
  as an integer;
* an array of text, item by item (no null item), and its least number of items.

It refuses what it is not sure of, and the batch check's other path (``orjson``) then reads
the message: a field the contract does not declare, an integer written as a double, any
JSON text ``orjson`` would refuse. Left to the batch check, on the decoded columns: calendar
dates and timestamps (parsed once per distinct text), the items of an array of objects
(decoded as plain objects, checked as the other path checks them), the rules a schema
cannot express, personal data, and duplicate keys (a Struct keeps the last, as ``orjson``
does: the batch check counts the message's key tokens against the keys decoded, and a
field sent as null counts as absent here, so such a message goes the other path).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal

import msgspec

from contracts.decoding import MAX_SAFE_INTEGER
from contracts.spec import Field, anchored, contracts
from contracts.taxonomy import codes

# the object statuses of ``contracts.batch_checks`` (``TypeBatch.objects``): a Struct's
# objects are always objects
IS_DICT = 0


def typed_decoder(event_type: str) -> Callable[[bytes], Any]:
    """The decode function of the event type's Struct: it raises on anything it refuses."""
    return _decoders()[event_type].decode


@cache
def _decoders() -> dict[str, msgspec.json.Decoder[Any]]:
    return {
        event_type: msgspec.json.Decoder(_struct(contract.root, _camel(event_type)))
        for event_type, contract in contracts().items()
    }


@cache
def struct_reader(event_type: str) -> Callable[[Any], tuple[Any, ...]]:
    """A function of one decoded Struct: the tuple ``batch_checks._layout``'s reader makes of
    the same event decoded by ``orjson`` (its keys, its undeclared keys, each object
    field's status, each leaf's value), but that a field sent as null counts as absent
    (the batch check then finds fewer keys than key tokens)."""
    contract = contracts()[event_type]
    objects = [f for f in contract.root.fields if f.kind == "object"]
    leaves = []
    for f in contract.root.fields:
        if f.kind == "object":
            leaves += [f"o{objects.index(f)}.{c.name}" for c in f.fields]
        else:
            leaves.append(f"e.{f.name}")
    lines = ["def read(e):"]
    lines += [f"    o{k} = e.{f.name}" for k, f in enumerate(objects)]
    lines.append(f"    values = ({', '.join(leaves)},)")
    # every object is there (a Struct requires the envelope's objects), each a key
    keys = f"len(values) + {len(objects)} - values.count(None)"
    statuses = "".join(f"{IS_DICT}, " for _ in objects)
    lines.append(f"    return ({keys}, 0, {statuses}) + values")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)
    return namespace["read"]  # type: ignore[no-any-return]


@cache
def left_to_columns(event_type: str) -> tuple[tuple[Field, str], ...]:
    """The declared leaf fields whose rules a Struct does not check in full, with their
    column paths: dates and timestamps (their pattern only: not the calendar), and arrays
    of objects (items read as plain objects, ``_annotation``)."""
    left = []
    for f in contracts()[event_type].root.fields:
        leaves = (
            [(c, f"{f.name}.{c.name}") for c in f.fields] if f.kind == "object" else [(f, f.name)]
        )
        left += [(leaf, path) for leaf, path in leaves if _left_to_columns(leaf)]
    return tuple(left)


def _left_to_columns(f: Field) -> bool:
    return f.kind in ("date", "timestamp") or (
        f.kind == "array" and f.items is not None and f.items.kind == "object"
    )


def _struct(f: Field, name: str) -> type[msgspec.Struct]:
    """The Struct of an object field: its fields, the required ones without a default."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for child in f.fields:
        kind = _annotation(child, name + _camel(child.name))
        fields.append((child.name, kind) if child.required else (child.name, kind | None, None))
    return msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True)


def _annotation(f: Field, name: str) -> Any:
    """The type a field's value must have, with its rules as ``msgspec.Meta``."""
    if f.const is not None:
        return Literal[f.const]
    if f.kind in ("string", "date", "timestamp"):
        if f.enum is not None:
            return Literal[tuple(sorted(codes(f.enum)))]
        rules = {
            "pattern": anchored(f.pattern) if f.pattern is not None else None,
            "min_length": f.min_length,
            "max_length": f.max_length,
        }
        return _constrained(str, rules)
    if f.kind in ("integer", "number"):
        rules = {
            "ge": -MAX_SAFE_INTEGER if f.minimum is None else max(f.minimum, -MAX_SAFE_INTEGER),
            "le": MAX_SAFE_INTEGER if f.maximum is None else min(f.maximum, MAX_SAFE_INTEGER),
        }
        if f.exclusive_minimum is not None:
            rules = {"gt": f.exclusive_minimum, "le": rules["le"]}
        return _constrained(int if f.kind == "integer" else float, rules)
    if f.kind == "object":
        return _struct(f, name)
    if f.items is None:
        raise ValueError(f"array field {f.name} declares no items")
    # an array of objects is read as plain objects: the batch check checks their fields
    # (``left_to_columns``)
    item = dict[str, Any] if _left_to_columns(f) else _annotation(f.items, name + "Item")
    return _constrained(list[item], {"min_length": f.min_items})  # type: ignore[valid-type]


def _constrained(kind: Any, rules: dict[str, Any]) -> Any:
    given = {k: v for k, v in rules.items() if v is not None}
    return Annotated[kind, msgspec.Meta(**given)] if given else kind


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
