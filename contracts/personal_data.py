"""Personal data: what finradar counts as personal, defined once.

A **string** is personal when, read as text, it holds

1. an **e-mail address** (``EMAIL_PATTERN``): a local part of 1-64 of ``A-Z a-z 0-9 . _ % + -``,
   ``@``, and a domain of at least two dot-separated labels of ``A-Z a-z 0-9 -`` (1-63 each),
   upper or lower case; an address without a dotted domain (``root@localhost``) is not one;
2. a **Chinese phone number** (``PHONE``), in ASCII digits:

   * a mobile number (``MOBILE_PATTERN``): ``1[3-9]`` and nine more digits, grouped 3-4-4
     with an optional space or hyphen between the groups (``138 1234 5678``,
     ``138-1234-5678``), optionally after ``+86``, ``0086`` or ``86`` and an optional space or
     hyphen (``+86 13812345678``, ``8613812345678``);
   * a landline (``LANDLINE_PATTERN``): an area code ``0`` + 2-3 digits (second digit 1-9)
     followed by a space, a hyphen or enclosed in parentheses (``010-``, ``0755 ``,
     ``(021)``), or after ``+86``/``0086`` with its ``0`` dropped or written ``(0)``
     (``+86 10 ``, ``0086 (0)10``); then a local number of 7-8 digits starting 2-9,
     optionally split 3-4 or 4-4 by a space or hyphen (``010-8888 8888``,
     ``0755-2345678``). The area code's separator is required: ``01088888888`` is a
     zero-padded number, not a landline;

   each standing apart (``BOUNDARY_BEFORE``, ``BOUNDARY_AFTER``): not touching an ASCII
   letter or digit on either side (``ID13812345678``, ``913812345678`` and hex digests are
   not phone numbers), not the digits of a decimal or grouped amount (``0.13812345678``,
   ``13812345678.5``), and, for a landline, not a segment joined by ``-`` or ``_`` to an
   ASCII letter or digit, which is how identifiers join parts (``r-010-20250101``, a
   UUID's ``-0101-2345-6789-``).
   Any other neighbour counts as a boundary: CJK text (``手机13812345678``), spaces,
   punctuation, an identifier's ``.``/``:``/``-`` next to a mobile number
   (``cn.person.13812345678``: the mobile shape is specific enough that an identifier
   segment of exactly that shape is taken as one);
3. or it is the value of a field the contract declares personal (``Field.personal``:
   ``payload.respondent_email``), whatever it holds.

"Read as text": the string itself and the forms it takes once decoded (``text_forms``):
compatibility characters folded by NFKC (full-width ``＠``, ``１３８``, the ideographic
space), JSON escapes undone (``\\u0040``, ``\\/``) and percent-encoding undone (``%40``),
repeated for nested encodings. Only strings are scanned: numbers, booleans and nulls never
are, so identifiers, dates and amounts sent as JSON numbers are never touched.

Known limits, on purpose: an internationalised address (a non-ASCII local part or domain),
an address spelled out (``zhang at bank dot cn``), a phone number in digits of another
script or split by other characters (dots, slashes, zero-width spaces), or written as
words, is not recognised; a value of the shapes above that is not a phone number (an
11-digit identifier starting 13-19 standing alone) is taken as one.

Where finradar applies it: every string of an event, keys included, at any depth
(``redact_event``, and ``redact_json`` for its bytes); the Kafka message key; the bytes of
a message that does not decode (``redact_bytes``); the details of a quarantine reason
(``shown``); and what Great Expectations is given to validate. A personal value is
replaced whole by its keyed hash (``hmac-sha256:<hex>``, ``pipelines.normalise``), never
only the part that matched. ``may_hold_personal_data`` keeps the common message, which
holds none, off that work (``may_hold_personal_data_each``: the same for a batch at once).
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from itertools import accumulate
from typing import Any
from urllib.parse import unquote

from contracts.spec import Field, contracts

Hasher = Callable[[str], str]

# ------------------------------------------------------------------------- class 1: e-mail
# bounded parts (RFC 5321 lengths) keep the scan linear on megabyte values
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
EMAIL = re.compile(EMAIL_PATTERN)

# ------------------------------------------------------------------------- class 2: phone
# (ASCII classes: Python's \d would also take digits of every other script)
BOUNDARY_BEFORE = r"(?<![0-9A-Za-z])(?<![0-9][.,])"
BOUNDARY_AFTER = r"(?![0-9A-Za-z])(?![.,][0-9])"
_SEP = r"[ -]"
MOBILE_CORE = rf"1[3-9][0-9]{_SEP}?[0-9]{{4}}{_SEP}?[0-9]{{4}}"
MOBILE_PATTERN = rf"{BOUNDARY_BEFORE}(?:(?:\+|00)?86{_SEP}?)?{MOBILE_CORE}{BOUNDARY_AFTER}"
# after +86, an area code's 0 is dropped or written (0): +86 10, 0086-(0)10, +86 (010)
_INTERNATIONAL_AREA = rf"{_SEP}?(?:\(0\){_SEP}?|\(?0?)[1-9][0-9]{{1,2}}\)?{_SEP}?"
_AREA = (
    rf"(?:(?:\+|00)86{_INTERNATIONAL_AREA}"
    rf"|\(0[1-9][0-9]{{1,2}}\){_SEP}?"  # (010)
    rf"|0[1-9][0-9]{{1,2}}{_SEP})"  # 010- / 0755 (the separator is required)
)
_LOCAL = rf"[2-9][0-9]{{2,3}}{_SEP}?[0-9]{{4}}"
LANDLINE_PATTERN = (
    rf"{BOUNDARY_BEFORE}(?<![0-9A-Za-z][-_]){_AREA}{_LOCAL}{BOUNDARY_AFTER}(?![-_][0-9A-Za-z])"
)
PHONE = re.compile(f"{MOBILE_PATTERN}|{LANDLINE_PATTERN}")
# A part every phone match holds, led by a literal: searching for these is fast (a search
# for ``PHONE`` itself, which starts with look-behinds, tries every position: 25 µs a
# kilobyte), and only text that holds one can match ``PHONE``.
_AFTER_86 = rf"{_INTERNATIONAL_AREA}[2-9]"  # an international landline, after its 86
_HINTS = (
    MOBILE_CORE,
    rf"0[1-9][0-9]{{1,2}}(?:\){_SEP}?|{_SEP})[2-9]",
    # +86 or 0086 standing apart, as the landline's prefix must (its look-behinds come
    # after the literal 86, which keeps the search fast)
    rf"86(?:(?<=\+86)(?<![0-9A-Za-z]\+86)|(?<=0086)(?<![0-9A-Za-z]0086)){_AFTER_86}",
)
_TEXT_HINTS = tuple(re.compile(h) for h in _HINTS)
_BYTE_HINTS = tuple(re.compile(h.encode()) for h in _HINTS)

WITHHELD = "<personal data withheld>"

# --------------------------------------------------------------------------- text forms
_ESCAPE = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"  # a surrogate pair
    r"|\\u([0-9a-fA-F]{4})|\\([\"\\/bfnrt])"
)
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape_one(m: re.Match[str]) -> str:
    if m.group(1):
        high, low = int(m.group(1), 16), int(m.group(2), 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    if m.group(3):
        return chr(int(m.group(3), 16))
    return _SIMPLE.get(m.group(4), m.group(4))


def json_unescaped(text: str) -> str:
    """``text`` with its JSON escapes undone, leniently: an escape that is not one stays."""
    return _ESCAPE.sub(_unescape_one, text)


def text_forms(text: str) -> Iterator[str]:
    """``text``, then each form it takes once decoded: NFKC (compatibility characters such
    as full-width ``＠`` and digits), JSON escapes and percent-encoding undone; again while
    that changes it (an address escaped twice), at most three times."""
    yield text
    for _ in range(3):
        form = text
        if not form.isascii():
            form = unicodedata.normalize("NFKC", form)
        if "\\" in form:
            form = json_unescaped(form)
        if "%" in form:
            form = unquote(form, errors="replace")
        if form == text:
            return
        yield form
        text = form


def holds_email(text: str) -> bool:
    """Whether any form of ``text`` holds an e-mail address (class 1)."""
    return any("@" in form and EMAIL.search(form) is not None for form in text_forms(text))


def holds_personal_data(text: str) -> bool:
    """Whether any form of ``text`` holds an e-mail address or a phone number (classes 1
    and 2; a declared personal field is personal whatever it holds: ``redact_event``)."""
    for form in text_forms(text):
        if "@" in form and EMAIL.search(form) is not None:
            return True
        if any(h.search(form) for h in _TEXT_HINTS) and PHONE.search(form) is not None:
            return True
    return False


def shown(value: Any, limit: int | None = None, quoted: bool = True) -> str:
    """A value as a reason's detail quotes it (its ``repr``, or ``str`` unless ``quoted``;
    a string cut to ``limit`` characters), or ``WITHHELD`` when it holds personal data:
    decided on the whole value, so a cut never leaves part of an address."""
    text = value if isinstance(value, str) else repr(value)
    if holds_personal_data(text):
        return WITHHELD
    if isinstance(value, str) and limit is not None:
        value = value[:limit]
    return repr(value) if quoted else str(value)


def withheld_if_personal(text: str) -> str:
    """``text``, or ``WITHHELD`` when it holds personal data (a message finradar did not
    write itself, such as an exception's)."""
    return WITHHELD if holds_personal_data(text) else text


# ------------------------------------------------------------------------ declared fields
@cache
def personal_fields() -> frozenset[tuple[str, str]]:
    """(object, field) of every field a contract declares personal (``Field.personal``)."""
    found: set[tuple[str, str]] = set()

    def walk(f: Field) -> None:
        for child in f.fields:
            if child.personal:
                found.add((f.name, child.name))
            walk(child)

    for contract in contracts().values():
        for top in contract.root.fields:
            walk(top)
    return frozenset(found)


# ------------------------------------------------------------------------ the pre-filter
@cache
def _compatibility_pattern() -> re.Pattern[bytes]:
    """The UTF-8 bytes of every character NFKC folds into one the patterns read (``@``,
    ASCII digits, space, ``-``, ``+``, ``%``, ``\\``): full-width and circled digits, the
    ideographic and no-break spaces, ``＠``… A message without any of them reads the same
    after NFKC as far as the patterns can tell."""
    significant = set("@0123456789 -+%\\")
    encodings = []
    for cp in range(0x80, 0x30000):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        folded = unicodedata.normalize("NFKC", c)
        if folded != c and significant & set(folded):
            encodings.append(c.encode("utf-8"))
    return re.compile(_alternation(encodings))


def _alternation(encodings: list[bytes]) -> bytes:
    """A regular expression matching exactly the given byte strings (none a prefix of
    another, as UTF-8 encodings are), as a trie: one branch per leading byte."""
    ends, branches = [], {}
    for e in encodings:
        if len(e) == 1:
            ends.append(e[0])
        else:
            branches.setdefault(e[0], []).append(e[1:])
    parts = [re.escape(bytes([b])) + _alternation(rest) for b, rest in sorted(branches.items())]
    if ends:
        parts.append(b"[" + b"".join(re.escape(bytes([b])) for b in sorted(ends)) + b"]")
    return parts[0] if len(parts) == 1 else b"(?:" + b"|".join(parts) + b")"


@cache
def _field_names() -> tuple[bytes, ...]:
    return tuple(json.dumps(name).encode() for _, name in sorted(personal_fields()))


# an address's ``@``, an escape's backslash (``\u0040``), the NULs of UTF-16 text
_SIGNAL_BYTES = (b"@", b"\\", b"\x00")

# what percent-decoding (``text_forms``) turns into another character
_PERCENT_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")


def may_hold_personal_data(value: bytes | None, fields: bool = True) -> bool:
    """False only when no string of the JSON text ``value`` (or of a message that does
    not decode) can hold personal data: no ``@``, escape, percent-escape (``%40``; a lone
    ``%``, a unit, decodes to nothing), NUL (UTF-16 text), no
    character NFKC folds into one of those or a digit or separator, no phone-shaped digits,
    no declared personal field name (unless not ``fields``: a message that does not
    decode has no fields). Cheap (about 2 µs for a kilobyte, 1 ms for a megabyte): what
    keeps the common message, which holds none, off the decoding-level scan. A true is
    only a suspicion: the scan decides."""
    if not value:
        return False
    for signal in _SIGNAL_BYTES:
        if signal in value:
            return True
    if b"%" in value and _PERCENT_ESCAPE.search(value) is not None:
        return True
    if fields:
        for name in _field_names():
            if name in value:
                return True
    if not value.isascii() and _compatibility_pattern().search(value) is not None:
        return True
    mobile, landline, international = _BYTE_HINTS
    return (
        mobile.search(value) is not None
        or landline.search(value) is not None
        or international.search(value) is not None
    )


# The searches of ``may_hold_personal_data`` that look at every byte of a message, as RE2
# patterns for Arrow's kernels over a whole column of messages: the percent-escape and the
# first two phone hints as they are, the third without its look-behinds (RE2 has none),
# which matches wherever the hint does, and more.
_COLUMN_HINTS = (
    _PERCENT_ESCAPE.pattern.decode(),
    _HINTS[0],
    _HINTS[1],
    rf"86{_AFTER_86}",
)


def may_hold_personal_data_each(values: Sequence[bytes | None], fields: bool = True) -> list[bool]:
    """``may_hold_personal_data`` of each of ``values``, the same verdicts in a quarter of
    the time: every search runs once over the values joined (``_suspected``), and only a
    message one of them points at goes to the function itself."""
    verdicts = [False] * len(values)
    for i in _suspected(values, fields):
        verdicts[i] = may_hold_personal_data(values[i], fields)
    return verdicts


# a value longer than this is searched on its own: joined, it would be copied, which takes
# longer than searching it (a single value is joined without a copy)
JOINED_AT_MOST = 256 * 1024


def _suspected(values: Sequence[bytes | None], fields: bool) -> set[int]:
    """``_suspected_joined`` of the values up to ``JOINED_AT_MOST`` bytes together, and of
    each longer one on its own."""
    short, found = [], set()
    for i, v in enumerate(values):
        if v is not None and len(v) > JOINED_AT_MOST:
            if _suspected_joined([v], fields):
                found.add(i)
        else:
            short.append(i)
    if len(short) == len(values):
        return _suspected_joined(values, fields)
    found.update(short[j] for j in _suspected_joined([values[i] for i in short], fields))
    return found


def _suspected_joined(values: Sequence[bytes | None], fields: bool) -> set[int]:
    """The indexes of the values on which ``may_hold_personal_data`` might be true: those
    holding a byte or name it looks for, a non-ASCII byte, or a match of one of its
    searches (``_COLUMN_HINTS``: RE2 kernels over the values as one Arrow column). The
    values are joined with nothing between them: a match across two of them suspects the
    first, never hides one in the second (the search goes on from the second's start)."""
    # lazy: importing pyarrow starts threads, and ``finradar sql`` imports this module
    # before it confines itself, which it does with one thread only
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = [v or b"" for v in values]
    joined = b"".join(texts)
    starts = [0, *accumulate(map(len, texts))]
    found: set[int] = set()
    for needle in (*_SIGNAL_BYTES, *(_field_names() if fields else ())):
        _each_holding(starts, found, lambda at, n=needle: joined.find(n, at))
    if not joined.isascii():
        found.update(i for i, text in enumerate(texts) if not text.isascii())
    column = pa.Array.from_buffers(
        pa.large_binary(),
        len(texts),
        [None, pa.array(starts, pa.int64()).buffers()[1], pa.py_buffer(joined)],
    )
    hinted = pc.match_substring_regex(column, _COLUMN_HINTS[0])
    for pattern in _COLUMN_HINTS[1:]:
        hinted = pc.or_(hinted, pc.match_substring_regex(column, pattern))
    found.update(pc.indices_nonzero(hinted).to_pylist())
    return found


def _each_holding(starts: list[int], found: set[int], search: Callable[[int], int]) -> None:
    """Adds to ``found`` the index of each value of the joined values (value ``i`` spans
    ``starts[i]`` to ``starts[i + 1]``) in which ``search(at)`` (the first position from
    ``at`` where a match starts, or -1) finds a match starting, once a value."""
    at = search(0)
    while at >= 0:
        i = bisect_right(starts, at) - 1
        found.add(i)
        at = search(starts[i + 1]) if i + 1 < len(starts) - 1 else -1


# -------------------------------------------------------------------------- redaction
class _Redactor:
    def __init__(self, hasher: Hasher) -> None:
        self.hasher = hasher
        self.changed = False

    def text(self, value: str) -> str:
        if holds_personal_data(value):
            self.changed = True
            return self.hasher(value)
        return value

    def whole(self, value: Any) -> str:
        """A declared personal field's value, whatever it is, as its hash."""
        self.changed = True
        if isinstance(value, str):
            return self.hasher(value)
        return self.hasher(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))

    def node(self, value: Any, parent: str | None = None) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                name = self.text(key) if isinstance(key, str) else key
                if (parent, key) in personal_fields() and item is not None:
                    out[name] = self.whole(item)
                else:
                    out[name] = self.node(item, key if isinstance(key, str) else None)
            return out
        if isinstance(value, list):
            return [self.node(item) for item in value]
        return value


