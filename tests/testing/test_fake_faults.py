"""Scripted and random faults at the API and the blob host."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from gh_jobs_async.testing import FakeGitHub, Fault

pytestmark = pytest.mark.integration

Call = Callable[..., Awaitable[Any]]  # the `call` fixture (see conftest.py)
REPO = "/repos/octo-org/hello-world/actions"


@pytest.fixture(name="fresh")
async def fixture_fresh() -> AsyncIterator[aiohttp.ClientSession]:
    """A session that never reuses connections, so aiohttp cannot silently retry."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


async def _read_until_error(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> int:
    """Bytes received before the body failed; fails the test if it did not."""
    received = 0
    async with session.get(url, **kwargs) as resp:
        assert resp.status == 200
        try:
            async for chunk in resp.content.iter_chunked(4096):
                received += len(chunk)
        except (aiohttp.ClientPayloadError, TimeoutError):
            return received
    pytest.fail(f"the body arrived whole ({received} bytes)")


async def test_status_fault_then_normal(fake: FakeGitHub, call: Call) -> None:
    """A status fault answers once (502 is GitHub's HTML unicorn), then service resumes."""
    run = fake.add_run(jobs=1, log_size=10)
    fake.inject(Fault("api", "status", status=502), Fault("api", "status", status=503))
    first = await call(fake, f"{REPO}/jobs/{run.job_ids[0]}")
    assert first.status == 502
    assert first.headers["Content-Type"].startswith("text/html")
    second = await call(fake, f"{REPO}/jobs/{run.job_ids[0]}")
    assert second.status == 503
    assert json.loads(second.body)["message"] == "Server Error"
    assert (await call(fake, f"{REPO}/jobs/{run.job_ids[0]}")).status == 200
    assert fake.stats.faults_injected == {"status": 2}
    assert fake.pending_faults == []


async def test_after_times_and_matching(fake: FakeGitHub, call: Call) -> None:
    """after skips matching requests, times bounds them, job_id and path_contains narrow."""
    run = fake.add_run(jobs=2, log_size=10)
    one, two = run.job_ids
    fake.inject(Fault("api", "status", status=500, times=2, after=1, job_id=one))
    fake.inject(Fault("api", "status", status=418, path_contains="per_page=7"))
    statuses = [
        (await call(fake, f"{REPO}/jobs/{job}")).status for job in (one, two, one, one, one)
    ]
    assert statuses == [200, 200, 500, 500, 200]
    assert (await call(fake, f"{REPO}/runs/{run.run_id}/jobs?per_page=7")).status == 418
    assert (await call(fake, f"{REPO}/runs/{run.run_id}/jobs?per_page=7")).status == 200


async def test_logs_target_only_hits_the_logs_endpoint(fake: FakeGitHub, call: Call) -> None:
    """target="logs" leaves other endpoints alone; target="api" includes the logs endpoint."""
    run = fake.add_run(jobs=1, log_size=10)
    job = f"{REPO}/jobs/{run.job_ids[0]}"
    fake.inject(Fault("logs", "status", status=500))
    assert (await call(fake, job)).status == 200
    assert (await call(fake, f"{job}/logs")).status == 500
    fake.inject(Fault("api", "status", status=503))
    assert (await call(fake, f"{job}/logs")).status == 503


async def test_api_reset_drops_the_connection(
    fake: FakeGitHub, fresh: aiohttp.ClientSession
) -> None:
    """An API reset closes the connection without any answer (aiohttp retries GET once)."""
    fake.inject(Fault("api", "reset", times=2))
    auth = {"Authorization": f"Bearer {fake.token}"}
    with pytest.raises(aiohttp.ClientConnectionError):
        async with fresh.get(f"{fake.api_url}/x", headers=auth):
            pass
    await asyncio.sleep(0.05)
    assert [record.status for record in fake.stats.requests_log] == [0, 0]
    assert fake.stats.faults_injected == {"reset": 2}
    assert fake.stats.api_in_flight == 0


async def test_secondary_fault_looks_like_the_limit(fake: FakeGitHub, call: Call) -> None:
    """A secondary fault answers like the limit, starts a penalty, counts only as a fault."""
    fake.inject(Fault("api", "secondary", retry_after=3))
    reply = await call(fake, "/x")
    assert reply.status == 403
    assert reply.headers["retry-after"] == "3"
    assert json.loads(reply.body)["message"].startswith("You have exceeded a secondary rate limit")
    await asyncio.sleep(0.1)
    await call(fake, "/x")
    assert fake.stats.requests_during_penalty == 1
    assert fake.stats.secondary_violations == 0
    assert fake.stats.faults_injected == {"secondary": 1}


async def test_api_stall_and_truncate(fake: FakeGitHub, fresh: aiohttp.ClientSession) -> None:
    """A stalled answer trips a client read timeout; a truncated JSON body fails to read."""
    run = fake.add_run(jobs=1, log_size=10)
    url = f"{fake.api_url}{REPO}/jobs/{run.job_ids[0]}"
    auth = {"Authorization": f"Bearer {fake.token}"}
    fake.inject(Fault("api", "stall", stall_seconds=0.5))
    with pytest.raises(TimeoutError):
        async with fresh.get(url, headers=auth, timeout=aiohttp.ClientTimeout(sock_read=0.1)):
            pass
    fake.inject(Fault("api", "truncate"))
    with pytest.raises(aiohttp.ClientPayloadError):
        async with fresh.get(url, headers=auth) as resp:
            await resp.read()


async def test_blob_reset_and_truncate(fake: FakeGitHub, fresh: aiohttp.ClientSession) -> None:
    """Blob resets and truncations stop after partial_bytes; a retry then succeeds."""
    run = fake.add_run(jobs=1, log_size=200_000)
    job_id = run.job_ids[0]
    url = fake.log_url(job_id)
    fake.inject(Fault("blob", "reset", partial_bytes=50_000), Fault("blob", "truncate"))
    assert await _read_until_error(fresh, url) == 50_000
    assert await _read_until_error(fresh, url) == 100_000
    assert fake.stats.log_downloads == {}
    async with fresh.get(url) as resp:
        assert await resp.read() == fake.log_bytes(job_id)
    assert fake.stats.log_downloads == {job_id: 1}
    assert fake.stats.faults_injected == {"reset": 1, "truncate": 1}


async def test_blob_status_and_stall(fake: FakeGitHub, fresh: aiohttp.ClientSession) -> None:
    """A blob status fault answers Azure XML; a stall sends part, then trips a read timeout."""
    run = fake.add_run(jobs=1, log_size=200_000)
    url = fake.log_url(run.job_ids[0])
    fake.inject(Fault("blob", "status", status=503, job_id=run.job_ids[0]))
    async with fresh.get(url) as resp:
        assert resp.status == 503
        assert b"<Code>ServerBusy</Code>" in await resp.read()
    fake.inject(Fault("blob", "stall", stall_seconds=1.0, partial_bytes=10_000))
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(sock_read=0.2)
    assert await _read_until_error(fresh, url, timeout=timeout) == 10_000
    assert time.monotonic() - started < 0.9


async def test_inline_logs_honour_body_faults(call: Call, fresh: aiohttp.ClientSession) -> None:
    """In inline mode a logs truncate fault cuts the body itself."""
    async with FakeGitHub(logs_mode="inline") as fake:
        run = fake.add_run(jobs=1, log_size=100_000)
        fake.inject(Fault("logs", "truncate", partial_bytes=30_000))
        url = f"{fake.api_url}{REPO}/jobs/{run.job_ids[0]}/logs"
        auth = {"Authorization": f"Bearer {fake.token}"}
        assert await _read_until_error(fresh, url, headers=auth) == 30_000


async def test_random_faults_are_seeded(call: Call) -> None:
    """Random 5xx faults follow the seed: same seed, same sequence; all are counted."""
    sequences = []
    for _ in range(2):
        async with FakeGitHub(fault_rate_5xx=0.4, seed=3) as fake:
            sequences.append([(await call(fake, "/x")).status for _ in range(30)])
            assert fake.stats.faults_injected["status"] == 30 - sequences[-1].count(404)
    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {404, 502, 503}


def test_fault_validation() -> None:
    """Faults that cannot fire are rejected when created."""
    for kwargs in (
        {"target": "blob", "kind": "secondary"},
        {"target": "nowhere", "kind": "status"},
        {"target": "api", "kind": "status", "times": 0},
        {"target": "api", "kind": "status", "status": 42},
    ):
        with pytest.raises(ValueError, match="must"):
            Fault(**kwargs)
