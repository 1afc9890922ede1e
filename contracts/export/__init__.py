"""Artifacts derived from ``contracts.spec``: JSON Schema, Arrow schemas, DDL, GX suites."""
