"""Why a Kafka client could not connect, in one line.

kafka-python reports a broker it cannot bootstrap from as a timeout, whatever the cause: no
broker, a certificate it does not trust, TLS spoken to a plaintext client, a refused login.
``connection_error`` asks the broker again step by step (TCP, then TLS as the settings say,
then a Kafka request over it) and names the first step that fails. A broker that is not
there is a ``TransientError`` (it may come back); a refusal is a ``FinradarError`` (the
same settings will be refused again).
"""

from __future__ import annotations

import socket
import ssl
import struct

from finradar.errors import FinradarError, TransientError
from finradar.settings import KafkaSettings

PROBE_TIMEOUT_S = 5.0
# ApiVersions v0, correlation id 1, client id "finradar-probe": any broker answers it
_CLIENT_ID = b"finradar-probe"
_API_VERSIONS = struct.pack(">hhih", 18, 0, 1, len(_CLIENT_ID)) + _CLIENT_ID
_API_VERSIONS = struct.pack(">i", len(_API_VERSIONS)) + _API_VERSIONS


def connection_error(kafka: KafkaSettings, cause: BaseException) -> FinradarError:
    """The error to raise for a client of ``kafka`` that failed with ``cause``."""
    where = f"Kafka at {kafka.bootstrap}"
    host, _, port = kafka.bootstrap.rpartition(":")
    try:
        raw = socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S)
    except OSError:
        return TransientError(f"no {where} (start one with 'finradar infra up')")
    with raw:
        if kafka.tls:
            return _tls_error(kafka, raw, host, where) or _login_error(kafka, where, cause)
        if _speaks_tls(raw, host):
            return FinradarError(
                f"{where} expects TLS, but kafka.security_protocol is "
                f"{kafka.security_protocol} (set SSL or SASL_SSL, and kafka.ssl_cafile)"
            )
    return _login_error(kafka, where, cause)


def _tls_error(
    kafka: KafkaSettings, raw: socket.socket, host: str, where: str
) -> FinradarError | None:
    context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
    context.check_hostname = kafka.ssl_check_hostname
    if kafka.ssl_certfile and kafka.ssl_keyfile:
        password = kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None
        try:
            context.load_cert_chain(kafka.ssl_certfile, kafka.ssl_keyfile, password)
        except (OSError, ssl.SSLError) as exc:
            return FinradarError(
                f"cannot use the client certificate kafka.ssl_certfile / ssl_keyfile: {exc}"
            )
    try:
        with context.wrap_socket(raw, server_hostname=host.strip("[]")) as tls:
            tls.settimeout(PROBE_TIMEOUT_S)
            tls.sendall(_API_VERSIONS)
            if not tls.recv(4):
                return FinradarError(f"{where} closed the TLS connection: {_which_listener(kafka)}")
    except ssl.SSLCertVerificationError as exc:
        trusted = kafka.ssl_cafile or "the system's CAs"
        return FinradarError(
            f"{where} presented a certificate not trusted by {trusted} "
            f"(kafka.ssl_cafile): {exc.verify_message}"
        )
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        # Java brokers answer a missing or unknown client certificate with either alert
        if any(alert in reason.upper() for alert in ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE")):
            if kafka.ssl_certfile is None:
                return FinradarError(
                    f"{where} requires a client certificate (mutual TLS): set "
                    "kafka.ssl_certfile and kafka.ssl_keyfile"
                )
            return FinradarError(
                f"{where} refused the client certificate {kafka.ssl_certfile} "
                f"(kafka.ssl_certfile): {reason}"
            )
        return FinradarError(f"TLS with {where} failed: {reason}")
    except OSError as exc:  # a timeout, a reset: a broker still starting, a network fault
        return TransientError(f"TLS with {where} failed: {exc}")
    return None


def _which_listener(kafka: KafkaSettings) -> str:
    if kafka.sasl:
        return "is it a listener for SASL_SSL?"
    return "is it a listener for SSL (set kafka.security_protocol to match it)?"


def _speaks_tls(raw: socket.socket, host: str) -> bool:
    """Whether the broker completes a TLS handshake (any certificate accepted: this only
    asks what it speaks)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with context.wrap_socket(raw, server_hostname=host.strip("[]")):
            return True
    except (ssl.SSLError, OSError):
        return False


def _login_error(kafka: KafkaSettings, where: str, cause: BaseException) -> FinradarError:
    if kafka.sasl:
        return FinradarError(
            f"{where} refused the {kafka.sasl_mechanism} login of user "
            f"{kafka.sasl_username!r}: check kafka.sasl_username and kafka.sasl_password"
        )
    # it answers as the settings say, yet the client gave up: perhaps it is still starting
    return TransientError(f"cannot use {where}: {type(cause).__name__}: {cause}")
