"""The local broker secured: a throwaway CA, TLS everywhere, SCRAM users, client settings.

``finradar infra up --secure`` calls ``secure_material`` once per broker storage. It writes
under ``var/kafka/secure/`` (files readable by their owner only):

* ``ca.pem``: a CA made for this broker alone (its key is deleted once the broker's and the
  client's certificates are signed, so nobody can mint another certificate it trusts);
* ``broker.p12``: the broker's key and certificate (for the host it listens on), used on
  every listener: SASL_SSL for clients, mutual TLS for clients with a certificate and
  between the broker and its controller;
* ``client.pem`` / ``client.key``: a client certificate for the mutual-TLS listener;
* ``client.toml``: the ``[kafka]`` settings of the project's clients (SASL_SSL with
  SCRAM-SHA-512, the CA): ``finradar.settings`` reads it under the user's own settings;
* ``client-mtls.toml``: the same for mutual TLS, to use with ``FINRADAR_CONFIG``;
* ``server.secrets``: the passwords the broker's configuration needs;
* ``compose.env``, ``compose-client.properties`` and ``compose-scram.properties``: for the
  Docker broker of ``infra/compose.secure.yaml`` (the keystore's password, the mutual-TLS
  client properties of Kafka's tools inside the compose network, the SCRAM user's
  credentials), written by ``finradar infra secure-files`` to a folder of their own
  (``compose_folder``), never read by the local broker or its clients.

The storage tool gets the SCRAM password in a Java argument file (mode 600, removed after),
never on a command line another local user could read.

The SCRAM user is created by Kafka's own storage tool (``--add-scram``) when the storage is
formatted. Certificates come from ``openssl`` (Debian's).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from finradar.errors import FinradarError
from finradar.settings import LOCAL_BROKER_CLIENT_FILE, Settings

CLIENT_USER = "finradar"
SCRAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
CERT_DAYS = 825
KEY = "rsa:2048"


@dataclass(frozen=True)
class SecureMaterial:
    """Where a secured broker's files are, and the passwords its configuration needs."""

    folder: Path
    keystore_password: str
    client_password: str

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.folder / "broker.p12"

    def scram_arguments(self) -> list[str]:
        """The storage tool's ``--add-scram`` arguments creating the client's user."""
        args = []
        for mechanism in SCRAM_MECHANISMS:
            user = f"name={CLIENT_USER},password={self.client_password}"
            args += ["--add-scram", f"{mechanism}=[{user}]"]
        return args


# written into the broker's data folder once its storage was formatted with the SCRAM user:
# the storage, not the presence of certificates, says whether the broker is secured
SECURED_MARKER = "finradar-secured"


def secure_folder(settings: Settings) -> Path:
    return settings.var / LOCAL_BROKER_CLIENT_FILE.parent


def compose_folder(settings: Settings) -> Path:
    """The Docker broker's material (``infra/compose.secure.yaml`` mounts it)."""
    return settings.kafka_dir / "compose-secure"


def is_secured(settings: Settings) -> bool:
    """Whether the local broker's storage was made secure (``infra up --secure``)."""
    marker = settings.kafka_dir / "data" / SECURED_MARKER
    return marker.is_file() and (secure_folder(settings) / "server.secrets").is_file()


def load_material(folder: Path) -> SecureMaterial:
    values = json.loads((folder / "server.secrets").read_text("utf-8"))
    return SecureMaterial(folder, values["keystore_password"], values["client_password"])


