"""``make fuzz``: many generated messages through the pipeline's own stages (no Kafka).

Hypothesis draws messages from the contract-derived strategies (``tests/poison``), valid
and broken by class; every ``--batch`` of them is one pass onto a real DuckLake under a
temporary folder, exactly as in ``make test``'s property test but at volume. The property is
checked for every message (landed, a duplicate, or quarantined with a reason; the pass
succeeds; the landing's accounting holds), and so is the differential one: the batch check
(``contracts.batch_checks``, both its paths) gives every message the per-message checker's
verdict, events and reasons alike. Printed: messages per class and what became of
them, seconds per stage (the slowest named), and the checker's time per message (p50/p99),
also for the checker of an earlier commit on the same messages (``--compare-with REV``:
how many it crashed on, and the ratio of the times). Written to ``var/bench/fuzz-<date>.json``.

    python -m tests.bench.fuzz --messages 100000 [--batch 500] [--compare-with REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from contracts.batch_checks import Verdict, check_values
from contracts.checks import REASON_CODES, check_value
from contracts.spec import contracts
from finradar.settings import get_settings, load_settings
from tests.poison.harness import STAGES, InProcessIngest
from tests.poison.strategies import NOW, Message, message

ROOT = Path(__file__).resolve().parents[2]


def _checker_at(rev: str) -> ModuleType:
    """``contracts/checks.py`` as it was at ``rev``, importable beside today's modules."""
    source = subprocess.run(
        ["git", "show", f"{rev}:contracts/checks.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"checks_{rev}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"checks_{rev}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1e6, cuts[98] * 1e6  # µs


class Fuzz:
    def __init__(self, var: Path, batch: int, old: ModuleType | None) -> None:
        self.ingest = InProcessIngest(load_settings(var_dir=var))
        self.batch = batch
        self.old = old
        self.pending: list[Message] = []
        self.classes: dict[str, Counter[str]] = defaultdict(Counter)
        self.reasons: Counter[str] = Counter()
        self.stage_s: Counter[str] = Counter()
        self.check_s: list[float] = []
        self.old_check_s: list[float] = []
        self.old_crashes: Counter[str] = Counter()
        self.passes = 0
        self.same_verdicts = 0  # messages the batch check and the checker agreed on
        self.topics = {c.event_type: c.topic for c in contracts().values()}

    def add(self, m: Message) -> None:
        self.pending.append(m)
        if len(self.pending) >= self.batch:
            self.flush()

    def _time_checkers(self, m: Message) -> Verdict:
        """The per-message checker's verdict, timed (and the earlier checker's time)."""
        topic = self.topics[m.event_type]
        started = time.perf_counter()
        verdict = check_value(m.value, topic=topic, now=NOW)
        self.check_s.append(time.perf_counter() - started)
        if self.old is not None:
            self._time_earlier_checker(m, topic)
        return verdict

    def _time_earlier_checker(self, m: Message, topic: str) -> None:
        assert self.old is not None
        started = time.perf_counter()
        try:
            self.old.check_value(m.value, topic=topic, now=NOW)
        except Exception as exc:  # what the earlier checker did with this message
            self.old_crashes[type(exc).__name__] += 1
            return
        self.old_check_s.append(time.perf_counter() - started)

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        each = [self._time_checkers(m) for m in batch]
        # the batch check (both its paths) gives the per-message checker's verdicts
        together = check_values(
            [m.value for m in batch], [self.topics[m.event_type] for m in batch], NOW
        )
        for m, alone, verdict in zip(batch, each, together, strict=True):
            assert verdict == alone, f"the batch check differs from the checker on {m.value!r:.300}"
        self.same_verdicts += len(batch)
        result = self.ingest.run(batch)  # a pass that raises ends the fuzz: the property broke
        self.passes += 1
        self.stage_s.update(result.seconds)
        found = self.ingest.outcome(result)
        assert len(found) == len(batch) == result.summary.consumed, "a message is unaccounted"
        assert self.ingest.quarantined_bytes_hold(result)
        for m, r in zip(batch, result.records, strict=True):
            verdict, codes = found[(r.topic, r.offset)]
            assert verdict != "quarantined" or (codes and set(codes) <= set(REASON_CODES))
            self.classes[m.mutation][verdict] += 1
            self.reasons.update(codes[:1])

    def report(self, seconds: float) -> dict[str, Any]:
        total = sum(sum(c.values()) for c in self.classes.values())
        p50, p99 = _percentiles(self.check_s)
        out: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "messages": total,
            "passes": self.passes,
            "seconds": round(seconds, 1),
            "classes": {k: dict(v) for k, v in sorted(self.classes.items())},
            "first_reasons": dict(self.reasons.most_common()),
            "stage_seconds": {s: round(self.stage_s[s], 2) for s in STAGES},
            "slowest_stage": max(STAGES, key=lambda s: self.stage_s[s]),
            "checker_us": {"p50": round(p50, 1), "p99": round(p99, 1)},
            "batch_check_same_verdicts": self.same_verdicts,
        }
        if self.old is not None and self.old_check_s:
            old50, old99 = _percentiles(self.old_check_s)
            out["earlier_checker_us"] = {"p50": round(old50, 1), "p99": round(old99, 1)}
            out["earlier_checker_crashes"] = dict(self.old_crashes)
            out["ratio_p50"] = round(p50 / old50, 2)
            out["ratio_p99"] = round(p99 / old99, 2)
        return out


def _print(report: dict[str, Any], rev: str | None) -> None:
    print(f"\n{report['messages']:,} messages in {report['passes']} passes, {report['seconds']} s")
    print(f"{'class':<18}{'messages':>10}{'landed':>10}{'duplicate':>11}{'quarantined':>13}")
    for name, outcome in report["classes"].items():
        n = sum(outcome.values())
        print(
            f"{name:<18}{n:>10,}{outcome.get('landed', 0):>10,}{outcome.get('duplicate', 0):>11,}"
            f"{outcome.get('quarantined', 0):>13,}"
        )
    print(
        "quarantined by first reason:",
        ", ".join(f"{k} {v:,}" for k, v in report["first_reasons"].items()),
    )
    per = {s: v / report["messages"] * 1e6 for s, v in report["stage_seconds"].items()}
    print("stages (µs per message):", ", ".join(f"{s} {v:,.0f}" for s, v in per.items()))
    print(f"slowest stage: {report['slowest_stage']}")
    c = report["checker_us"]
    print(f"checker per message: p50 {c['p50']} µs, p99 {c['p99']} µs")
    print(
        f"batch check: the checker's verdict on {report['batch_check_same_verdicts']:,} of"
        f" {report['messages']:,} messages"
    )
    if "earlier_checker_us" in report:
        o = report["earlier_checker_us"]
        print(
            f"checker at {rev}: p50 {o['p50']} µs, p99 {o['p99']} µs on the messages it did not "
            f"crash on; crashed on {sum(report['earlier_checker_crashes'].values()):,} "
            f"({report['earlier_checker_crashes']}); ratio now/then p50 {report['ratio_p50']}, "
            f"p99 {report['ratio_p99']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--compare-with", metavar="REV", help="time this commit's checker too")
    args = parser.parse_args(argv)
    old = _checker_at(args.compare_with) if args.compare_with else None
    with tempfile.TemporaryDirectory() as tmp:
        fuzz = Fuzz(Path(tmp) / "var", args.batch, old)

        @settings(
            max_examples=args.messages,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(m=message())
        def draw(m: Message) -> None:
            fuzz.add(m)

        started = time.perf_counter()
        draw()
        fuzz.flush()
        report = fuzz.report(time.perf_counter() - started)
        fuzz.ingest.close()
    _print(report, args.compare_with)
    out = get_settings().var / "bench" / f"fuzz-{datetime.now(UTC):%Y-%m-%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
