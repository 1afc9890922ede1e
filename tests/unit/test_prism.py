"""infra/prism.py without Go, the network or a build: its errors, its patched build and its
options."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from finradar.errors import FinradarError
from finradar.settings import Settings, load_settings
from infra.prism import (
    beam_version,
    environment_options,
    prism_binary,
    prism_dir,
    prism_options,
)
from infra.prism_patches import LEVEL, PATCHES


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
    assert not (prism_dir(settings) / "prism").exists()


# Beam's Go file the patches change, as a stand-in holding each passage they replace
WORKER_GO = PATCHES[0].path
UNPATCHED = "package worker\n" + "// …\n".join(p.old for p in PATCHES) + "}\n"
assert all(p.path == WORKER_GO for p in PATCHES)

# A stand-in for ``go``: ``go mod download -json`` answers with a module folder made of
# FAKE_MODULE's files (or fails, FAKE_DOWNLOAD_FAILS), ``go build -o OUT`` records its
# arguments, folder and GOFLAGS, keeps the worker.go it was given, and writes OUT (unless
# FAKE_BUILD_FAILS).
FAKE_GO = """\
import json, os, pathlib, shutil, sys
args = sys.argv[1:]
here = pathlib.Path(os.environ["FAKE_RECORD"])
if args[:2] == ["mod", "download"]:
    if os.environ.get("FAKE_DOWNLOAD_FAILS"):
        print("go: downloading something", file=sys.stderr)
        print("go: module lookup disabled", file=sys.stderr)
        sys.exit(1)
    (here / "download").write_text(" ".join(args))
    if os.environ.get("FAKE_DOWNLOAD_ANSWER"):
        print(os.environ["FAKE_DOWNLOAD_ANSWER"])
        sys.exit(0)
    print(json.dumps({"Path": args[-1].split("@")[0], "Dir": os.environ["FAKE_MODULE"]}))
elif args[0] == "build":
    (here / "build").write_text(" ".join(args) + " GOFLAGS=" + os.environ.get("GOFLAGS", ""))
    (here / "cwd").write_text(os.getcwd())
    shutil.copyfile(WORKER, here / "worker.go")
    if os.environ.get("FAKE_BUILD_FAILS"):
        print("worker.go:1: syntax error")
        sys.exit(1)
    out = pathlib.Path(args[args.index("-o") + 1])
    out.write_text("#!/bin/sh\\n")
    out.chmod(0o755)
"""


@pytest.fixture()
def fake_go(tmp_path: Path, monkeypatch) -> Path:
    """``go`` on PATH is FAKE_GO over a module holding the passage the patch replaces; the
    folder it records in is returned."""
    module = tmp_path / "modcache" / "sdks@v"
    worker = module / WORKER_GO
    worker.parent.mkdir(parents=True)
    worker.write_text(UNPATCHED)
    for name in ("go.mod", "go.sum"):
        (module / name).write_text(f"{name}\n")
    (module / "java").mkdir()  # the module's other languages are not copied
    for path in (module, worker.parent):
        path.chmod(0o555)  # as Go's module cache keeps them
    record = tmp_path / "record"
    record.mkdir()
    fake_bin = tmp_path / "fake-bin"
    _executable(fake_bin / "go", f"#!{sys.executable}\nWORKER = {WORKER_GO!r}\n" + FAKE_GO)
    monkeypatch.setenv("PATH", os.pathsep.join([str(fake_bin), os.environ["PATH"]]))
    monkeypatch.setenv("FAKE_MODULE", str(module))
    monkeypatch.setenv("FAKE_RECORD", str(record))
    monkeypatch.delenv("GOFLAGS", raising=False)
    return record


@pytest.mark.parametrize(
    ("failing", "said"),
    [
        ("FAKE_DOWNLOAD_FAILS", "go: module lookup disabled"),
        ("FAKE_BUILD_FAILS", "worker.go:1: syntax error"),
    ],
)
def test_a_failed_download_or_build_says_why_in_one_line_and_leaves_no_binary(
    settings, fake_go, monkeypatch, failing, said
):
    monkeypatch.setenv(failing, "1")
    with pytest.raises(FinradarError) as caught:
        prism_binary(settings)
    message = str(caught.value)
    assert "\n" not in message
    assert said in message
    folder = prism_dir(settings)
    assert not (folder / "prism").exists()
    assert not (folder / "partial").exists()
    assert said in (folder / "build.log").read_text()


@pytest.mark.parametrize("answer", ["[]", '"a string"', "null", "not json", '{"Path": "x"}'])
def test_a_download_answer_without_the_modules_folder_is_one_line_and_no_binary(
    settings, fake_go, monkeypatch, answer
):
    """``go mod download -json`` exited 0 but its answer names no folder (not JSON, not an
    object, or an object without ``Dir``): one line, no binary."""
    monkeypatch.setenv("FAKE_DOWNLOAD_ANSWER", answer)
    with pytest.raises(FinradarError) as caught:
        prism_binary(settings)
    message = str(caught.value)
    assert "\n" not in message
    assert "downloading Beam's Go module for Prism" in message
    assert not (prism_dir(settings) / "prism").exists()
    assert not (prism_dir(settings) / "partial").exists()


def test_the_build_patches_the_beam_versions_module_into_the_cache(
    settings, fake_go, tmp_path, monkeypatch
):
    binary = prism_binary(settings)
    folder = settings.cache / "prism" / f"v{beam_version()}-{LEVEL}"
    assert binary == folder / "prism" and prism_dir(settings) == folder
    assert (fake_go / "download").read_text() == (
        f"mod download -json github.com/apache/beam/sdks/v2@v{beam_version()}"
    )
    assert (fake_go / "build").read_text().split() == [
        "build", "-buildvcs=false", "-o", str(folder / "partial" / "prism"), "./go/cmd/prism",
        "GOFLAGS=-p=1",
    ]  # fmt: skip
    # built from a copy of the module's Go code with the patch in it, the module untouched
    assert (fake_go / "cwd").read_text() == str(folder / "partial" / "source")
    built_from = (fake_go / "worker.go").read_text()
    patched = UNPATCHED
    for patch in PATCHES:
        patched = patched.replace(patch.old, patch.new)
    assert built_from == patched != UNPATCHED
    assert (tmp_path / "modcache" / "sdks@v" / WORKER_GO).read_text() == UNPATCHED
    assert not (folder / "partial").exists()
    # built once: later calls find it (no go needed)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert prism_binary(settings) == binary


def test_a_module_the_patch_no_longer_fits_builds_nothing(settings, fake_go, tmp_path):
    worker = tmp_path / "modcache" / "sdks@v" / WORKER_GO
    worker.parent.chmod(0o755)
    worker.chmod(0o644)
    worker.write_text(UNPATCHED.replace(PATCHES[-1].old, "// moved on\n"))
    with pytest.raises(FinradarError, match=PATCHES[-1].name) as caught:
        prism_binary(settings)
    assert "\n" not in str(caught.value)
    assert not (fake_go / "build").exists()
    assert not (prism_dir(settings) / "prism").exists()


def test_prism_options_point_at_the_cached_binary(settings):
    binary = _executable(prism_dir(settings) / "prism", "")
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
