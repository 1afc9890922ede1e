"""Linux Landlock: a process gives up, for good, every file access it was not granted.

``restrict_files(readable, writable)`` leaves this process (its current thread and every
thread or process started after) able to read under the ``readable`` paths and write only
the ``writable`` files, nothing else: no other file read, created, written, truncated,
renamed or removed, whatever a library inside it tries. The kernel enforces it, so it holds
for code that opens files with its own I/O (SQLite inside DuckDB's sqlite extension), which
DuckDB's own switches do not reach.

Landlock is in Linux since 5.13; ``restrict_files`` says whether it took effect (False on a
kernel without it). No library here: the three system calls are small, and the one PyPI
package for them has only development releases.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import struct
from collections.abc import Iterable
from pathlib import Path

# x86_64 and aarch64 share the generic syscall numbers for Landlock
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_REMOVE_DIR, _REMOVE_FILE, _MAKE_CHAR, _MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
_MAKE_REG, _MAKE_SOCK, _MAKE_FIFO, _MAKE_BLOCK, _MAKE_SYM = (1 << n for n in range(8, 13))
_REFER, TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_ABI_1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_BY_ABI = {1: _ABI_1, 2: _ABI_1 | _REFER, 3: _ABI_1 | _REFER | TRUNCATE}
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | _IOCTL_DEV


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 without Landlock."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    version = _libc().syscall(_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def restrict_files(
    readable: Iterable[Path], writable: Iterable[Path] = (), removable: Iterable[Path] = ()
) -> bool:
    """Allow this process from now on to read (and list, and run) under ``readable``, to
    write (and truncate) the existing files ``writable``, and to remove what is under the
    folders ``removable``; every other file access is refused with EACCES. Paths that do
    not exist are skipped. Returns whether Landlock took effect."""
    abi = abi_version()
    if abi == 0:
        return False
    handled = _BY_ABI.get(abi, _BY_ABI[3] | (_IOCTL_DEV if abi >= 5 else 0))
    libc = _libc()
    ruleset = libc.syscall(_CREATE_RULESET, struct.pack("=Q", handled), 8, 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        read = EXECUTE | READ_FILE | READ_DIR
        for path in {Path(p).resolve() for p in readable}:
            _allow(libc, ruleset, path, read, handled)
        for path in {Path(p).resolve() for p in writable}:
            if path.is_file():
                _allow(libc, ruleset, path, READ_FILE | WRITE_FILE | TRUNCATE, handled)
        remove = READ_FILE | READ_DIR | _REMOVE_FILE | _REMOVE_DIR
        for path in {Path(p).resolve() for p in removable}:
            if path.is_dir():
                _allow(libc, ruleset, path, remove, handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return True


def _allow(libc: ctypes.CDLL, ruleset: int, path: Path, rights: int, handled: int) -> None:
    if not path.exists():
        return
    if not path.is_dir():
        rights &= _FILE_RIGHTS
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        _add_rule(libc, ruleset, fd, rights & handled)
    finally:
        os.close(fd)


def _add_rule(libc: ctypes.CDLL, ruleset: int, fd: int, rights: int) -> None:
    rule = struct.pack("=Qi", rights, fd)  # a packed landlock_path_beneath_attr
    if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0) != 0:
        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for fd {fd}")
