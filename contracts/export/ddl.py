"""DuckDB DDL of the ``raw.*`` tables, derived from the Arrow schemas of ``contracts``."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from contracts.export.arrow import raw_schemas

DDL_FILE = Path(__file__).resolve().parents[1] / "generated" / "raw_tables.sql"


def duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "varchar"
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_date32(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_binary(t):
        return "blob"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_list(t):
        return duckdb_type(t.value_type) + "[]"
    if pa.types.is_struct(t):
        inner = ", ".join(f"{f.name} {duckdb_type(f.type)}" for f in t)
        return f"struct({inner})"
    raise TypeError(f"no DuckDB type for {t}")


def create_table(schema_name: str, table: str, schema: pa.Schema) -> str:
    cols = ",\n".join(
        f"    {f.name} {duckdb_type(f.type)}{'' if f.nullable else ' not null'}" for f in schema
    )
    return f"create table if not exists {schema_name}.{table} (\n{cols}\n);\n"


def raw_ddl(schema_name: str = "raw") -> str:
    """``create table`` statements of every raw table (DuckLake has no keys or constraints
    beyond not null, so none are declared)."""
    head = "-- Generated from contracts/spec.py by `python -m contracts.export`; do not edit.\n"
    return head + "\n".join(create_table(schema_name, t, s) for t, s in raw_schemas().items())
