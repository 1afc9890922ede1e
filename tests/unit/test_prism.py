"""infra/prism.py without Go, the network or a build: its errors and its options."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from finradar.errors import FinradarError
from finradar.settings import Settings, load_settings
from infra.prism import beam_version, environment_options, prism_binary, prism_options


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return load_settings(var_dir=tmp_path / "var", cache_dir=tmp_path / "cache")


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_without_go_the_build_fails_with_one_clear_line(settings, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(FinradarError) as caught:
        prism_binary(settings)
    message = str(caught.value)
    assert "\n" not in message
    assert "Go (go) is not installed" in message
    assert f"v{beam_version()}" in message
    assert not (settings.cache / "prism" / f"v{beam_version()}" / "prism").exists()


def test_a_failed_build_says_why_in_one_line_and_leaves_no_binary(settings, tmp_path, monkeypatch):
    fake_bin = tmp_path / "fake-bin"
    _executable(
        fake_bin / "go",
        "#!/bin/sh\necho 'go: downloading something'\necho 'go: module lookup disabled' >&2\n"
        "exit 1\n",
    )
    monkeypatch.setenv("PATH", str(fake_bin))
    with pytest.raises(FinradarError) as caught:
        prism_binary(settings)
    message = str(caught.value)
    assert "\n" not in message
    assert "go: module lookup disabled" in message
    folder = settings.cache / "prism" / f"v{beam_version()}"
    assert not (folder / "prism").exists()
    assert not (folder / "partial").exists()
    assert (folder / "build.log").read_text().startswith("go: downloading")


def test_the_build_installs_the_beam_version_into_the_cache(settings, tmp_path, monkeypatch):
    fake_bin = tmp_path / "fake-bin"
    # a "go install" that records its arguments and environment, then installs a binary
    _executable(
        fake_bin / "go",
        '#!/bin/sh\necho "$@ GOFLAGS=$GOFLAGS" > "$GOBIN/../args"\n'
        'printf "#!/bin/sh\\n" > "$GOBIN/prism"\nchmod +x "$GOBIN/prism"\n',
    )
    monkeypatch.setenv("PATH", os.pathsep.join([str(fake_bin), os.environ["PATH"]]))
    monkeypatch.delenv("GOFLAGS", raising=False)
    binary = prism_binary(settings)
    folder = settings.cache / "prism" / f"v{beam_version()}"
    assert binary == folder / "prism"
    assert (folder / "args").read_text().split() == [
        "install",
        f"github.com/apache/beam/sdks/v2/go/cmd/prism@v{beam_version()}",
        "GOFLAGS=-p=1",
    ]
    # built once: later calls find it (no go needed)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert prism_binary(settings) == binary


def test_prism_options_point_at_the_cached_binary(settings):
    binary = _executable(settings.cache / "prism" / f"v{beam_version()}" / "prism", "")
    assert prism_options(settings) == [
        f"--prism_location={binary}",
        "--environment_type=LOOPBACK",
    ]
    assert prism_options(settings, "external", "127.0.0.1:5555")[1:] == [
        "--environment_type=EXTERNAL",
        "--environment_config=127.0.0.1:5555",
    ]


def test_environment_options_refuse_what_cannot_work():
    with pytest.raises(FinradarError, match="worker pool"):
        environment_options("EXTERNAL")
    with pytest.raises(FinradarError, match="unsupported"):
        environment_options("PROCESS")
