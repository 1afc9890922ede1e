"""``quarantine.events.raw_text`` as SQL (``warehouse.schema.RAW_TEXT``: DuckDB's strict
``decode`` where the bytes are valid UTF-8, the Python function elsewhere) gives the Python
function's text for every byte string, and leaves the bytes as they were."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from contracts.spec import MAX_MESSAGE_BYTES
from warehouse import schema
from warehouse.schema import RAW_TEXT, raw_text, register_raw_text

EDGES: list[bytes | None] = [
    None,
    b"",
    b'{"event_id": "e-1"}',
    "中文 ünïcödé 🙂 \u2028".encode(),
    b"\xef\xbb\xbf{}",  # a byte-order mark
    b"text with \x00 a NUL",
    b"\x00",
    b"caf\xe9",  # Latin-1
    b"\xff\xfe",
    b"\xed\xa0\x80",  # an encoded surrogate (CESU-8)
    b"\xed\xa0\xbd\xed\xb8\x80",  # a surrogate pair, encoded apart
    b"\xc0\xaf",  # an overlong slash
    b"\xe0\x80\xaf",  # an overlong slash, three bytes
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # five bytes
    b"\xe4\xb8",  # truncated at the end
    b"\xe4\xb8x\xe6\x96\x87",  # truncated in the middle
    b"\x80\x80",  # lone continuation bytes
    "\U0010ffff".encode(),
    b"x" * 100_000 + b"\xff",  # long, invalid at its end
    b"y" * 100_000,
    b"z" * MAX_MESSAGE_BYTES,  # as long as the contract allows a message
    b"z" * MAX_MESSAGE_BYTES + b"\xff",  # longer: oversize, no text
    b"z" * (MAX_MESSAGE_BYTES + 1),
]


def _random_bytes(rng: random.Random) -> bytes:
    """Mostly text, with now and then a byte that may break it."""
    parts = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.random()
        if kind < 0.5:
            parts.append(
                "".join(
                    chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0x10FFFF)]))
                    for _ in range(rng.randint(0, 5))
                ).encode("utf-8", "surrogatepass")
            )
        else:
            parts.append(bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 4))))
    return b"".join(parts)


def test_sql_raw_text_is_the_python_function_on_every_byte_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(20261202)
    values = EDGES + [_random_bytes(rng) for _ in range(5_000)]
    called: list[bytes | None] = []  # what the Python function was given

    def counted(batch: pa.Array) -> pa.Array:
        called.extend(batch.to_pylist())
        return raw_text(batch)

    monkeypatch.setattr(schema, "raw_text", counted)  # as ``register_raw_text`` registers it
    con = duckdb.connect()
    register_raw_text(con)
    con.register(
        "messages", pa.table({"n": range(len(values)), "raw_value": pa.array(values, pa.binary())})
    )
    rows = con.execute(f"select raw_value, {RAW_TEXT} from messages order by n").fetchall()
    assert [value for value, _ in rows] == values  # the bytes as they were
    expected = raw_text(pa.array(values, pa.binary())).to_pylist()
    mismatches = [
        (value, text, want)
        for value, (_, text), want in zip(values, rows, expected, strict=True)
        if text != want
    ]
    assert mismatches == []
    # no text of a value longer than the contract allows a message
    assert [t for v, t in rows if v is not None and len(v) > MAX_MESSAGE_BYTES] == [None, None]
    # both kinds are many, and the function decoded only the bytes that are not UTF-8
    invalid = {v for v in values if v is not None and not _valid(v)}
    assert len(invalid) > 1_000 and len(values) - len(invalid) > 1_000
    assert {v for v in called if v is not None} == {
        v for v in invalid if len(v) <= MAX_MESSAGE_BYTES
    }


def _valid(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
