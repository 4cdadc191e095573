"""Primary and secondary rate limits of the fake, and the counters that expose pacing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

Call = Callable[..., Awaitable[Any]]  # the `call` fixture (see conftest.py)
SECONDARY = "You have exceeded a secondary rate limit."


async def test_primary_budget_counts_every_request(call: Call) -> None:
    """Each request, even a 404, spends a point; at zero the answer is GitHub's 403."""
    async with FakeGitHub(rate_limit=3) as fake:
        remaining = [(await call(fake, "/x")).headers["x-ratelimit-remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        refused = await call(fake, "/x")
        assert refused.status == 403
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.headers["x-ratelimit-used"] == "3"
        assert json.loads(refused.body) == {
            "message": "API rate limit exceeded for user ID 1.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            "status": "403",
        }
        assert fake.stats.primary_violations == 1


async def test_exhausted_budget_refills_at_reset(fake: FakeGitHub, call: Call) -> None:
    """exhaust_primary empties the budget until reset_in seconds later, then it refills."""
    fake.exhaust_primary(reset_in=0.4)
    refused = await call(fake, "/x")
    assert refused.status == 403
    assert int(refused.headers["x-ratelimit-reset"]) >= int(time.time())
    await asyncio.sleep(0.6)
    again = await call(fake, "/x")
    assert again.status == 404
    assert again.headers["x-ratelimit-remaining"] == "4999"
    assert fake.stats.primary_violations == 1


async def test_no_primary_limit_means_no_headers(call: Call) -> None:
    """rate_limit=None sends no x-ratelimit-* headers and never refuses."""
    async with FakeGitHub(rate_limit=None) as fake:
        reply = await call(fake, "/x")
        assert not [name for name in reply.headers if name.lower().startswith("x-ratelimit")]


async def test_in_flight_limit(call: Call) -> None:
    """Requests beyond max_in_flight get the secondary 403 with retry-after and are counted."""
    async with FakeGitHub(max_in_flight=2, api_latency=0.3, secondary_retry_after=7) as fake:
        replies = await asyncio.gather(*(call(fake, "/x") for _ in range(5)))
        refused = [r for r in replies if r.status == 403]
        assert sorted(r.status for r in replies) == [403, 403, 403, 404, 404]
        for reply in refused:
            assert reply.headers["retry-after"] == "7"
            body = json.loads(reply.body)
            assert body["message"].startswith(SECONDARY)
            assert reply.headers["x-github-request-id"] in body["message"]
            assert body["documentation_url"].endswith("#about-secondary-rate-limits")
        stats = fake.stats
        assert stats.secondary_violations == stats.in_flight_violations == 3
        assert stats.window_violations == 0
        assert stats.peak_api_in_flight == 5
        assert stats.requests_during_penalty == 0  # the burst was on the wire already
        assert stats.api_in_flight == 0
        await asyncio.sleep(0.1)  # past penalty_grace: the client has seen the refusals
        await call(fake, "/x")
        assert stats.requests_during_penalty == 1


async def test_secondary_status_429_without_retry_after(call: Call) -> None:
    """secondary_status=429 and secondary_retry_after=None give a bare 429."""
    async with FakeGitHub(
        max_in_flight=0, secondary_status=429, secondary_retry_after=None
    ) as fake:
        reply = await call(fake, "/x")
        assert reply.status == 429
        assert "retry-after" not in reply.headers
        assert json.loads(reply.body)["status"] == "429"
        assert json.loads(reply.body)["message"].startswith(SECONDARY)
        await asyncio.sleep(0.1)
        await call(fake, "/x")
        assert fake.stats.requests_during_penalty == 1  # 60 s penalty without a header


async def test_per_window_limit(call: Call) -> None:
    """The rolling window holds max_per_window accepted requests; refusals do not count."""
    async with FakeGitHub(max_per_window=3, secondary_window=0.5, secondary_retry_after=0) as fake:
        statuses = [(await call(fake, "/x")).status for _ in range(5)]
        assert statuses == [404, 404, 404, 403, 403]
        await asyncio.sleep(0.7)
        assert (await call(fake, "/x")).status == 404
        stats = fake.stats
        assert stats.window_violations == stats.secondary_violations == 2
        assert stats.requests_during_penalty == 0
        assert stats.peak_api_per_window >= 5


async def test_requests_during_penalty_are_counted(call: Call) -> None:
    """Requests sent after a refusal but before retry-after passed are counted; reset clears."""
    async with FakeGitHub(max_per_window=1, secondary_retry_after=1) as fake:
        assert (await call(fake, "/x")).status == 404
        assert (await call(fake, "/x")).status == 403
        await asyncio.sleep(0.1)
        assert (await call(fake, "/x")).status == 403
        assert fake.stats.requests_during_penalty == 1
        await asyncio.sleep(1.1)
        assert (await call(fake, "/x")).status == 403  # window still full: a new penalty
        assert fake.stats.requests_during_penalty == 1
        fake.reset_limits()
        assert (await call(fake, "/x")).status == 404
        assert fake.stats.window_violations == 3


async def test_pacing_counters_and_reset_stats(fake: FakeGitHub, call: Call) -> None:
    """api_request_times, requests_log and peak_api_per_window record pacing; reset clears."""
    for _ in range(4):
        await call(fake, "/x")
    stats = fake.stats
    assert stats.peak_api_per_window == 4
    assert len(stats.api_request_times) == 4
    assert list(stats.api_request_times) == sorted(stats.api_request_times)
    record = stats.requests_log[0]
    assert (record.origin, record.method, record.path_qs, record.status) == (
        "api",
        "GET",
        "/x",
        404,
    )
    snapshot = stats.snapshot()
    fake.reset_stats()
    assert fake.stats.requests == 0
    assert fake.stats.peak_api_per_window == 0
    assert snapshot.requests == 4
    await call(fake, "/x")
    assert fake.stats.peak_api_per_window == 1
    assert snapshot.requests == 4
