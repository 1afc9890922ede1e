"""The definition of personal data (``contracts/personal_data.py``): each class on both sides
of its boundaries, the forms a value is read in, the pre-filter that keeps the common message
off the scan, and redaction of decoded events, JSON text and bytes that do not decode."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import personal_data
from contracts.checks import check_value, internal_error
from contracts.personal_data import (
    WITHHELD,
    holds_email,
    holds_personal_bytes,
    holds_personal_data,
    may_hold_personal_data,
    may_hold_personal_data_each,
    personal_fields,
    redact_bytes,
    redact_event,
    redact_json,
    shown,
    text_forms,
)
from contracts.spec import contracts
from tests.fixtures.contract import spec_example
from tests.poison.strategies import valid_events

NOW = datetime(2026, 11, 26, tzinfo=UTC)
PROFILE = settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fake_hash(value: str) -> str:
    """A stand-in for the keyed hash that keeps nothing of the value."""
    import hashlib

    return "hmac-sha256:" + hashlib.sha256(value.strip().lower().encode()).hexdigest()


# ------------------------------------------------------------------ class 1: e-mail addresses
EMAILS = [
    "john.doe@example.com",
    "Wang.Fang@Bank.Example.CN",  # mixed case
    "a+tag_1%x@sub-domain.example.co.uk",
    "contact: zhang.san@icbc.com.cn, please",  # inside text
    "联系人：li.si@163.com",
]
NOT_EMAILS = [
    "root@localhost",  # no dotted domain
    "@icbc.official",  # a mention: nothing before the @
    "AI@Scale",
    "user at example dot com",  # spelled out: out of scope, documented
    "cn.bank.icbc",
    "seed-003-chart16-icbc-2019",
]


@pytest.mark.parametrize("text", EMAILS)
def test_an_e_mail_address_is_personal(text: str) -> None:
    assert holds_email(text) and holds_personal_data(text)


@pytest.mark.parametrize("text", NOT_EMAILS)
def test_what_only_looks_like_an_address_is_not(text: str) -> None:
    assert not holds_email(text) and not holds_personal_data(text)


# ------------------------------------------------------------------ class 2: phone numbers
MOBILES = [
    "13812345678",
    "19912345678",
    "138 1234 5678",
    "138-1234-5678",
    "+86 138 1234 5678",
    "+86-13812345678",
    "+8613812345678",
    "0086 13812345678",
    "8613812345678",
    "手机13812345678",  # CJK around it
    "电话：138-1234-5678。",
    "tel:13812345678.",  # a sentence's full stop is not a decimal
    "r-13812345678",  # an identifier's segment of exactly the mobile shape: documented
    "cn.person.13812345678",
]
LANDLINES = [
    "010-88888888",
    "021-6123 4567",
    "0755-2345678",
    "0755 23456789",
    "(010)88888888",
    "(021) 6123-4567",
    "+86 10 8888 8888",
    "+86-21-61234567",
    "0086 (0)10 88888888",
    "电话：010-88888888",
]
NOT_PHONES = [
    "12812345678",  # 12x is not a mobile prefix
    "1381234567",  # 10 digits
    "138123456789",  # 12 digits
    "913812345678",  # a longer run
    "ID13812345678",  # glued to letters
    "a1b13812345678c",
    "0.13812345678",  # a decimal
    "13812345678.5",
    "13,812,345,678",  # a grouped amount
    "163.74",
    "2025-03-27",  # dates and times
    "2025-03-27T09:00:00.123456789+08:00",
    "20250327123456789",
    "2024Q1",
    "syn-42-000012345",  # zero-padded serials
    "r-syn-42-013812345",
    "01088888888",  # a landline needs its area code's separator
    "010-12345678",  # local numbers start 2-9
    "0755-1234567",
    "001-23456789",  # no such area code
    "r-010-20250101",  # an identifier's segments joined by hyphens
    "batch_010-20250101",
    "3f2a1b9c-0101-2345-6789-abcdef012345",  # a UUID
    "x0086 10 88888888",
    "hmac-sha256:" + "0" * 64,  # a hash
    "hmac-sha256:13812345678" + "a" * 53,
]


@pytest.mark.parametrize("text", MOBILES + LANDLINES)
def test_a_chinese_phone_number_is_personal(text: str) -> None:
    assert holds_personal_data(text) and not holds_email(text)


@pytest.mark.parametrize("text", NOT_PHONES)
def test_digits_that_are_not_a_phone_number_are_not(text: str) -> None:
    assert not holds_personal_data(text)


def test_the_keyed_hash_never_reads_as_personal_data() -> None:
    for n in range(2000):
        assert not holds_personal_data(fake_hash(f"{n}@x.cn"))


# ------------------------------------------------------------------ how a value is read
FORMS = [
    "john\\u0040example.com",  # a JSON escape left in a decoded value (escaped twice)
    "john\\\\u0040example.com",
    "john%40example.com",  # percent-encoded
    "john%2540example.com",  # twice
    "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",  # full width
    "john\uff20example.com",
    "１３８１２３４５６７８",
    "138\u30001234\u30005678",  # ideographic spaces
    "\\u0031\\u0033812345678",
    "https://example.com/?contact=zhang%40bank.cn",
]


@pytest.mark.parametrize("text", FORMS)
def test_a_value_is_read_in_every_form_it_takes_once_decoded(text: str) -> None:
    assert holds_personal_data(text)
    assert next(iter(text_forms(text))) == text


def test_a_plain_value_has_one_form() -> None:
    assert list(text_forms("cn.bank.icbc")) == ["cn.bank.icbc"]


def test_declared_personal_fields_come_from_the_contract() -> None:
    declared = {
        (top.name, f.name)
        for c in contracts().values()
        for top in c.root.fields
        for f in top.fields
        if f.personal
    }
    assert personal_fields() == declared == {("payload", "respondent_email")}


# ------------------------------------------------------------------ the pre-filter
PERSONAL = st.sampled_from(EMAILS + MOBILES + LANDLINES + FORMS)
AROUND = st.text(st.characters(codec="utf-8"), max_size=12)


def _spelled(draw: st.DrawFn, text: str) -> str:
    """``text`` with some characters written another way a reader would still read."""
    out = []
    for ch in text:
        way = draw(st.integers(0, 5))
        if way == 1 and ((ch.isascii() and ch.isalnum()) or ch == "@"):
            out.append(chr(ord(ch) + 0xFEE0))  # full width
        elif way == 2 and ch == "@":
            out.append("%40")
        else:
            out.append(ch)
    return "".join(out)


@st.composite
def personal_strings(draw: st.DrawFn) -> str:
    return draw(AROUND) + _spelled(draw, draw(PERSONAL)) + draw(AROUND)


@PROFILE
@given(text=personal_strings(), ascii_only=st.booleans())
def test_the_pre_filter_never_misses_what_the_scan_finds(text: str, ascii_only: bool) -> None:
    if holds_personal_data(text):
        value = json.dumps({"k": text}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
        assert may_hold_personal_data(value)


@PROFILE
@given(text=st.text(st.characters(codec="utf-8"), max_size=40), ascii_only=st.booleans())
def test_the_pre_filter_never_misses_on_any_text(text: str, ascii_only: bool) -> None:
    if holds_personal_data(text):
        assert may_hold_personal_data(json.dumps(text, ensure_ascii=ascii_only).encode())


def test_the_pre_filter_passes_the_synthetic_stream_s_good_events() -> None:
    from contracts.synthetic import SyntheticStream

    suspects = [m for m in SyntheticStream(3000, 0.0, 42) if may_hold_personal_data(m.value)]
    assert suspects == []


# a message holding one way in of what the pre-filter looks for, and nothing else
WAYS_IN = (
    b'{"a":"x@y.cn"}',
    b'{"a":"\\u0040"}',
    b'{"a":"%40"}',
    b"j\x00\x00",
    '{"a":"１"}'.encode(),
    b'{"respondent_email":"anonymous"}',
    b'{"a":"138 1234 5678"}',
    b'{"a":"(010)88888888"}',
    b'{"a":"+86 10 88888888"}',
)


def test_the_pre_filter_flags_each_way_in() -> None:
    for value in WAYS_IN:
        assert may_hold_personal_data(value), value
    assert not may_hold_personal_data(b'{"event_id":"syn-42-000086102","amount":163.74}')
    # a message that does not decode has no fields: only its text counts
    assert not may_hold_personal_data(b'{"respondent_email":"anonymous"', fields=False)


# values a batch of messages holds: personal strings among others, phone-shaped digits with
# every separator and prefix the hints read, escapes, NULs, non-ASCII text, and raw bytes
_HINT_BYTES = st.lists(st.sampled_from(list(b'0123456789+86()- %@\\x\x00\x80A.,_"')), max_size=40)
MESSAGE_VALUES = st.one_of(
    st.none(),
    personal_strings().map(lambda t: json.dumps({"k": t}).encode()),
    personal_strings().map(lambda t: json.dumps({"k": t}, ensure_ascii=False).encode()),
    _HINT_BYTES.map(bytes),
    st.binary(max_size=60),
    st.sampled_from([b'{"respondent_email":"x"}', b'{"a":"+86 10 88888888"}', b"x86 10 2"]),
)


@PROFILE
@given(values=st.lists(MESSAGE_VALUES, max_size=12), fields=st.booleans())
def test_the_pre_filter_of_a_batch_gives_each_message_s_verdict(
    values: list[bytes | None], fields: bool
) -> None:
    assert may_hold_personal_data_each(values, fields) == [
        may_hold_personal_data(v, fields) for v in values
    ]


@PROFILE
@given(values=st.lists(MESSAGE_VALUES, max_size=12), fields=st.booleans())
def test_values_searched_on_their_own_get_each_message_s_verdict(
    values: list[bytes | None], fields: bool
) -> None:
    """With the bound at a few bytes, most values are searched one by one, the others
    joined: the verdicts do not change."""
    with mock.patch.object(personal_data, "JOINED_AT_MOST", 8):
        assert may_hold_personal_data_each(values, fields) == [
            may_hold_personal_data(v, fields) for v in values
        ]


def test_a_long_value_is_flagged_amid_short_ones_and_cleared_when_clean() -> None:
    padding = b" " * personal_data.JOINED_AT_MOST
    clean = b'{"event_id":"syn-42-000086102","amount":163.74}'
    for value in WAYS_IN:
        long = value[:1] + padding + value[1:] if value[:1] == b"{" else value + padding
        assert may_hold_personal_data(long), value
        got = may_hold_personal_data_each([clean, long, clean, clean + padding])
        assert got == [False, True, False, False], value


def test_a_match_across_two_messages_of_a_batch_hides_neither() -> None:
    # joined, the first ends and the second starts a field's name, and the second holds it
    values = [b'x"respondent_', b'email" "respondent_email":1', b"@", b"ok", b"138", b"1234 5678"]
    assert may_hold_personal_data_each(values) == [False, True, True, False, False, False]
    # the third phone hint is searched over a batch without its look-behinds: a match of
    # that wider search is only a suspicion, which the function then clears
    assert may_hold_personal_data_each([b"x86 10 2345678", b"+86 10 2345678"]) == [False, True]
    assert may_hold_personal_data_each([]) == []


def test_the_pre_filter_of_a_batch_flags_each_way_in_amid_clean_messages() -> None:
    clean = b'{"event_id":"syn-42-000086102","amount":163.74}'
    for value in WAYS_IN:
        assert may_hold_personal_data_each([clean, value, clean]) == [False, True, False], value


def test_a_compatibility_character_is_flagged_only_when_it_folds_into_what_matters() -> None:
    assert may_hold_personal_data("＠".encode())
    assert not may_hold_personal_data("中国工商银行（亚洲），图表16。".encode())
    assert unicodedata.normalize("NFKC", "（") == "("


# ------------------------------------------------------------------ redaction
def _with_personal_data() -> dict[str, Any]:
    event = spec_example()
    event["subject"]["entity_id"] = "Wang.Fang@Bank.example.cn"
    event["source"]["locator"] = "call 138 1234 5678 for page 3"
    event["payload"]["note"] = {"contacts": ["li\\u0040x.cn", {"zhang@x.cn": 13812345678}]}
    return event


def test_redact_event_replaces_each_personal_value_whole_and_only_those() -> None:
    event = _with_personal_data()
    redacted, changed = redact_event(event, fake_hash)
    assert changed
    assert redacted["subject"]["entity_id"] == fake_hash("Wang.Fang@Bank.example.cn")
    # the whole value: no part of the text around the number is left beside the hash
    assert redacted["source"]["locator"] == fake_hash("call 138 1234 5678 for page 3")
    note = redacted["payload"]["note"]["contacts"]
    assert note[0] == fake_hash("li\\u0040x.cn")
    assert note[1] == {fake_hash("zhang@x.cn"): 13812345678}  # a number is never scanned
    assert redacted["payload"]["amount"] == event["payload"]["amount"]
    assert redacted["subject"]["name_zh"] == event["subject"]["name_zh"]
    assert event["subject"]["entity_id"] == "Wang.Fang@Bank.example.cn"  # a copy


def test_a_declared_personal_field_is_hashed_whatever_it_holds() -> None:
    event = {"payload": {"respondent_email": "anonymous", "department": "IT"}}
    redacted, changed = redact_event(event, fake_hash)
    assert changed and redacted["payload"] == {
        "respondent_email": fake_hash("anonymous"),
        "department": "IT",
    }
    assert redact_event({"payload": {"department": "IT"}}, fake_hash) == (
        {"payload": {"department": "IT"}},
        False,
    )


def test_redact_json_replaces_the_strings_redact_event_does_and_keeps_number_texts() -> None:
    event = _with_personal_data()
    text = json.dumps(event, ensure_ascii=False).replace("163.74", "163.740")
    out, changed = redact_json(text, fake_hash)
    assert changed and '"amount": 163.740' in out
    assert orjson.loads(out) == redact_event(orjson.loads(text), fake_hash)[0]


@PROFILE
@given(event=valid_events(), personal=personal_strings(), where=st.integers(0, 10_000))
def test_redact_json_and_redact_event_agree(event: dict[str, Any], personal: str, where: int):
    strings = _string_slots(event)
    if strings:
        holder, key = strings[where % len(strings)]
        holder[key] = personal
    else:
        event["extra"] = personal
    if where % 3 == 0:
        event["payload"][personal] = where  # as a key too
    for ascii_only in (False, True):
        text = json.dumps(event, ensure_ascii=ascii_only)
        out, changed = redact_json(text, fake_hash)
        redacted, changed_event = redact_event(event, fake_hash)
        assert orjson.loads(out) == redacted
        assert changed == changed_event
        if holds_personal_data(personal):
            assert changed and may_hold_personal_data(text.encode())
            assert not holds_personal_data(json.dumps(redacted, ensure_ascii=False))


def _string_slots(node: Any) -> list[tuple[Any, Any]]:
    out: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, str):
            out.append((node, key))
        elif isinstance(value, dict | list):
            out.extend(_string_slots(value))
    return out


def test_bytes_that_do_not_decode_keep_all_but_what_holds_personal_data() -> None:
    value = b'{"a":"ok","b":"li\\u0040x.cn","c":138 1234 5678, "d":"x"\xff\xfe'
    out, changed = redact_bytes(value, fake_hash)
    assert changed
    assert out.startswith(b'{"a":"ok","b":"' + fake_hash("li@x.cn").encode() + b'"')
    assert b'"d":"x"\xff\xfe' in out  # the undecodable bytes stay as they were
    assert b"138" not in out and b"li" not in out.replace(b"hmac", b"")


@pytest.mark.parametrize(
    "value",
    [
        b'{"a":"unterminated zhang@x.cn',
        b'{"a": zhang@x.cn }',
        b'{"a":"x"} trailing 13812345678',
        b'{"a":"j' + "zhang@x.cn".encode("utf-16-le") + b'"}',
        b"\xff\xfe" + "zhang@x.cn".encode("utf-16-be"),
        b'{"a":"zhang\\u0040x.cn"',
        b'{"a":"\\u007a\\u0068\\u0061\\u006e\\u0067\\u0040\\u0078\\u002e\\u0063\\u006e"',
    ],
)
def test_no_address_survives_in_bytes_that_do_not_decode(value: bytes) -> None:
    assert may_hold_personal_data(value)
    out, changed = redact_bytes(value, fake_hash)
    assert changed
    assert not holds_personal_bytes(out)
    text = out.decode("utf-8", "replace")
    assert "zhang" not in text and "13812345678" not in text


def test_a_key_is_read_as_utf_8_and_utf_16() -> None:
    assert holds_personal_bytes(b"zhang@x.cn\xff")
    assert holds_personal_bytes("zhang@x.cn".encode("utf-16-le"))
    assert holds_personal_bytes(b"+86 138 1234 5678")
    assert not holds_personal_bytes(b"syn.bank.rural_022")


# ------------------------------------------------------------------ reasons
def test_a_reason_withholds_a_personal_value_it_would_quote() -> None:
    assert shown("zhang@x.cn") == WITHHELD
    assert shown("x" * 100 + " zhang@x.cn", 80) == WITHHELD  # decided before the cut
    assert shown("bank") == "'bank'" and shown("b" * 100, 3) == "'bbb'"
    assert shown("q1", quoted=False) == "q1" and shown(13812345678) == WITHHELD


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["subject"].update(level="zhang@x.cn"),  # unknown_enum
        lambda e: e["payload"].update(vintage="138 1234 5678"),  # invalid_format
        lambda e: e.update(event_type="zhang@x.cn"),  # unknown event type
        lambda e: e.update(occurred_at="zhang@x.cn"),
        lambda e: e["payload"].update(technology={"who": "zhang@x.cn"}),
    ],
)
def test_no_reason_of_the_checker_echoes_personal_data(mutate: Any) -> None:
    event = spec_example()
    mutate(event)
    _, reasons = check_value(json.dumps(event).encode(), "fi.spend.disclosures.v1", NOW)
    assert reasons
    for reason in reasons:
        assert not holds_personal_data(reason.detail), reason


def test_a_duplicate_key_or_a_surrogate_path_does_not_echo_it() -> None:
    _, reasons = check_value(b'{"zhang@x.cn":1,"zhang@x.cn":2}', "fi.spend.disclosures.v1")
    assert [r.code for r in reasons] == ["duplicate_key"]
    assert WITHHELD in reasons[0].detail
    _, reasons = check_value(b'{"zhang@x.cn":"\\ud800"}', "fi.spend.disclosures.v1")
    assert [r.code for r in reasons] == ["invalid_unicode"]
    assert not holds_personal_data(reasons[0].detail)


def test_an_exception_quoting_personal_data_is_withheld() -> None:
    reason = internal_error("normalise", ValueError("cannot convert 'zhang@x.cn'"))
    assert reason.detail == f"normalise: ValueError: {WITHHELD}"
    assert internal_error("x", ValueError("plain")).detail == "x: ValueError: plain"