def secure_material(settings: Settings, folder: Path | None = None) -> SecureMaterial:
    """The secured broker's files in ``folder`` (default: the local broker's), made now if
    they are not there yet (see the module)."""
    folder = folder or secure_folder(settings)
    if (folder / "server.secrets").is_file():
        return load_material(folder)
    if shutil.which("openssl") is None:
        raise FinradarError("openssl is not installed; 'infra up --secure' needs it (Debian)")
    shutil.rmtree(folder, ignore_errors=True)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, mode=0o700)
    material = SecureMaterial(folder, secrets.token_urlsafe(24), secrets.token_urlsafe(24))
    _certificates(partial, settings.kafka.host, material.keystore_password)
    write_private(partial / "client.toml", _client_toml(material, settings, mtls=False))
    write_private(partial / "client-mtls.toml", _client_toml(material, settings, mtls=True))
    if folder == compose_folder(settings):  # the Docker broker's own files, there only
        write_private(partial / "compose.env", _compose_env(material))
        write_private(partial / "compose-client.properties", _COMPOSE_CLIENT)
        write_private(partial / "compose-scram.properties", _compose_scram(material))
    # last: its presence says the material is complete
    write_private(
        partial / "server.secrets",
        json.dumps(
            {
                "keystore_password": material.keystore_password,
                "client_password": material.client_password,
            }
        ),
    )
    partial.rename(folder)
    return material


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by its owner only (from the start:
    never a moment with wider permissions)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _subject_alt_name(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"DNS:{host},DNS:localhost,DNS:kafka,IP:127.0.0.1"
    # DNS:kafka: the broker's name inside infra/compose.secure.yaml's network
    return f"IP:{host},DNS:localhost,DNS:kafka"


def _openssl(folder: Path, *args: str) -> None:
    proc = subprocess.run(
        ["openssl", *args], cwd=folder, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FinradarError(f"openssl {args[0]} failed: {tail[0]}")


def _certificates(folder: Path, host: str, keystore_password: str) -> None:
    """The CA, the broker's keystore and the client's certificate, in ``folder``."""
    days = str(CERT_DAYS)
    _openssl(
        folder, "req", "-x509", "-newkey", KEY, "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", days, "-subj", "/CN=finradar local broker CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    (folder / "broker.ext").write_text(
        f"subjectAltName={_subject_alt_name(host)}\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n",
        encoding="utf-8",
    )
    (folder / "client.ext").write_text(
        "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
        encoding="utf-8",
    )
    for name, subject in (("broker", "/CN=finradar-broker"), ("client", "/CN=finradar-client")):
        _openssl(
            folder, "req", "-newkey", KEY, "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", subject,
        )  # fmt: skip
        _openssl(
            folder, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", days,
            "-extfile", f"{name}.ext",
        )  # fmt: skip
    _pkcs12(folder, keystore_password)
    leftovers = ("ca.key", "ca.srl", "broker.key", "broker.pem", "broker.csr", "client.csr")
    for leftover in (*leftovers, "broker.ext", "client.ext"):
        (folder / leftover).unlink(missing_ok=True)
    for path in folder.iterdir():
        path.chmod(0o600)


def _pkcs12(folder: Path, password: str) -> None:
    # the password reaches openssl on a pipe, not on its command line
    proc = subprocess.run(
        [
            "openssl", "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key",
            "-certfile", "ca.pem", "-name", "broker", "-out", "broker.p12", "-passout", "stdin",
        ],
        cwd=folder, input=password + "\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise FinradarError(f"openssl pkcs12 failed: {proc.stderr.strip()}")


_COMPOSE_CLIENT = """\
security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location=/secure/ca.pem
ssl.keystore.type=PEM
ssl.keystore.certificate.chain=/secure/client.pem
ssl.keystore.key=/secure/client.key
"""


def _compose_env(material: SecureMaterial) -> str:
    """The Docker broker's secrets, for ``env_file`` in ``infra/compose.secure.yaml``."""
    return (
        f"KAFKA_SSL_KEYSTORE_PASSWORD={material.keystore_password}\n"
        f"KAFKA_SSL_KEY_PASSWORD={material.keystore_password}\n"
    )


def _compose_scram(material: SecureMaterial) -> str:
    """``kafka-configs --add-config-file``: the SCRAM user's credentials, from a file."""
    password = material.client_password
    return ",".join(f"{m}=[password={password}]" for m in SCRAM_MECHANISMS) + "\n"


def storage_arguments_file(material: SecureMaterial, arguments: list[str]) -> Path:
    """A Java argument file (``java @file``, mode 600) holding ``arguments``: the storage
    tool's, with the SCRAM password, off the command line."""
    path = material.folder / "storage-tool.args"
    lines = ['"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in arguments]
    write_private(path, "\n".join(lines) + "\n")
    return path


def _client_toml(material: SecureMaterial, settings: Settings, mtls: bool) -> str:
    folder = material.folder
    if mtls:
        kafka = {
            "host": settings.kafka.host,
            "port": settings.kafka.mtls_port,
            "security_protocol": "SSL",
            "ssl_cafile": str(folder / "ca.pem"),
            "ssl_certfile": str(folder / "client.pem"),
            "ssl_keyfile": str(folder / "client.key"),
        }
    else:
        kafka = {
            # the broker these settings are for: they apply to no other (``finradar.settings``)
            "host": settings.kafka.host,
            "port": settings.kafka.port,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": SCRAM_MECHANISMS[0],
            "sasl_username": CLIENT_USER,
            "sasl_password": material.client_password,
            "ssl_cafile": str(folder / "ca.pem"),
        }
    lines = ["# written by 'finradar infra up --secure' for the local secured broker", "[kafka]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in kafka.items()]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # JSON strings are TOML basic strings
    return text
