"""Fixtures of the Redis tests: one real redis-server per session, a clean database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from redis_server import PROTECTED_PASSWORD, RedisServer, require_redis_server


@pytest.fixture(name="redis_server", scope="session")
def fixture_redis_server() -> Iterator[RedisServer]:
    """A redis-server on a unix socket, started once per session (skips without the binary)."""
    server = RedisServer(require_redis_server())
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(name="redis_url")
async def fixture_redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, with an empty database."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    return redis_server.url


@pytest.fixture(name="protected_redis", scope="session")
def fixture_protected_redis() -> Iterator[RedisServer]:
    """A second redis-server that requires PROTECTED_PASSWORD (``requirepass``)."""
    server = RedisServer(require_redis_server(), password=PROTECTED_PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.close()
