"""A check of one event type compiled from the contract, in Rust: the floor of the next step
to the raw client's rate (README, "Ingest and the warehouse"), measured by
``python -m tests.bench.profile_decode``.

``rust_source`` writes a program from ``contracts.spec``: the event as typed serde structs
(a field the contract does not declare, a duplicate key, a value of another JSON type or an
integer beyond 64 bits fails the decode), each declared field's enum, pattern, length,
bound and calendar-date rules, and for each message that passes, the SHA-256 of its bytes
and its fields' values appended to columns in Arrow's layout (text in one buffer with
offsets; numbers with a validity flag). The program reads newline-separated messages on
stdin, checks them five times and prints the best time a message and how many passed.

Not in it, so it is a floor and not a checker: the cross-field and survey rules, future
timestamps, the personal-data screen, the range of a number field's integers (±(2^53 − 1))
and the rules inside arrays of objects. ``build`` compiles it with cargo (its crates from
crates.io) under ``var/bench/compiled_check/<event type>/``; without cargo it gives None.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from contracts.spec import SCHEMA_VERSION, EventContract, Field
from contracts.taxonomy import codes

CARGO_TOML = """[package]
name = "compiled_check"
version = "0.1.0"
edition = "2021"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
regex = "1"
sha2 = "0.10"

[profile.release]
opt-level = 3
"""

# what the program prints: "<messages> <clean> <seconds a message>"
_RESULT = re.compile(r"^(\d+) (\d+) ([0-9.e-]+)$")

_PRELUDE = """use std::borrow::Cow;
use std::io::Read;
use std::sync::LazyLock;
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Default)]
struct Text { data: Vec<u8>, offsets: Vec<i32>, valid: Vec<bool> }
impl Text {
    fn push(&mut self, v: Option<&str>) {
        if let Some(s) = v { self.data.extend_from_slice(s.as_bytes()); }
        self.valid.push(v.is_some());
        self.offsets.push(self.data.len() as i32);
    }
}
#[derive(Default)]
struct Numbers { values: Vec<f64>, valid: Vec<bool> }
impl Numbers {
    fn push(&mut self, v: Option<f64>) {
        self.values.push(v.unwrap_or(0.0));
        self.valid.push(v.is_some());
    }
}

fn calendar(d: &str) -> bool {
    if d.len() < 10 || !d.is_char_boundary(10) { return false; }
    let (y, m, day) = (d[0..4].parse::<u32>(), d[5..7].parse::<u32>(), d[8..10].parse::<u32>());
    let (Ok(y), Ok(m), Ok(day)) = (y, m, day) else { return false };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => if leap { 29 } else { 28 },
        _ => 0,
    };
    y >= 1 && day >= 1 && day <= days
}
"""


def length_limits(f: Field) -> list[tuple[str, int]]:
    """The comparisons a text field's length must keep: ``[(">=", 1)]`` and the like."""
    limits = ((">=", f.min_length), ("<=", f.max_length))
    return [(op, n) for op, n in limits if n is not None]


def bound_limits(f: Field) -> list[tuple[str, float]]:
    """The comparisons a number field's value must keep: ``[(">", 0.0)]`` and the like."""
    limits = ((">=", f.minimum), (">", f.exclusive_minimum), ("<=", f.maximum))
    return [(op, float(bound)) for op, bound in limits if bound is not None]


class _Program:
    """The parts of the program, gathered while walking the contract's fields."""

    def __init__(self) -> None:
        self.structs: list[str] = []
        self.patterns: dict[str, str] = {}
        self.rules: list[str] = []
        self.columns: list[tuple[str, str]] = []  # (name, "Text" | "Numbers")
        self.appends: list[str] = []

    def pattern(self, pattern: str) -> str:
        return self.patterns.setdefault(pattern, f"PATTERN_{len(self.patterns)}")

    def struct(self, name: str, fields: Sequence[Field], path: str | None) -> None:
        """A serde struct of ``fields``; with ``path`` (where the struct is in the event),
        its fields' rules and columns too (an array's items have neither)."""
        lines = ["#[derive(Deserialize)]", "#[serde(deny_unknown_fields)]", f"struct {name}<'a> {{"]
        for f in fields:
            where = f"{path}.{f.name}" if path is not None else None
            if f.kind == "object":
                assert f.required or where is None, "an optional object's rules need its Option"
                inner = f"{name}_{f.name}"
                self.struct(inner, f.fields, where)
                kind = f"{inner}<'a>"
            else:
                kind = self._kind(name, f)
                if where is not None:
                    self._rules_and_column(f, where)
            field = kind if f.required else f"Option<{kind}>"
            borrow = "#[serde(borrow)] " if "'a" in kind else ""
            default = "" if f.required else "#[serde(default)] "
            lines.append(f"    {borrow}{default}{f.name}: {field},")
        lines.append("    #[serde(skip)] _text: std::marker::PhantomData<&'a str>,\n}")
        self.structs.append("\n".join(lines))

    def _kind(self, owner: str, f: Field) -> str:
        if f.kind in ("string", "date", "timestamp"):
            return "Cow<'a, str>"
        if f.kind in ("integer", "number"):
            return "i64" if f.kind == "integer" else "f64"
        assert f.kind == "array" and f.items is not None, f.kind
        if f.items.kind == "object":
            item = f"{owner}_{f.name}_item"
            self.struct(item, f.items.fields, None)
            return f"Vec<{item}<'a>>"
        return f"Vec<{self._kind(owner, f.items)}>"

    def _rules_and_column(self, f: Field, where: str) -> None:
        text = f.kind in ("string", "date", "timestamp")
        rules = []
        if text:
            if f.enum:
                rules.append(
                    f"matches!(v.as_ref(), {' | '.join(json.dumps(c) for c in codes(f.enum))})"
                )
            if f.const is not None:
                rules.append(f"v.as_ref() == {json.dumps(f.const)}")
            if f.pattern:
                rules.append(f"{self.pattern(f.pattern)}.is_match(v)")
            rules += [f"v.chars().count() {op} {n}" for op, n in length_limits(f)]
            if f.kind in ("date", "timestamp"):
                rules.append("calendar(v)")
        elif f.kind in ("integer", "number"):
            if f.const is not None:
                rules.append(f"v as f64 == {float(f.const)}")
            rules += [f"v as f64 {op} {bound}" for op, bound in bound_limits(f)]
        kept = " && ".join(rules)
        # a number is copied; text and arrays are borrowed
        access = f"e{where}" if f.kind in ("integer", "number") else f"&e{where}"
        if kept and f.required:
            self.rules.append(f"    {{ let v = {access}; if !({kept}) {{ return false; }} }}")
        elif kept:
            self.rules.append(
                f"    if let Some(v) = {access} {{ if !({kept}) {{ return false; }} }}"
            )
        if f.kind == "array":
            return
        column = f"c{len(self.columns)}"
        self.columns.append((column, "Text" if text else "Numbers"))
        value = "v.as_ref()" if text else "v as f64"
        if f.required:
            self.appends.append(
                f"            {{ let v = {access}; {column}.push(Some({value})); }}"
            )
        else:
            some = f"e{where}.as_ref()" if text else access
            self.appends.append(f"            {column}.push({some}.map(|v| {value}));")


