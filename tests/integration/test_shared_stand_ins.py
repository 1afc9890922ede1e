"""The local stand-ins of a shared warehouse (``finradar infra up --postgres
--object-store``): a Postgres cluster that wants its password, moto's S3 server with the
bucket, both reachable with ``client_environment`` and both gone after ``down``."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import psycopg
import pytest

from finradar.errors import FinradarError
from finradar.settings import load_settings
from infra.object_store import BUCKET, LocalObjectStore
from infra.postgres import LocalPostgres, find_postgres_binaries
from infra.prefect_server import free_port, port_in_use

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"


def _libpq_fields(catalog: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in catalog.split())


def test_stand_ins_up_reachable_secured_and_down(tmp_path: Path) -> None:
    try:
        find_postgres_binaries()
    except FinradarError as exc:
        pytest.skip(f"no Postgres server binaries (initdb): {exc}")
    pg_port = free_port(HOST)
    s3_port = free_port(HOST)
    while s3_port == pg_port:
        s3_port = free_port(HOST)
    settings = load_settings(
        var_dir=tmp_path / "var",
        warehouse={"local_postgres_port": pg_port, "local_object_store_port": s3_port},
    )
    postgres, store = LocalPostgres(settings), LocalObjectStore(settings)
    try:
        pg_status, s3_status = postgres.up(), store.up()
        assert pg_status.running and s3_status.running, (pg_status.line(), s3_status.line())
        assert postgres.up().pid == pg_status.pid  # idempotent: the same server
        assert "in memory" in s3_status.line()

        env = {**postgres.client_environment(), **store.client_environment()}
        password = env["FINRADAR_WAREHOUSE__CATALOG_PASSWORD"]
        catalog = _libpq_fields(env["FINRADAR_WAREHOUSE__CATALOG"])
        assert catalog == {
            "host": HOST,
            "port": str(pg_port),
            "dbname": "finradar",
            "user": "finradar",
        }
        with psycopg.connect(**catalog, password=password, connect_timeout=5) as conn:
            assert conn.execute("select current_database()").fetchone() == ("finradar",)
        # no password (and no password file to fall back on), or a wrong one: refused
        for wrong in ({"passfile": os.devnull}, {"password": password + "x"}):
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(**catalog, connect_timeout=5, **wrong).close()

        assert env["FINRADAR_WAREHOUSE__DATA_PATH"] == f"s3://{BUCKET}/warehouse"
        assert env["FINRADAR_WAREHOUSE__S3_ENDPOINT"] == f"{HOST}:{s3_port}"
        assert env["FINRADAR_WAREHOUSE__S3_USE_SSL"] == "false"
        s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=f"http://{env['FINRADAR_WAREHOUSE__S3_ENDPOINT']}",
            region_name=env["FINRADAR_WAREHOUSE__S3_REGION"],
            aws_access_key_id=env["FINRADAR_WAREHOUSE__S3_KEY_ID"],
            aws_secret_access_key=env["FINRADAR_WAREHOUSE__S3_SECRET"],
        )
        s3.put_object(Bucket=BUCKET, Key="warehouse/probe.txt", Body=b"probe")
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="warehouse/")
        assert [item["Key"] for item in listed["Contents"]] == ["warehouse/probe.txt"]

        # the secrets stay in the private client files, out of status lines and logs
        lines = [postgres.status().line(), store.status().line()]
        for secret in (password, env["FINRADAR_WAREHOUSE__S3_SECRET"]):
            assert not any(secret in line for line in lines)
            assert secret not in postgres.log_file.read_text(errors="replace")
            assert secret not in store.log_file.read_text(errors="replace")
        for private in (postgres.client_file, store.client_file):
            assert private.stat().st_mode & 0o777 == 0o600
    finally:
        try:
            pg_down = postgres.down()
        finally:
            s3_down = store.down()
    assert not pg_down.running and not s3_down.running, (pg_down.line(), s3_down.line())
    assert not port_in_use(HOST, pg_port) and not port_in_use(HOST, s3_port)
    postgres.down(purge=True)  # harmless when stopped; deletes the cluster
    store.down(purge=True)
    assert not postgres.has_state and not store.has_state
