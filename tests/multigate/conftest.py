"""Fixtures for the multi-gate tests: a proxy in front of PostgreSQL."""

from __future__ import annotations

import pytest
from gate_helpers import pg_port


@pytest.fixture
def proxy(pg_url):
    """A TcpProxy in front of the test's PostgreSQL server (stopped at the end)."""
    from tcp_proxy import TcpProxy

    p = TcpProxy(pg_port(pg_url)).start()
    yield p
    p.stop()