def rust_source(contract: EventContract) -> str:
    """The program checking and columning messages of ``contract`` (see the module)."""
    program = _Program()
    program.struct("Event", contract.root.fields, "")
    patterns = [
        f"static {name}: LazyLock<Regex> = LazyLock::new(|| Regex::new({json.dumps(p)}).unwrap());"
        for p, name in program.patterns.items()
    ]
    columns = "\n".join(
        f"        let mut {c}: {t} = Default::default();" for c, t in program.columns
    )
    kept = ", ".join(f"{c}.valid.len()" for c, _ in program.columns)
    return "\n".join(
        [
            _PRELUDE,
            *patterns,
            *program.structs,
            "fn passes(e: &Event) -> bool {",
            f"    if e.event_type.as_ref() != {json.dumps(contract.event_type)}"
            f" || e.schema_version != {SCHEMA_VERSION} {{ return false; }}",
            *program.rules,
            "    true\n}\n",
            "fn main() {",
            "    let mut input = Vec::new();",
            "    std::io::stdin().read_to_end(&mut input).unwrap();",
            "    let messages: Vec<&[u8]> =",
            "        input.split(|b| *b == b'\\n').filter(|m| !m.is_empty()).collect();",
            "    let (mut best, mut clean) = (f64::MAX, 0usize);",
            "    for _ in 0..5 {",
            "        let started = std::time::Instant::now();",
            columns,
            "        let mut digests: Vec<[u8; 32]> = Vec::new();",
            "        clean = 0;",
            "        for m in &messages {",
            "            let Ok(e) = serde_json::from_slice::<Event>(m) else { continue };",
            "            if !passes(&e) { continue; }",
            "            clean += 1;",
            "            digests.push(Sha256::digest(m).into());",
            *program.appends,
            "        }",
            "        best = best.min(started.elapsed().as_secs_f64());",
            f"        std::hint::black_box((digests.len(), {kept}));",
            "    }",
            '    println!("{} {} {:e}", messages.len(), clean, best / messages.len() as f64);',
            "}",
        ]
    )


def build(contract: EventContract, under: Path) -> Path | None:
    """The program of ``contract`` built in ``under/<event type>``, or None without cargo."""
    cargo = shutil.which("cargo")
    if cargo is None:
        return None
    project = under / contract.event_type
    (project / "src").mkdir(parents=True, exist_ok=True)
    (project / "Cargo.toml").write_text(CARGO_TOML)
    (project / "src" / "main.rs").write_text(rust_source(contract))
    built = subprocess.run(
        [cargo, "build", "--release", "--quiet"], cwd=project, capture_output=True, text=True
    )
    if built.returncode:  # the compiler's own words, not a traceback of the subprocess
        raise SystemExit(f"cargo build failed in {project}:\n{built.stderr[-4000:]}")
    return project / "target" / "release" / "compiled_check"


def run(program: Path, values: Sequence[bytes]) -> tuple[float, int]:
    """Seconds a message (best of five) and how many of ``values`` pass (newline-free)."""
    if any(b"\n" in v for v in values):  # the program reads one message a line
        raise ValueError("a value holds a newline: the program would read it as two")
    done = subprocess.run([str(program)], input=b"\n".join(values), check=True, capture_output=True)
    found = _RESULT.match(done.stdout.decode().strip())
    assert found is not None, done.stdout
    return float(found.group(3)), int(found.group(2))
