"""Fixtures for the fake GitHub's own tests: a started fake and a plain aiohttp caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from gh_jobs_async.testing import FakeGitHub


@dataclass
class Reply:
    """What a test needs from one HTTP answer, read fully before the response closed."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        import json

        return json.loads(self.body)


Call = Callable[..., Awaitable[Reply]]


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    """A fake with default settings, closed after the test."""
    async with FakeGitHub() as fake:
        yield fake


@pytest.fixture(name="session")
async def fixture_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(name="call")
def fixture_call(session: aiohttp.ClientSession) -> Call:
    """``await call(fake, path_or_url, token=True, method="GET", **kwargs) -> Reply``.

    Paths are relative to ``fake.api_url``; redirects are not followed unless asked.
    """

    async def call(
        fake: FakeGitHub,
        target: str,
        *,
        token: bool | str = True,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        allow_redirects: bool = False,
        **kwargs: Any,
    ) -> Reply:
        url = target if target.startswith("http") else fake.api_url + target
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {fake.token if token is True else token}"
        async with session.request(
            method, url, headers=sent, allow_redirects=allow_redirects, **kwargs
        ) as resp:
            return Reply(resp.status, resp.headers, await resp.read())

    return call
