"""Run the ``finradar`` command in a child process against a test's own var and broker."""

from __future__ import annotations

import os
import subprocess
import sys

from finradar.settings import Settings


def finradar_env(settings: Settings, failpoint: str | None = None) -> dict[str, str]:
    """The environment that points a child ``finradar`` at ``settings``'s var and broker."""
    env = {
        **os.environ,
        "FINRADAR_VAR_DIR": str(settings.var),
        "FINRADAR_KAFKA__PORT": str(settings.kafka.port),
        "FINRADAR_KAFKA__CONTROLLER_PORT": str(settings.kafka.controller_port),
    }
    if failpoint:
        env["FINRADAR_INGEST__FAILPOINT"] = failpoint
    return env


def run_finradar(
    settings: Settings, *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``finradar *args`` pointed at ``settings`` (``env``: that environment instead)."""
    return subprocess.run(
        [sys.executable, "-m", "finradar", *args],
        env=finradar_env(settings) if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
