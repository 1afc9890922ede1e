"""The warehouse's file locks: fail fast, or wait as an announced waiter."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from finradar.errors import TransientError
from warehouse.locks import anyone_waiting, file_lock, lock_is_free, waiting_dir


def _hold(path: Path, release: threading.Event, held: threading.Event) -> threading.Thread:
    def run() -> None:
        with file_lock(path, "the holder"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=run)
    thread.start()
    assert held.wait(5)
    return thread


def test_a_taken_lock_fails_fast_naming_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "ingest.lock"
    release, held = threading.Event(), threading.Event()
    holder = _hold(path, release, held)
    try:
        assert not lock_is_free(path)
        busy = r"another ingest is writing the warehouse \(pid"
        with pytest.raises(TransientError, match=busy), file_lock(path, "another ingest"):
            pass
    finally:
        release.set()
        holder.join()
    assert lock_is_free(path)


def test_an_announced_waiter_is_seen_until_it_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "ingest.lock"
    release, held = threading.Event(), threading.Event()
    holder = _hold(path, release, held)
    seen_waiting: list[bool] = []

    def release_once_seen() -> None:
        deadline = time.monotonic() + 5
        while not anyone_waiting(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_waiting.append(anyone_waiting(path))
        release.set()

    watcher = threading.Thread(target=release_once_seen)
    watcher.start()
    with file_lock(path, "another ingest", wait_s=10, announce=True):
        assert not anyone_waiting(path)  # holding it, no longer waiting
    watcher.join()
    holder.join()
    assert seen_waiting == [True]
    assert list(waiting_dir(path).iterdir()) == []


def test_a_waiter_that_times_out_fails_and_leaves_no_marker(tmp_path: Path) -> None:
    path = tmp_path / "ingest.lock"
    release, held = threading.Event(), threading.Event()
    holder = _hold(path, release, held)
    try:
        with (
            pytest.raises(TransientError, match="is writing the warehouse"),
            file_lock(path, "another ingest", wait_s=0.2, announce=True),
        ):
            pass
        assert not anyone_waiting(path)
    finally:
        release.set()
        holder.join()


def test_the_marker_of_a_process_that_died_waiting_is_ignored_and_removed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ingest.lock"
    dead = subprocess.Popen(["true"])
    dead.wait()
    marker = waiting_dir(path) / f"{dead.pid}-0000"
    marker.parent.mkdir(parents=True)
    marker.touch()
    assert not anyone_waiting(path)
    assert not marker.exists()
