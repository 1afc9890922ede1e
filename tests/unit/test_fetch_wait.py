"""The fetch-wait bench's larger socket reads give what kafka-python's own reads give: the
same bytes, and the same error once the peer has closed."""

from __future__ import annotations

import socket
from types import SimpleNamespace

from kafka.errors import KafkaConnectionError
from kafka.net import transport

from tests.bench.fetch_wait import socket_reads


def _received(data: bytes, close: bool) -> tuple[bytes, Exception | None]:
    """What the plain-TCP transport's ``_sock_recv`` returns with ``data`` waiting (and
    the peer gone, with ``close``)."""
    ours, peer = socket.socketpair()
    try:
        ours.setblocking(False)
        peer.sendall(data)
        if close:
            peer.close()
        return transport.KafkaTCPTransport._sock_recv(SimpleNamespace(_sock=ours))
    finally:
        ours.close()
        peer.close()


def test_larger_reads_take_what_waits_in_the_socket_whole():
    data = bytes(range(256)) * 300  # 76,800 bytes: many of kafka-python's 4 KiB reads
    own = _received(data, close=False)
    with socket_reads(1 << 20):
        larger = _received(data, close=False)
    assert own == (data, None)
    assert larger == own


def test_larger_reads_report_a_closed_peer_as_kafka_python_does():
    own_bytes, own_error = _received(b"last words", close=True)
    with socket_reads(1 << 20):
        larger_bytes, larger_error = _received(b"last words", close=True)
    assert own_bytes == larger_bytes == b"last words"
    assert isinstance(own_error, KafkaConnectionError)
    assert isinstance(larger_error, KafkaConnectionError)


def test_the_patch_ends_with_its_block():
    own = transport.KafkaTCPTransport._sock_recv
    with socket_reads(1 << 20):
        assert transport.KafkaTCPTransport._sock_recv is not own
    assert transport.KafkaTCPTransport._sock_recv is own