def redact_event(event: dict[str, Any], hasher: Hasher) -> tuple[dict[str, Any], bool]:
    """A copy of a decoded event in which every personal string (values and keys, at any
    depth) and every declared personal field is replaced whole by ``hasher(value)``; and
    whether anything was."""
    redactor = _Redactor(hasher)
    redacted = redactor.node(event)
    return redacted, redactor.changed


# a JSON string (escapes included; one left open runs to the end of the text), or one of
# JSON's structural characters
_LEXEME = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)(?:(")|\\?\Z)|[{}\[\],]', re.DOTALL)
# what lies between JSON's structural characters outside strings
_RUN = re.compile(r'[^{}\[\],:"]+')


def redact_json(text: str, hasher: Hasher, decodes: bool = True) -> tuple[str, bool]:
    """JSON text with each string (value or key) that holds personal data, read as the
    string it decodes to, and each string value of a declared personal field, replaced
    whole by the quoted hash of that string; everything else stays as it was, number
    texts included. The same strings ``redact_event`` replaces in the decoded event.

    Text that does not decode (``decodes`` false) is read as far as it goes: besides its
    strings, each run of text between structural characters outside strings that holds
    personal data becomes its hash, and if the text still holds personal data across
    those pieces, the whole text is its hash. Whether anything was replaced."""
    pieces: list[str] = []
    changed = False
    at = 0
    # per open container: whether it is an object, and the key it is the value of
    stack: list[tuple[bool, str | None]] = []
    key: str | None = None  # the key whose value comes next (in an object)
    expect_key = False
    for m in _LEXEME.finditer(text):
        lexeme = m.group()
        if not decodes:
            gap, gap_changed = _redact_runs(text[at : m.start()], hasher)
            pieces.append(gap)
            changed = changed or gap_changed
        else:
            pieces.append(text[at : m.start()])
        at = m.end()
        if lexeme[0] != '"':
            pieces.append(lexeme)
            if lexeme in "{[":
                stack.append((lexeme == "{", key))
                expect_key = lexeme == "{"
            elif lexeme in "}]":
                if stack:
                    stack.pop()
                expect_key = False
            else:  # a comma
                expect_key = bool(stack) and stack[-1][0]
            key = None
            continue
        string = json_unescaped(m.group(1))
        is_key = expect_key
        declared = (
            not is_key and bool(stack) and stack[-1][0] and (stack[-1][1], key) in personal_fields()
        )
        if is_key:
            key, expect_key = string, False
        if declared or holds_personal_data(string):
            pieces.append(json.dumps(hasher(_storable(string))))
            changed = True
        else:
            pieces.append(lexeme)
    if not decodes:
        gap, gap_changed = _redact_runs(text[at:], hasher)
        pieces.append(gap)
        changed = changed or gap_changed
    else:
        pieces.append(text[at:])
    out = "".join(pieces)
    if not decodes and holds_personal_data(out):
        return hasher(_storable(text)), True
    return out, changed


def _redact_runs(gap: str, hasher: Hasher) -> tuple[str, bool]:
    if not gap or not holds_personal_data(gap):
        return gap, False
    return _RUN.sub(
        lambda m: (
            hasher(_storable(m.group().strip())) if holds_personal_data(m.group()) else m.group()
        ),
        gap,
    ), True


def _storable(text: str) -> str:
    """``text`` with what UTF-8 cannot hold (lone surrogates, undecodable bytes kept as
    surrogate escapes) written as escapes, so that it can be hashed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def redact_bytes(value: bytes, hasher: Hasher) -> tuple[bytes, bool]:
    """The bytes of a message that does not decode, redacted as ``redact_json`` redacts
    such text (bytes that are not UTF-8 stay as they are around what is replaced), and
    each run of UTF-16 text in them (ASCII characters with NUL bytes) that holds personal
    data replaced by its hash."""
    text = value.decode("utf-8", "surrogateescape")
    redacted, changed = redact_json(text, hasher, decodes=False)
    out = redacted.encode("utf-8", "surrogateescape") if changed else value
    if b"\x00" in out:
        for pattern, encoding in _UTF16_RUNS:
            out, found = _redact_utf16(out, pattern, encoding, hasher)
            changed = changed or found
    return out, changed


# ASCII text in UTF-16 (little- and big-endian): where an address hides between NUL bytes
_UTF16_RUNS = (
    (re.compile(rb"(?:[\x01-\x7f]\x00){4,}"), "utf-16-le"),
    (re.compile(rb"(?:\x00[\x01-\x7f]){4,}"), "utf-16-be"),
)


def _redact_utf16(
    value: bytes, pattern: re.Pattern[bytes], encoding: str, hasher: Hasher
) -> tuple[bytes, bool]:
    found = False

    def replace(m: re.Match[bytes]) -> bytes:
        nonlocal found
        text = m.group().decode(encoding)
        if not holds_personal_data(text):
            return m.group()
        found = True
        return hasher(text).encode()

    return pattern.sub(replace, value), found


def holds_personal_bytes(value: bytes) -> bool:
    """Whether bytes that are not necessarily UTF-8 (a Kafka message key) hold personal
    data: as UTF-8 text (undecodable bytes aside), or in a run of UTF-16 text."""
    if not may_hold_personal_data(value, fields=False):
        return False
    if holds_personal_data(value.decode("utf-8", "surrogateescape")):
        return True
    return b"\x00" in value and any(
        holds_personal_data(m.group().decode(encoding))
        for pattern, encoding in _UTF16_RUNS
        for m in pattern.finditer(value)
    )
