"""Helpers shared by the integration test modules (not collected: no ``test_`` prefix)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gh_jobs_async import Client
from gh_jobs_async.testing import FakeConfig, FakeGitHub


async def quick_sleep(seconds: float) -> None:
    """Backoff without the wait: retries are what is tested, not their timing."""
    await asyncio.sleep(min(seconds, 0.01))


@contextlib.asynccontextmanager
async def serve(
    config: FakeConfig | None = None, *, token: str | None = None, **options: Any
) -> AsyncIterator[tuple[FakeGitHub, Client]]:
    """A started fake (accepting ``token`` if given) and a client pointed at it.

    The client backs off instantly unless ``sleep`` is given; other ``options``
    go to :class:`Client`.
    """
    options.setdefault("sleep", quick_sleep)
    overrides = {} if token is None else {"token": token}
    async with (
        FakeGitHub(config or FakeConfig(), **overrides) as fake,
        Client(fake.token, base_url=fake.api_url, **options) as client,
    ):
        yield fake, client
