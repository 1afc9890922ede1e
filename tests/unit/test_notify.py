"""The webhook notifier against a local HTTP receiver: retried with backoff on transient
failures only, and its URL and token never in a log line or an error message."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from infra.notify import NotifyError, WebhookNotifier, backoff_delay

PATH_TOKEN = "/hooks/services/T00-secret-path-5e2b"
BEARER = "bearer-secret-9f3a"
MESSAGE = {"rule": "freshness", "subject": "fi.x.v1", "state": "firing", "text": "stale"}


class Receiver:
    """Answers each POST with the next status of ``statuses`` (then 200), keeping them."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(body),
                    }
                )
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{PATH_TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _notifier(url: str, retries: int = 3, sleeps: list[float] | None = None) -> WebhookNotifier:
    return WebhookNotifier(
        SecretStr(url),
        token=SecretStr(BEARER),
        timeout_s=2.0,
        retries=retries,
        backoff_s=0.01,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


def test_transient_failures_are_retried_with_growing_backoff(receiver: Receiver) -> None:
    receiver.statuses = [503, 500, 429]
    sleeps: list[float] = []
    _notifier(receiver.url, retries=3, sleeps=sleeps).send(MESSAGE)
    assert len(receiver.requests) == 4  # three failures, then delivered
    assert all(r["body"] == MESSAGE for r in receiver.requests)
    assert all(r["path"] == PATH_TOKEN for r in receiver.requests)
    assert receiver.requests[0]["headers"]["authorization"] == f"Bearer {BEARER}"
    assert len(sleeps) == 3
    # jitter is ±50%: each bound of attempt n is below the next one's
    assert sleeps[0] <= 0.015 and 0.01 <= sleeps[1] <= 0.03 and 0.02 <= sleeps[2] <= 0.06


def test_gives_up_after_its_retries(receiver: Receiver) -> None:
    receiver.statuses = [503] * 10
    with pytest.raises(NotifyError, match=r"failed after 3 attempts \(HTTP 503\)"):
        _notifier(receiver.url, retries=2).send(MESSAGE)
    assert len(receiver.requests) == 3


def test_a_refusal_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [400]
    with pytest.raises(NotifyError, match=r"refused the alert \(HTTP 400\)"):
        _notifier(receiver.url).send(MESSAGE)
    assert len(receiver.requests) == 1


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    assert backoff_delay(0, 0.01, "2") == 2.0
    assert backoff_delay(0, 0.01, "3600") == 30.0
    assert backoff_delay(0, 0.01, "Wed, 21 Oct 2015 07:28:00 GMT") <= 0.015


def test_url_and_token_never_reach_the_logs_or_errors(
    receiver: Receiver, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs each request's URL at INFO
    receiver.statuses = [503, 503]
    _notifier(receiver.url).send(MESSAGE)
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH_TOKEN}"
    with pytest.raises(NotifyError) as refused:
        _notifier(closed, retries=1).send(MESSAGE)
    assert "ConnectError" in str(refused.value)
    out = capsys.readouterr()
    seen = caplog.text + out.out + out.err + str(refused.value)
    assert "HTTP Request: POST <webhook>" in caplog.text  # httpx did log, redacted
    for secret in ("secret-path", BEARER, receiver.url, closed):
        assert secret not in seen
