"""The session layer and get_job over real loopback HTTP against gh_jobs_async.testing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from gh_jobs_async import (
    Client,
    ClientClosedError,
    Job,
    JobStatus,
    NotFoundError,
    PrimaryRateLimitError,
    RequestTimeoutError,
    ServerError,
    UnauthorizedError,
)
from gh_jobs_async.testing import FIRST_JOB_ID, FakeConfig, FakeGitHub, Fault

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock instantly and is recorded."""

    def __init__(self, on_sleep: Callable[[], None] | None = None) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep  # e.g. let the fake server's clock "pass" too

    def clock(self) -> float:
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += max(seconds, 0.0)
        if self.on_sleep is not None:
            self.on_sleep()
        await asyncio.sleep(0)


class RecordingSleep:
    """A real sleep that records what it was asked to wait."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(seconds)


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as fake:
        fake.add_run(OWNER, REPO, jobs=40)
        yield fake


def first_job_id(fake: FakeGitHub) -> int:
    """The first job of the fixture's run."""
    return FIRST_JOB_ID


async def test_get_job_returns_the_served_job(fake: FakeGitHub) -> None:
    """get_job decodes exactly the JSON the server sent."""
    job_id = first_job_id(fake)
    async with Client(fake.token, base_url=fake.api_url) as client:
        job = await client.get_job(OWNER, REPO, job_id)
    assert isinstance(job, Job)
    assert job.to_dict() == fake.job(job_id)
    assert job.created_at.tzinfo is not None
    assert client.rate_limit is not None
    assert client.rate_limit.limit == 5000


async def test_get_job_on_enterprise_server_base() -> None:
    """A GHES root ending in /api/v3 is honoured for every request."""
    async with FakeGitHub(ghes=True) as fake:
        run = fake.add_run(OWNER, REPO, jobs=3)
        assert fake.api_url.endswith("/api/v3")
        async with Client(fake.token, base_url=fake.api_url + "/") as client:
            job = await client.get_job(OWNER, REPO, run.job_ids[0])
        assert job.id == run.job_ids[0]


async def test_wrong_token_raises_unauthorized_without_the_token(fake: FakeGitHub) -> None:
    """401 maps to UnauthorizedError carrying request id, and no trace of the token."""
    secret = "ghp_wrongWRONGwrong0123456789abcdef0000"
    async with Client(secret, base_url=fake.api_url) as client:
        with pytest.raises(UnauthorizedError) as caught:
            await client.get_job(OWNER, REPO, first_job_id(fake))
    error = caught.value
    assert error.status == 401
    assert error.request_id
    assert error.message == "Bad credentials"
    for text in (str(error), repr(error), repr(error.__dict__), repr(client)):
        assert secret not in text


async def test_unknown_job_raises_not_found(fake: FakeGitHub) -> None:
    """404 maps to NotFoundError with GitHub's message and documentation URL."""
    async with Client(fake.token, base_url=fake.api_url) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.get_job(OWNER, REPO, 1)
    assert caught.value.status == 404
    assert caught.value.documentation_url
    assert "/actions/jobs/1" in caught.value.url


async def test_primary_exhaustion_waits_until_reset(fake: FakeGitHub) -> None:
    """A spent primary budget makes the client wait until the reset, then succeed."""
    fake.exhaust_primary(reset_in=200)
    fake_time = FakeTime(on_sleep=fake.reset_limits)  # the server's hour passes too
    async with Client(
        fake.token, base_url=fake.api_url, sleep=fake_time.sleep, clock=fake_time.clock
    ) as client:
        job = await client.get_job(OWNER, REPO, first_job_id(fake))
    assert job.id == first_job_id(fake)
    assert len(fake_time.sleeps) == 1
    assert 195 <= fake_time.sleeps[0] <= 205
    assert fake.stats.primary_violations == 1  # only the request that found out


async def test_remaining_zero_blocks_before_sending(fake: FakeGitHub) -> None:
    """After an answer says remaining is 0, the next request waits instead of being sent."""
    fake.exhaust_primary(reset_in=200, remaining=1)
    fake_time = FakeTime(on_sleep=fake.reset_limits)
    async with Client(
        fake.token, base_url=fake.api_url, sleep=fake_time.sleep, clock=fake_time.clock
    ) as client:
        await client.get_job(OWNER, REPO, first_job_id(fake))
        assert client.rate_limit is not None
        assert client.rate_limit.remaining == 0
        assert fake_time.sleeps == []
        await client.get_job(OWNER, REPO, first_job_id(fake))
    assert len(fake_time.sleeps) == 1
    assert fake.stats.primary_violations == 0


