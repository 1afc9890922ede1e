"""Notifiers of alert state changes: a webhook (a JSON POST, retried with backoff) and the log.

A notifier takes one message (a JSON object: what ``warehouse.alerts`` says about a state
change) and either delivers it or raises ``NotifyError`` with one line saying why. The
webhook's URL and token are secrets: they appear in no log line and no error message (httpx
logs every request's URL, so its records are redacted while a webhook is in use).

Retries: neither tenacity nor stamina is in the lock, and httpx's own transport retries only
connection errors, so the webhook retries here: a connection error, a timeout, HTTP 408,
425, 429 or 5xx is tried again after a jittered exponential backoff (``Retry-After`` in
seconds is honoured, up to ``MAX_DELAY_S``); any other status is a refusal, not retried.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from finradar.errors import FinradarError

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_DELAY_S = 30.0
REDACTED = "<webhook>"


class NotifyError(FinradarError):
    """A notifier could not deliver a message (the reason, without any secret)."""


class Notifier(Protocol):
    """Delivers one alert message, or raises ``NotifyError``."""

    name: str

    def send(self, message: Mapping[str, Any]) -> None: ...


class LogNotifier:
    """Writes each message's ``text`` to a logger: a firing alert as a warning, the rest as
    information."""

    name = "log"

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        self.logger = logger

    def send(self, message: Mapping[str, Any]) -> None:
        """Log one message (one line)."""
        level = logging.WARNING if message.get("state") == "firing" else logging.INFO
        self.logger.log(level, str(message.get("text", message)))


class _Redact(logging.Filter):
    """Replaces the secrets it holds in the records of a logger (httpx logs request URLs)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if any(s in text for s in self.secrets):
                record.msg, record.args = redact(text, self.secrets), ()
        return True


_redact = _Redact()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_redact)


def redact(text: str, secrets: set[str]) -> str:
    """``text`` with every one of ``secrets`` replaced (the longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def backoff_delay(attempt: int, base_s: float, retry_after: str | None = None) -> float:
    """Seconds to wait before retry number ``attempt + 1``: ``base_s`` doubled per attempt,
    jittered by ±50%, at most ``MAX_DELAY_S``; a larger ``Retry-After`` (seconds) wins."""
    delay = min(MAX_DELAY_S, base_s * 2**attempt) * random.uniform(0.5, 1.5)
    # a Retry-After that is an HTTP date is left to the backoff
    if retry_after is not None and retry_after.strip().replace(".", "", 1).isdigit():
        delay = max(delay, min(MAX_DELAY_S, float(retry_after)))
    return delay


class WebhookNotifier:
    """POSTs each message as JSON to a URL kept secret, with an optional bearer token."""

    name = "webhook"

    def __init__(
        self,
        url: SecretStr,
        *,
        token: SecretStr | None = None,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self._token = token
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._secrets = {url.get_secret_value()} | ({token.get_secret_value()} if token else set())
        self._secrets.discard("")

    def send(self, message: Mapping[str, Any]) -> None:
        """POST ``message``; a 2xx answer delivers it. Transient failures are tried again
        ``retries`` times with backoff; then, or on a refusal, ``NotifyError``."""
        body = json.dumps(message, ensure_ascii=False, default=str).encode()
        headers = {"content-type": "application/json", "user-agent": "finradar-alerts"}
        if self._token is not None:
            headers["authorization"] = f"Bearer {self._token.get_secret_value()}"
        _redact.secrets |= self._secrets
        reason = "not sent"
        try:
            with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
                for attempt in range(self.retries + 1):
                    retry_after = None
                    try:
                        response = client.post(
                            self._url.get_secret_value(), content=body, headers=headers
                        )
                    except httpx.TransportError as exc:
                        reason = f"{type(exc).__name__}: {exc}"
                    else:
                        if response.is_success:
                            return
                        reason = f"HTTP {response.status_code}"
                        if response.status_code not in RETRYABLE_STATUS:
                            raise NotifyError(f"the webhook refused the alert ({reason})")
                        retry_after = response.headers.get("retry-after")
                    if attempt < self.retries:
                        self._sleep(backoff_delay(attempt, self.backoff_s, retry_after))
        except httpx.InvalidURL:
            raise NotifyError("the webhook URL is not a valid URL") from None
        raise NotifyError(
            f"the webhook failed after {self.retries + 1} attempts "
            f"({redact(reason, self._secrets)})"
        )
