"""One typed settings object: defaults, TOML file, FINRADAR_ env vars (env wins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finradar.errors import FinradarError
from finradar.settings import load_settings


def test_defaults_point_into_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINRADAR_CONFIG", raising=False)
    monkeypatch.chdir(Path(__file__).parent)
    s = load_settings()
    assert s.kafka.bootstrap == "127.0.0.1:9092"
    assert s.var == (s.home / "var").resolve()
    assert s.catalog_path.name == "catalog.sqlite"
    assert s.beam.runner == "FnApiRunner"


def test_toml_file_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "finradar.toml"
    config.write_text('[kafka]\nport = 19092\nhost = "127.0.0.2"\n[beam]\nrunner = "X"\n')
    monkeypatch.setenv("FINRADAR_CONFIG", str(config))
    monkeypatch.setenv("FINRADAR_KAFKA__PORT", "29092")
    s = load_settings()
    assert s.kafka.bootstrap == "127.0.0.2:29092"
    assert s.beam.runner == "X"


def test_invalid_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINRADAR_KAFKA__PORT", "70000")
    with pytest.raises(FinradarError, match=r"^invalid setting kafka\.port: "):
        load_settings()


def test_unknown_toml_key_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "finradar.toml"
    config.write_text("kafak_port = 1\n")
    monkeypatch.setenv("FINRADAR_CONFIG", str(config))
    with pytest.raises(FinradarError, match="kafak_port"):
        load_settings()


def test_no_other_module_reads_the_environment() -> None:
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for folder in ("finradar", "contracts", "pipelines", "flows", "warehouse", "infra"):
        for path in (root / folder).rglob("*.py"):
            if path.name == "settings.py" and path.parent.name == "finradar":
                continue
            text = path.read_text(encoding="utf-8")
            if "os.environ" in text or "os.getenv" in text:
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