async def test_primary_wait_beyond_limit_raises(fake: FakeGitHub) -> None:
    """A reset further away than max_rate_limit_wait raises PrimaryRateLimitError at once."""
    fake.exhaust_primary(reset_in=3000)
    fake_time = FakeTime()
    async with Client(
        fake.token,
        base_url=fake.api_url,
        max_rate_limit_wait=60,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as client:
        with pytest.raises(PrimaryRateLimitError) as caught:
            await client.get_job(OWNER, REPO, first_job_id(fake))
        requests = fake.stats.api_requests
        with pytest.raises(PrimaryRateLimitError):
            await client.get_job(OWNER, REPO, first_job_id(fake))
    assert caught.value.reset_at is not None
    assert caught.value.reset_at.timestamp() > time.time() + 2900
    assert fake_time.sleeps == []
    assert fake.stats.api_requests == requests  # the second call sent nothing


async def test_secondary_limit_pauses_every_request() -> None:
    """A secondary limit pauses all concurrent requests for retry-after; all still complete."""
    config = FakeConfig(api_latency=0.02, secondary_retry_after=1)
    async with FakeGitHub(config) as fake:
        run = fake.add_run(OWNER, REPO, jobs=30)
        fake.inject(Fault(target="api", kind="secondary", after=5))
        sleep = RecordingSleep()
        async with Client(
            fake.token, base_url=fake.api_url, max_concurrency=10, sleep=sleep
        ) as client:
            jobs = await asyncio.gather(*(client.get_job(OWNER, REPO, i) for i in run.job_ids))
        assert [job.id for job in jobs] == run.job_ids
        assert fake.stats.faults_injected["secondary"] == 1
        assert fake.stats.requests_during_penalty == 0
        assert any(0.9 <= s <= 1.1 for s in sleep.sleeps)


async def test_secondary_limit_on_requests_in_flight_recovers() -> None:
    """A server allowing fewer requests in flight than configured still serves everything."""
    config = FakeConfig(api_latency=0.03, max_in_flight=4, secondary_retry_after=1)
    async with FakeGitHub(config) as fake:
        run = fake.add_run(OWNER, REPO, jobs=40)
        async with Client(fake.token, base_url=fake.api_url, max_concurrency=10) as client:
            jobs = await asyncio.gather(*(client.get_job(OWNER, REPO, i) for i in run.job_ids))
        assert sorted(job.id for job in jobs) == sorted(run.job_ids)
        assert fake.stats.in_flight_violations >= 1
        assert fake.stats.requests_during_penalty == 0


async def test_bad_gateway_is_retried(fake: FakeGitHub) -> None:
    """Two 502s in a row are retried with backoff and the third answer is used."""
    fake.inject(Fault(target="api", kind="status", status=502, times=2))
    sleep = FakeTime()
    async with Client(fake.token, base_url=fake.api_url, sleep=sleep.sleep) as client:
        job = await client.get_job(OWNER, REPO, first_job_id(fake))
    assert job.id == first_job_id(fake)
    assert len(sleep.sleeps) == 2
    assert fake.stats.api_requests == 3


async def test_server_errors_give_up_after_max_retries(fake: FakeGitHub) -> None:
    """Persistent 503s raise ServerError after max_retries retries."""
    fake.inject(Fault(target="api", kind="status", status=503, times=10))
    sleep = FakeTime()
    async with Client(
        fake.token, base_url=fake.api_url, max_retries=3, sleep=sleep.sleep
    ) as client:
        with pytest.raises(ServerError) as caught:
            await client.get_job(OWNER, REPO, first_job_id(fake))
    assert caught.value.status == 503
    assert fake.stats.api_requests == 4


async def test_connection_reset_is_retried(fake: FakeGitHub) -> None:
    """A connection dropped before the answer is retried."""
    fake.inject(Fault(target="api", kind="reset", times=1))
    sleep = FakeTime()
    async with Client(fake.token, base_url=fake.api_url, sleep=sleep.sleep) as client:
        job = await client.get_job(OWNER, REPO, first_job_id(fake))
    assert job.id == first_job_id(fake)
    assert fake.stats.faults_injected["reset"] == 1


async def test_read_timeout_is_retried_then_reported(fake: FakeGitHub) -> None:
    """An answer that never comes times out, is retried, and is reported as a timeout."""
    fake.inject(Fault(target="api", kind="stall", stall_seconds=5, times=5))
    sleep = FakeTime()
    async with Client(
        fake.token, base_url=fake.api_url, read_timeout=0.2, max_retries=1, sleep=sleep.sleep
    ) as client:
        with pytest.raises(RequestTimeoutError):
            await client.get_job(OWNER, REPO, first_job_id(fake))
    assert len(sleep.sleeps) == 1


async def test_limiter_never_exceeds_max_concurrency() -> None:
    """The server never sees more requests in flight than max_concurrency."""
    async with FakeGitHub(api_latency=0.03) as fake:
        run = fake.add_run(OWNER, REPO, jobs=60)
        async with Client(fake.token, base_url=fake.api_url, max_concurrency=5) as client:
            await asyncio.gather(*(client.get_job(OWNER, REPO, i) for i in run.job_ids))
        assert fake.stats.peak_api_in_flight == 5


async def test_token_never_logged_at_debug(
    fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG logs of successes, retries and errors never contain the token."""
    fake.inject(Fault(target="api", kind="status", status=502, times=1))
    caplog.set_level(logging.DEBUG, logger="gh_jobs_async")
    sleep = FakeTime()
    async with Client(fake.token, base_url=fake.api_url, sleep=sleep.sleep) as client:
        await client.get_job(OWNER, REPO, first_job_id(fake))
        with pytest.raises(NotFoundError):
            await client.get_job(OWNER, REPO, 1)
    assert caplog.records
    assert all(fake.token not in record.getMessage() for record in caplog.records)


async def test_closed_client_refuses_work(fake: FakeGitHub) -> None:
    """Using a client after close() raises ClientClosedError."""
    client = Client(fake.token, base_url=fake.api_url)
    async with client:
        await client.get_job(OWNER, REPO, first_job_id(fake))
    with pytest.raises(ClientClosedError):
        await client.get_job(OWNER, REPO, first_job_id(fake))


async def test_borrowed_session_is_left_open(fake: FakeGitHub) -> None:
    """A caller's aiohttp session is used and not closed by the client."""
    async with aiohttp.ClientSession() as http:
        async with Client(fake.token, base_url=fake.api_url, session=http) as client:
            job = await client.get_job(OWNER, REPO, first_job_id(fake))
        assert not http.closed
        assert job.status in set(JobStatus) | {"completed"}
