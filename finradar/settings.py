"""The one typed settings object of finradar.

Values come, highest priority first, from environment variables with the ``FINRADAR_`` prefix
(nested fields joined with ``__``, e.g. ``FINRADAR_KAFKA__PORT=19092``), then from an optional
TOML file (``FINRADAR_CONFIG`` or ``./finradar.toml``), then from the defaults below. No other
module reads the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from finradar.errors import FinradarError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "FINRADAR_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
DEFAULT_CONFIG_FILE = Path("finradar.toml")
# what ``finradar infra up --secure`` writes for the clients of the local secured broker
# (under var/): read after the settings file, so anything set by the user wins
LOCAL_BROKER_CLIENT_FILE = Path("kafka") / "secure" / "client.toml"
DEFAULT_PII_HASH_KEY = "finradar-local-development-key"


class Secret(SecretStr):
    """A secret setting. Pickled (into a Beam pipeline, for a worker or a job server) it is
    only the name of the environment variable that holds it; unpickled, it reads that
    variable when its value is first asked for, where the step runs: the value never
    travels inside a pipeline. ``secrets_in_environment`` puts the values there for the
    workers a pass starts."""

    env_name: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        if not self.env_name:
            raise TypeError("a secret with no environment variable cannot be pickled")
        return secret_from_environment, (self.env_name,)

    def _copy(self) -> Secret:
        copy = Secret.__new__(Secret)
        copy._secret_value = self._secret_value
        copy.env_name = self.env_name
        return copy

    # a copy in this process keeps the value (only a pickle becomes a reference)
    def __copy__(self) -> Secret:
        return self._copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self._copy()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return False
        if self._secret_value is None or other._secret_value is None:
            return self.env_name == other.env_name and self._secret_value is other._secret_value
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash((Secret, self.env_name))

    def get_secret_value(self) -> str:
        if self._secret_value is None:  # a reference, not read yet
            assert self.env_name is not None
            value = os.environ.get(self.env_name)
            if value is None:
                raise FinradarError(
                    f"the secret {self.env_name} is not set in the environment of this process"
                )
            self._secret_value = value
        return self._secret_value

    def __len__(self) -> int:
        return len(self.get_secret_value())

    def _display(self) -> str:
        return "**********"


def secret_from_environment(env_name: str) -> Secret:
    """A reference to the secret that ``env_name`` holds, read when first used (where a
    pickled ``Secret`` is unpickled)."""
    secret = Secret.__new__(Secret)
    secret._secret_value = None  # type: ignore[assignment]
    secret.env_name = env_name
    return secret


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]


class KafkaSettings(BaseModel):
    """The local broker (``finradar infra``) and how every client connects to a broker:
    address, encryption (SSL) and authentication (SASL, or a client certificate)."""

    host: str = "127.0.0.1"
    port: int = Field(9092, ge=1, le=65535)
    controller_port: int = Field(9093, ge=1, le=65535)
    # the local secured broker's listener for clients with a certificate (mutual TLS)
    mtls_port: int = Field(9094, ge=1, le=65535)
    heap: str = "512m"
    # the local broker's JVM options besides its heap. With the client compiler and the
    # serial collector (-XX:TieredStopAtLevel=1 -XX:+UseSerialGC) one started on 5.9 s of
    # CPU instead of 8.5 s and idled on less, but may serve a sustained load on more
    jvm_options: list[str] = ["-XX:+UseG1GC"]
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 30.0
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    # the CA that signed the broker's certificate (PEM); none: the system's CAs
    ssl_cafile: Path | None = None
    # the client's certificate and private key (PEM), for mutual TLS
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: Secret | None = None
    ssl_check_hostname: bool = True
    # how long a client tries to reach the broker before it fails (and says why)
    connect_timeout_s: float = Field(30.0, gt=0)
    # the most an ingest reader fetches of one partition at a time: each reader holds a
    # fetch, decoded, and the next one in flight (a first record larger than this still
    # comes whole). A 1,000,000-event pass on two workers (``python -m
    # tests.bench.ingest_timeline 1000000 --variant FINRADAR_KAFKA__FETCH_PARTITION_BYTES=…``,
    # one run): 16 MiB 66.8 s with the process tree at 1.47 GiB, 4 MiB 66.9 s at 1.37 GiB,
    # 2 MiB 66.8 s at 1.35 GiB. At 5,000,000 events, with ``ingest.batch_bytes`` at 3 MiB
    # (``--variant "FINRADAR_KAFKA__FETCH_PARTITION_BYTES=2097152
    # FINRADAR_INGEST__BATCH_BYTES=3145728"``, 2026-12-02): 1.36 GiB against 1.48 GiB
    # with 4 and 6 MiB, at the same rate. Larger fetches ask less of the broker but do not
    # speed the pass: on 2026-12-07 (``ingest_timeline 1000000``, the three variants
    # alternating, two runs each) 2 MiB took 46.5 s twice, 4 MiB 46.8 and 45.2 s, 8 MiB
    # 46.5 and 45.7 s, the broker at 10–11%, 7% and 5% of a core while the workers ran,
    # the tree at 1.22, 1.23 and 1.28 GiB
    fetch_partition_bytes: int = Field(2 * 1024 * 1024, ge=64 * 1024)

    @model_validator(mode="after")
    def _complete(self) -> KafkaSettings:
        if self.sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(f"{self.security_protocol} needs sasl_username and sasl_password")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together (mutual TLS)")
        return self

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def updated(self, fields: dict[str, Any]) -> KafkaSettings:
        """These settings with ``fields`` set (validated; secrets named as in ``Settings``)."""
        kafka = KafkaSettings.model_validate({**self.model_dump(), **fields})
        for name in type(kafka).model_fields:
            secret = getattr(kafka, name)
            if isinstance(secret, Secret):
                secret.env_name = f"{ENV_PREFIX}KAFKA__{name}".upper()
        return kafka

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")


# a password in a libpq connection string: ``password=…``, or ``user:…@`` in a URL
_CATALOG_PASSWORD = re.compile(r"(^|\s)password\s*=|^postgres(ql)?://[^/@]*:[^/@]*@")


class WarehouseSettings(BaseModel):
    """The DuckLake lakehouse: its catalog (a SQLite file on this host, or a Postgres
    database that writers on many hosts share) and its Parquet data path (a local folder, or
    an S3-compatible object store)."""

    # "" = ``var/warehouse/catalog.sqlite``; or a Postgres database, as libpq key/value
    # pairs ("host=db.internal port=5432 dbname=finradar user=finradar") or a URL
    # ("postgresql://finradar@db.internal:5432/finradar"); its password goes apart
    catalog: str = ""
    catalog_password: Secret | None = None
    # "" = ``var/warehouse/data``; or a folder; or ``s3://bucket/prefix`` (with the s3_*
    # settings below for any S3-compatible store)
    data_path: str = ""
    s3_endpoint: str | None = None  # host:port of an S3-compatible store; None: AWS S3
    s3_region: str = "us-east-1"
    s3_url_style: Literal["vhost", "path"] = "vhost"
    s3_use_ssl: bool = True
    s3_key_id: str | None = None
    s3_secret: Secret | None = None
    # ``finradar infra up --postgres`` / ``--object-store``: local stand-ins for the above
    # (a Postgres cluster under var/postgres, moto's S3 server), on 127.0.0.1 only
    local_postgres_port: int = 55432
    local_object_store_port: int = 55433
    catalog_name: str = "lake"
    commit_retries: int = Field(12, ge=0)
    # a refresh still running after this many seconds is stopped and fails (nothing of it
    # is committed) instead of holding the refresh lock for ever
    refresh_timeout_s: float = Field(1800.0, gt=0)
    # a refresh of a warehouse whose raw tables hold fewer events plans its statements
    # without DuckDB's join ordering and statistics propagation (``warehouse.refresh``):
    # on so few rows they choose nothing that matters, and on DuckLake 1.5.5 they ask the
    # catalog again for the statistics of each column of every empty table
    refresh_planned_below: int = Field(100_000, ge=0)
    # each DuckDB session's memory: beyond it a session spills to ``var/duckdb-tmp`` (a
    # large landing would otherwise keep up to 80% of the host's memory)
    memory_limit: str = "1GB"
    # DuckDB threads of each warehouse session; 0: DuckDB's default, one per core. On a
    # small warehouse a session is mostly DuckLake's catalog lookups (one per column of an
    # empty table, uncached in DuckLake 1.5.5), and a second thread only adds scheduling:
    # a refresh of a near-empty warehouse took 5.5 s of CPU on one thread, 13.3 s on two
    threads: int = Field(0, ge=0)
    # DuckDB threads of an ingest's commit. The commit runs once the pass's workers have
    # stopped, with the other core idle; each thread that writes a table's Parquet holds a
    # row group of its own. A 1,000,000-event commit took 14.9 s on two threads, 19.6 s on
    # one, its process at 0.90 GiB against 0.82, under the workers' tree peak (1.42 GiB):
    # ``python -m tests.bench.ingest_timeline 1000000 --variant …COMMIT_THREADS=2``
    commit_threads: int = Field(2, ge=1)
    # finradar sql confines its process with Linux Landlock; without Landlock it refuses to
    # run unless this is set (its session is then closed by DuckDB's switches only)
    allow_unconfined_sql: bool = False

    @model_validator(mode="after")
    def _no_password_in_catalog(self) -> WarehouseSettings:
        """``catalog`` is shown in messages; its password goes in ``catalog_password``."""
        if _CATALOG_PASSWORD.search(self.catalog):
            raise ValueError(
                "warehouse.catalog holds a password: set warehouse.catalog_password "
                "(a secret, e.g. FINRADAR_WAREHOUSE__CATALOG_PASSWORD) instead"
            )
        return self

    @property
    def turn_wait_s(self) -> float:
        """How long a writer waits for its turn to commit: past the longest a refresh
        holds it (its bound, and the grace it has to stop once interrupted)."""
        return self.refresh_timeout_s + 60.0


class PrefectSettings(BaseModel):
    """Where Prefect keeps its state, and an optional server to use instead of starting one."""

    api_url: str | None = None
    server_host: str = "127.0.0.1"
    server_port: int = Field(4200, ge=1, le=65535)
    # the web UI of a Prefect server this project starts (``finradar serve`` prints its URL)
    ui: bool = True
    # schedules of the deployments `finradar serve` registers, in seconds
    ingest_every_s: int = Field(60, ge=1)
    refresh_every_s: int = Field(300, ge=1)
    report_every_s: int = Field(3600, ge=1)
    # transient failures (broker not ready, warehouse busy) are retried with backoff
    task_retries: int = Field(4, ge=0)
    retry_delay_s: float = Field(2.0, ge=0)
    # continuous mode: pause between ingest passes that found nothing new
    follow_poll_s: float = Field(0.5, ge=0)
    # follow merges the small Parquet files its passes write this often (DuckLake keeps
    # every snapshot readable: time travel is unaffected)
    follow_compact_every_s: float = Field(300.0, gt=0)


class BeamSettings(BaseModel):
    """The Beam runner and its extra pipeline options."""

    runner: str = "FnApiRunner"
    options: list[str] = Field(default_factory=list)
    # worker processes of the in-process FnApiRunner for a pass of at least
    # ``parallel_from`` messages (a smaller one runs in this process: starting workers
    # costs seconds); what they print goes to ``beam_worker_log`` (``pipelines.runners``)
    workers: int = Field(2, ge=1)
    parallel_from: int = Field(200_000, ge=0)
    # those worker processes start warm: one process imports what a worker runs while the
    # pass is planned and its pipeline built, then forks them (``pipelines.worker_server``)
    warm_workers: bool = True
    # how long a worker waits for that process before it starts the plain way instead
    warm_worker_wait_s: float = Field(60.0, gt=0)
    # what a runner's worker processes log (to ``beam_worker_log``, or for a portable
    # runner's workers to the terminal); a worker's failure reaches the pass with its
    # traceback either way (--verbose shows it)
    worker_log_level: str = "CRITICAL"
    # a pass on a portable runner (Prism, Flink, …) whose job has not ended after this long
    # is cancelled and fails (``pipelines.portable``): Beam's own bound on the job was its
    # requests' timeout, ``--job_server_timeout`` (300 s), which failed longer passes
    job_timeout_s: float = Field(4 * 3600.0, gt=0)


class IngestSettings(BaseModel):
    """The ingest pass: batch sizes and the key of the personal-data hash."""

    batch_records: int = Field(50_000, ge=1)
    # offsets per unit of reading a runner spreads over its workers (a partition's range is
    # cut into these)
    read_chunk: int = Field(100_000, ge=1)
    # a pass over a larger backlog commits in parts of about this many messages, each with
    # its offsets: what one pass holds stays bounded whatever the backlog. Each part is a
    # pipeline of its own (worker processes started, GX set up, Data Docs, a commit), so
    # fewer, larger parts catch up faster, for a commit's memory that grows slowly with its
    # size (README, "Ingest and the warehouse")
    commit_events: int = Field(2_000_000, ge=1)
    # processes validating a follow pass's event types at once (GX holds the interpreter)
    follow_validators: int = Field(2, ge=1)
    # a follow pass reads at most about this many messages (the next pass goes on at once):
    # a follow started on a backlog then ingests it in bounded passes, each one process's
    # pipeline and commit, instead of one pass that holds the whole backlog
    follow_pass_events: int = Field(500_000, ge=1)
    # ``finradar follow`` processes (on one host or many) that name the same group share
    # the topics' partitions through Kafka's consumer-group protocol (assignment only: the
    # offsets stay committed in the warehouse); None: a follow reads every partition
    follow_group: str | None = None
    # a group member's session: a member silent for this long (killed, its host gone)
    # loses its partitions to the others
    follow_group_session_s: float = Field(10.0, ge=1)
    # a group member's pass reads at most about this many messages: what it may have read
    # in vain when its partitions move to another member meanwhile
    follow_group_pass_events: int = Field(50_000, ge=1)
    # bytes of keys and values per batch, a worker's working memory. Values too large for the
    # contract, quarantined unread, are batched apart. A 1,000,000-event pass (``python -m
    # tests.bench.ingest_timeline 1000000 --variant FINRADAR_INGEST__BATCH_BYTES=…``, one
    # run, 2026-12-02): 6 MiB 75.7 s with the process tree at 1.45 GiB, 3 MiB 75.9 s at
    # 1.36 GiB; at 5,000,000 see ``kafka.fetch_partition_bytes``
    batch_bytes: int = Field(3 * 1024 * 1024, ge=1024)
    # GX validates the frames of many batches at once, when this many frame rows wait in a
    # worker (an event is a row; a survey response also one per answer and selected
    # option) and at the end of its share: a validation costs about 0.1–0.2 s per suite
    # whatever its size, and the frames, held compact (``pipelines.gx_frames``), 131 bytes
    # a row while they wait (``python -m tests.bench.profile_ingest_steps 100000`` prints
    # both). On 5,000,000 events (``python -m tests.bench.ingest_timeline 5000000
    # --variant FINRADAR_INGEST__GX_ROWS=…``, one run, 2026-12-02): 60,000 rows 365 s
    # with the process tree at 1.31 GiB, 120,000 346 s at 1.40 GiB, 180,000 341 s at
    # 1.47 GiB, too near the 1.5 GiB the pass keeps under
    gx_rows: int = Field(120_000, ge=1)
    # the validations the Data Docs index lists, the latest first (a pass stores one or more
    # per suite; ``dq.validation_runs`` keeps every one). GX reads each one it lists at
    # every build: listing all, a build took 0.39 s after the first of 120 small passes and
    # 2.41 s after the last, listing 30, 0.40 s and 0.61 s (six validations a pass, a
    # script of mine, 2026-12-06); about 3 ms a listed validation
    docs_validations: int = Field(100, ge=1)
    # ... or when the frames waiting in a worker hold this many bytes: a frame holds its
    # events' text, and events of long texts (a source's document, up to the contract's
    # megabyte each) would otherwise wait by the hundred thousand
    gx_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    # how long a one-shot pass (ingest, replay, backfill) waits for the warehouse's other
    # writer before it fails as busy (and is retried); follow lets it have the next turn
    writer_wait_s: float = Field(60.0, ge=0)
    # HMAC-SHA256 key for personal data (e-mail addresses, phone numbers). The default is
    # public (it is in this file): an ingest refuses it unless ``allow_default_pii_key``,
    # since the hash of a guessable address is only as private as the key.
    pii_hash_key: Secret = Field(default_factory=lambda: Secret(DEFAULT_PII_HASH_KEY))
    allow_default_pii_key: bool = False
    # Crash-test hook: SIGKILL the ingest process at this point (tests only; see
    # pipelines/failpoints.py). One of: gx_setup, staged, data_docs, in_transaction, committed.
    failpoint: str | None = None


# the logger of the alerts' log notifier (``flows.alerting``), which the CLI prints
ALERTS_LOGGER = "finradar.alerts"


class AlertSettings(BaseModel):
    """The alert rules, evaluated after each ingest and refresh (``flows.alerting``), and
    where a state change (ok → firing → resolved) is sent besides ``dq.alerts``. A rule fires
    once when its bound is crossed and resolves once when it holds again: nothing is sent
    while a state stays as it is."""

    # a failed or crashed ingest or refresh flow run fires; that flow's next good run resolves
    flow_failed: bool = True
    # quarantined ÷ consumed messages of a topic over the ingest batches that finished in the
    # last ``quarantine_window_s``; above ``quarantine_rate_max`` fires (1 turns it off)
    quarantine_rate_max: float = Field(0.05, ge=0, le=1)
    quarantine_window_s: float = Field(900.0, gt=0)
    # a window with fewer messages of the topic is not judged (a handful makes no rate)
    quarantine_min_messages: int = Field(100, ge=1)
    # every error-severity finding of the latest refresh fires once, and resolves once a
    # refresh no longer finds it
    error_findings: bool = True
    # age of a topic's newest landed event (its Kafka timestamp), per topic name, with a
    # default; 0 turns a topic off. A topic with no landed event is not judged
    freshness_sla_s: float = Field(86_400.0, ge=0)
    freshness_sla_by_topic: dict[str, float] = Field(default_factory=dict)
    # messages on a topic's partitions beyond the committed offsets (0 turns it off)
    lag_max_messages: int = Field(100_000, ge=0)
    # at most this many notifications per notifier and evaluation: further state changes
    # still go to dq.alerts, and each notifier gets one summary of them
    max_notifications: int = Field(20, ge=1)
    # a JSON POST per state change; None: no webhook. The URL of a chat webhook holds its
    # token, so it is a secret too (never logged)
    webhook_url: Secret | None = None
    # sent as ``Authorization: Bearer …`` when set
    webhook_token: Secret | None = None
    webhook_timeout_s: float = Field(5.0, gt=0)
    # a connection error, timeout, 429 or 5xx is tried again this many times, after
    # webhook_backoff_s, then twice that, … (jittered, at most 30 s)
    webhook_retries: int = Field(3, ge=0)
    webhook_backoff_s: float = Field(0.5, ge=0)
    # inside a Prefect flow run, each state change is also a Prefect event
    # (``finradar.alert.firing`` / ``.resolved``) that a Prefect automation can act on
    prefect_events: bool = True


class Settings(BaseSettings):
    """All configuration of finradar, typed and validated."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    home: Path = PROJECT_ROOT
    var_dir: Path | None = None
    cache_dir: Path | None = None
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    prefect: PrefectSettings = Field(default_factory=PrefectSettings)
    beam: BeamSettings = Field(default_factory=BeamSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @model_validator(mode="after")
    def _name_secrets(self) -> Settings:
        """Each secret knows the environment variable that sets it (see ``Secret``)."""
        for path, value in self.secrets():
            value.env_name = f"{ENV_PREFIX}{path}".upper()
        return self

    def secrets(self) -> Iterator[tuple[str, Secret]]:
        """Every secret that is set, with its path (``kafka__sasl_password``)."""
        for name in type(self).model_fields:
            section = getattr(self, name)
            if not isinstance(section, BaseModel):
                continue
            for field in type(section).model_fields:
                value = getattr(section, field)
                if isinstance(value, Secret):
                    yield f"{name}__{field}", value

    @property
    def uses_default_pii_key(self) -> bool:
        return self.ingest.pii_hash_key.get_secret_value() == DEFAULT_PII_HASH_KEY

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
            LocalBrokerClientSource(settings_cls),
        )

    # Derived locations: everything the platform writes lives under var/ (ignored by git).
    @property
    def var(self) -> Path:
        return (self.var_dir or self.home / "var").resolve()

    @property
    def cache(self) -> Path:
        return (self.cache_dir or self.home / ".cache").resolve()

    @property
    def web_assets(self) -> Path:
        """Local copies of the Data Docs' styling and scripts (``make install`` fetches them)."""
        return self.cache / "web-assets"

    @property
    def kafka_dir(self) -> Path:
        return self.var / "kafka"

    @property
    def warehouse_dir(self) -> Path:
        return self.var / "warehouse"

    @property
    def catalog_is_postgres(self) -> bool:
        """Whether the catalog is a Postgres database (``warehouse.catalog``), which writers
        on several hosts share, rather than this host's SQLite file."""
        return bool(self.warehouse.catalog)

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog's file (a Postgres catalog has none: ``catalog_is_postgres``)."""
        return self.warehouse_dir / "catalog.sqlite"

    @property
    def data_in_object_store(self) -> bool:
        return self.warehouse.data_path.startswith("s3://")

    @property
    def data_path(self) -> Path:
        """The local folder of the data files (an object store has none:
        ``data_in_object_store``; ``data_location`` names either)."""
        if self.data_in_object_store:
            raise FinradarError(f"the warehouse's data are in {self.warehouse.data_path}")
        configured = self.warehouse.data_path
        return Path(configured).resolve() if configured else self.warehouse_dir / "data"

    @property
    def data_location(self) -> str:
        """Where the data files are, as DuckDB reads it: a folder's absolute path, or an
        ``s3://bucket/prefix`` URL; no trailing slash."""
        if self.data_in_object_store:
            return self.warehouse.data_path.rstrip("/")
        return str(self.data_path)

    @property
    def warehouse_name(self) -> str:
        """The warehouse as messages name it: the SQLite file, or the Postgres database
        (no password: it is never in ``warehouse.catalog``)."""
        return self.warehouse.catalog if self.catalog_is_postgres else str(self.catalog_path)

    @property
    def staging_dir(self) -> Path:
        """Per-run Parquet files of an ingest before they are committed to the warehouse."""
        return self.var / "staging"

    @property
    def beam_worker_log(self) -> Path:
        """What a pass's Beam worker processes print (``pipelines.runners``)."""
        return self.var / "logs" / "beam-workers.log"

    @property
    def gx_dir(self) -> Path:
        return self.var / "gx"

    @property
    def reports_dir(self) -> Path:
        """The finradar report and the Great Expectations Data Docs, as static files."""
        return self.var / "reports"

    @property
    def prefect_home(self) -> Path:
        return self.var / "prefect"

    def prefect_env(self) -> dict[str, str]:
        """Environment for Prefect itself (it reads its own variables)."""
        env = {
            "PREFECT_HOME": str(self.prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "true" if self.prefect.ui else "false",
            # a first start migrates a new database: slower than Prefect's 20 s default
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        }
        if self.prefect.api_url:
            env["PREFECT_API_URL"] = self.prefect.api_url
        return env


def require_private_pii_key(settings: Settings) -> None:
    """Refuse to hash personal data with the public default key unless the settings allow
    it (``ingest.allow_default_pii_key``, for local trials and the demo)."""
    if settings.uses_default_pii_key and not settings.ingest.allow_default_pii_key:
        raise FinradarError(
            "ingest.pii_hash_key is the public default key, which would make the stored "
            "hashes of personal data reversible: set your own (FINRADAR_INGEST__PII_HASH_KEY), "
            "or set ingest.allow_default_pii_key = true for local trials"
        )


def allow_default_pii_key_here() -> Settings:
    """This process's settings with ``ingest.allow_default_pii_key`` on (the demo's local
    trial; the flows it runs read the same environment)."""
    os.environ[f"{ENV_PREFIX}INGEST__ALLOW_DEFAULT_PII_KEY"] = "true"
    get_settings.cache_clear()
    return get_settings()


def use_environment_here(env: Mapping[str, str]) -> Settings:
    """This process's settings with ``env`` (``FINRADAR_…`` variables) set in its
    environment, which the flows and worker processes it starts read as well."""
    os.environ.update(env)
    get_settings.cache_clear()
    return get_settings()


KAFKA_SECURITY_FIELDS = frozenset(
    name for name in KafkaSettings.model_fields if name.startswith(("security_", "sasl_", "ssl_"))
)


def local_broker_client(above: Mapping[str, Any], var: Path) -> dict[str, Any]:
    """The ``[kafka]`` settings ``finradar infra up --secure`` wrote under ``var`` for the
    local secured broker, if they apply under the kafka settings ``above`` (set by a higher
    source): all of them or none; only when ``above`` sets no security setting of its own
    and points at that broker (its host and port), never at another."""
    path = var / LOCAL_BROKER_CLIENT_FILE
    if not path.is_file() or KAFKA_SECURITY_FIELDS & set(above):
        return {}
    with path.open("rb") as fh:
        written = tomllib.load(fh)["kafka"]
    fields = KafkaSettings.model_fields
    wanted = [str(above.get(k, fields[k].default)) for k in ("host", "port")]
    if wanted != [str(written.get(k)) for k in ("host", "port")]:
        return {}
    return dict(written)


class LocalBrokerClientSource(PydanticBaseSettingsSource):
    """The client settings of the local secured broker (``local_broker_client``), under
    whatever the sources before it set."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # the whole file is read in __call__

    def __call__(self) -> dict[str, Any]:
        state = self.current_state
        home = Path(state.get("home") or PROJECT_ROOT)
        var = Path(state.get("var_dir") or home / "var")
        kafka = local_broker_client(state.get("kafka") or {}, var)
        return {"kafka": kafka} if kafka else {}


def _secrets_in(model: BaseModel) -> Iterator[Secret]:
    for field in type(model).model_fields:
        value = getattr(model, field)
        if isinstance(value, Secret):
            yield value
        elif isinstance(value, BaseModel):
            yield from _secrets_in(value)


@contextmanager
def secrets_in_environment(settings: BaseModel) -> Iterator[None]:
    """The secrets of ``settings`` (all of them, or a section such as ``kafka``) in this
    process's environment, under the names a pickled ``Secret`` is read from, while a
    pipeline or a pool of processes runs (its workers inherit them); restored after."""
    saved: dict[str, str | None] = {}
    for secret in _secrets_in(settings):
        if secret.env_name is None:  # a section built on its own, not from Settings
            continue
        saved[secret.env_name] = os.environ.get(secret.env_name)
        os.environ[secret.env_name] = secret.get_secret_value()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def replace_environment(env: Mapping[str, str]) -> None:
    """This process's environment replaced by ``env`` whole, its settings read again: a
    worker forked from the warm worker server (``pipelines.worker_server``) takes on the
    environment its runner gave the worker process it becomes."""
    os.environ.clear()
    os.environ.update(env)
    get_settings.cache_clear()


def environment_of(pid: int) -> dict[str, str]:
    """The environment process ``pid`` (this user's) was started with: the worker server
    (``pipelines.worker_server``) gives a worker the environment of the launcher whose
    place it takes."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (entry.decode(errors="surrogateescape").partition("=") for entry in entries if entry)
    return {name: value for name, _, value in pairs}


def child_env(**overrides: str) -> dict[str, str]:
    """The environment of a child process this project starts (a build tool, a worker
    pool): ours, with ``overrides``."""
    return {**os.environ, **overrides}


def prefect_server_env(settings: Settings) -> dict[str, str]:
    """The environment of a Prefect server process this project starts: ours, with
    Prefect's state under ``var/prefect`` and no API URL of its own to point at."""
    env = {**os.environ, **settings.prefect_env()}
    env.pop("PREFECT_API_URL", None)
    return env


def export_prefect_env(settings: Settings, api_url: str | None = None) -> None:
    """Point Prefect (which reads its own environment variables) at this project's state and
    at ``api_url`` (else the one in settings); call before Prefect is imported."""
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    env = settings.prefect_env()
    if api_url:
        env["PREFECT_API_URL"] = api_url
    os.environ.update(env)


def prefect_console_without_tracebacks() -> None:
    """Prefect's console handler, as Prefect reads it from its environment when it sets up
    its logging on import: its log lines without a failed run's traceback
    (``finradar.prefect_console``); call before Prefect is imported."""
    os.environ.setdefault(
        "PREFECT_LOGGING_HANDLERS_CONSOLE_CLASS", "finradar.prefect_console.OneLineConsoleHandler"
    )


def quiet_great_expectations() -> None:
    """GX reads its analytics switch from the environment; keep it off (no network)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def config_file_in_use() -> Path | None:
    path = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
    return path if path.is_file() else None


@cache
def get_settings() -> Settings:
    return load_settings()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from env and TOML; keyword overrides win (used by tests)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FinradarError(f"invalid setting {where}: {first['msg']}") from None
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        path = config_file_in_use() or Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
        raise FinradarError(f"cannot read the settings file {path}: {exc}") from None
