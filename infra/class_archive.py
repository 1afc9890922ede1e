"""The Kafka broker's class-data-sharing archive: the classes its JVM loads at start, kept
in one file that later starts map instead of reading and verifying thousands of classes
from the jars (Java's dynamic CDS archive, JEP 350).

The first broker started without an archive records one as it exits
(``-XX:ArchiveClassesAtExit``, to a file of its own); ``LocalBroker.down`` adopts it once that
JVM has exited by itself (a killed JVM may have left it half written) and a JVM has mapped it
(``-Xshare:on``, which fails rather than run without). Every later start, the broker's and
the storage tool's, maps it (``-XX:SharedArchiveFile``). The JVM checks an archive against
its own version and class path and runs without it if they differ (another JDK, other
jars), but a JVM that maps a file cut short crashes (SIGBUS, Java 17): an archive whose size
is not the one adopted is deleted, not used. Options that choose CDS themselves
(``kafka.jvm_options``) are left alone.

Measured with ``finradar infra up`` on a new var/ and the test suite's JVM options (CPU of
the command, which runs the storage tool, and of the broker's JVM when it first answers,
from ``/proc/<pid>/stat``): 1.8–2.0 s + 3.1–3.3 s without the archive (two runs), 1.4–1.8 s
+ 2.2–2.7 s with it (four runs), 2026-12-04. The test suite starts about 36 brokers.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from pathlib import Path

ARCHIVE_NAME = "broker-classes.jsa"
PENDING_SUFFIX = ".partial"
_CHOSEN = ("-Xshare", "-XX:SharedArchiveFile", "-XX:ArchiveClassesAtExit")


def archive_path(lib_dir: Path) -> Path:
    """The archive of the broker whose jars are in ``lib_dir`` (beside them)."""
    return lib_dir.with_name(ARCHIVE_NAME)


def chosen_by_user(jvm_options: list[str]) -> bool:
    return any(option.startswith(_CHOSEN) for option in jvm_options)


def _size_record(archive: Path) -> Path:
    return archive.with_name(f"{archive.name}.size")


def usable_archive(lib_dir: Path) -> Path | None:
    """The archive, if it is there whole (its size the adopted one); one that is not is
    deleted."""
    archive = archive_path(lib_dir)
    try:
        whole = archive.stat().st_size == int(_size_record(archive).read_text())
    except (OSError, ValueError):
        whole = False
    if whole:
        return archive
    discard(archive)
    return None


def sharing_options(lib_dir: Path) -> list[str]:
    """Map the archive, if there is one."""
    archive = usable_archive(lib_dir)
    return [f"-XX:SharedArchiveFile={archive}"] if archive is not None else []


def recording_options(lib_dir: Path) -> tuple[list[str], Path | None]:
    """The options of a broker's start, and the file its JVM records an archive to (none
    when the archive exists: the start maps it)."""
    if usable_archive(lib_dir) is not None:
        return sharing_options(lib_dir), None
    pending = lib_dir.with_name(f"{ARCHIVE_NAME}.{uuid.uuid4().hex}{PENDING_SUFFIX}")
    return [f"-XX:ArchiveClassesAtExit={pending}"], pending


def adopt(pending: Path, lib_dir: Path) -> bool:
    """Make ``pending`` (written by a JVM that has exited by itself) the archive, if a JVM
    maps it and there is none yet; returns whether it did."""
    archive = archive_path(lib_dir)
    if not pending.is_file() or usable_archive(lib_dir) is not None or not _maps(pending, lib_dir):
        discard(pending)
        return False
    _size_record(archive).write_text(f"{pending.stat().st_size}\n")
    os.replace(pending, archive)  # atomic: a JVM starting meanwhile maps a whole file
    return True


def _maps(pending: Path, lib_dir: Path) -> bool:
    """Whether a JVM of these jars maps ``pending`` (and does not run without it)."""
    check = [
        "java", "-Xshare:on", f"-XX:SharedArchiveFile={pending}", "-cp", f"{lib_dir}/*",
        "-version",
    ]  # fmt: skip
    return subprocess.run(check, capture_output=True, check=False).returncode == 0


def discard(pending: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        pending.unlink()
