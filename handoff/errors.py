"""The landing's refusals, caught above it (the flows retry ``OffsetsMoved``)."""

from __future__ import annotations

from finradar.errors import FinradarError


class OffsetsMoved(FinradarError):
    """Another writer committed these partitions after the run was planned."""


class AccountingError(FinradarError):
    """A partition's consumed records are not all landed, duplicates or quarantined."""
