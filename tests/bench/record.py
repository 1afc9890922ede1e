"""The benchmarks' figures of one day, kept in ``var/bench/<date>.json`` (one key per
benchmark; a later run of the same benchmark replaces its figures)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finradar.settings import get_settings


def record(name: str, figures: Any) -> Path:
    """Add ``figures`` under ``name`` to today's file; returns its path."""
    now = datetime.now(UTC)
    path = get_settings().var / "bench" / f"{now:%Y-%m-%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(path.read_text()) if path.is_file() else {}
    kept[name] = {"measured_at": now.isoformat(timespec="seconds"), "figures": figures}
    path.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")
    return path
