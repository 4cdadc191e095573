"""Worker processes sharing one budget on a real Redis, against one fake GitHub.

The fake refuses more than 20 API requests in flight and counts every request
that arrives during a secondary-limit penalty; each worker is a separate Python
process (budget_worker.py) with ``max_concurrency=20``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis_server import RedisServer, require_redis_server
from workers import add_runs, assert_logs_exact, assert_no_partial, start_worker

from gh_jobs_async.testing import FakeGitHub, Fault

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMITS = {"max_in_flight": 20, "max_per_window": 600, "secondary_retry_after": 1}
#: Workers wait until this long after the first one is started, then harvest together: on 2
#: busy cores, starting 4 Python processes one after another can otherwise take longer than
#: a worker's whole harvest, and workers that never overlap test nothing.
START_DELAY = 4.0


async def _alive_leases(raw: aioredis.Redis, prefix: str = "") -> list[str]:
    """Leases not yet expired by Redis' clock, optionally of one worker only."""
    seconds, micros = await raw.time()
    now = seconds + micros / 1e6
    alive: list[str] = []
    for key in await raw.keys("gh-jobs:{*}:leases"):
        members = await raw.zrangebyscore(key, now, "+inf")
        alive += [m for m in members if m.startswith(prefix)]
    return alive


def _prefix(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:"


async def test_four_workers_sharing_the_store_never_break_the_limit(
    redis_url: str, tmp_path: Path
) -> None:
    """4 processes x max_concurrency 20 sharing one RedisStore: 0 violations, every log exact."""
    async with FakeGitHub(api_latency=0.03, **LIMITS) as fake:
        runs = add_runs(fake, 4, jobs=30)
        start_at = time.time() + START_DELAY
        workers = [
            await start_worker(fake, [run], tmp_path, redis=redis_url, rpm=600, start_at=start_at)
            for run in runs
        ]
        reports = [await worker.result() for worker in workers]
        assert all(report["error"] is None for report in reports), reports
        assert fake.stats.secondary_violations == 0
        assert fake.stats.peak_api_in_flight <= 20
        assert fake.stats.peak_api_in_flight >= 10  # the budget was used, not starved
        assert_logs_exact(fake, tmp_path, runs)


async def test_four_workers_without_the_store_break_the_limit(tmp_path: Path) -> None:
    """The same 4 workers with in-process limits: the fake sees violations (the test can fail)."""
    async with FakeGitHub(api_latency=0.03, **LIMITS) as fake:
        runs = add_runs(fake, 4, jobs=30)
        start_at = time.time() + START_DELAY
        workers = [
            await start_worker(fake, [run], tmp_path, rpm=600, start_at=start_at) for run in runs
        ]
        for worker in workers:
            await worker.result()
        assert fake.stats.in_flight_violations > 0


async def _secondary_fleet(redis_url: str | None, tmp_path: Path) -> FakeGitHub:
    """4 workers harvesting together, one of them refused by a secondary limit (2 s)."""
    # penalty_grace: what another process had already granted and sent while the refused
    # worker was told is on the wire (2 shared cores schedule 5 processes).
    async with FakeGitHub(api_latency=0.05, penalty_grace=0.2, **LIMITS) as fake:
        runs = add_runs(fake, 4, jobs=60)
        victim = fake.run(runs[2]).job_ids[8]
        fake.inject(Fault("logs", "secondary", job_id=victim, retry_after=2))
        start_at = time.time() + START_DELAY
        workers = [
            await start_worker(
                fake, [run], tmp_path, redis=redis_url, max_concurrency=5, start_at=start_at
            )
            for run in runs
        ]
        reports = [await worker.result() for worker in workers]
        assert all(report["error"] is None for report in reports), reports
        assert not fake.pending_faults  # the refusal happened
        assert time.time() - start_at >= 2.0
        assert_logs_exact(fake, tmp_path, runs)
        return fake


async def test_one_workers_secondary_limit_pauses_all(redis_url: str, tmp_path: Path) -> None:
    """A secondary-limit answer to one worker: no request from any process during the pause."""
    fake = await _secondary_fleet(redis_url, tmp_path)
    assert fake.stats.requests_during_penalty == 0


async def test_without_the_store_a_secondary_limit_pauses_one_worker(tmp_path: Path) -> None:
    """The control: in-process limits, the other workers go on during the pause (the test
    above can fail)."""
    fake = await _secondary_fleet(None, tmp_path)
    assert fake.stats.requests_during_penalty > 10


async def test_a_killed_worker_gives_its_slots_back_within_lease_ttl(
    redis_url: str, tmp_path: Path
) -> None:
    """SIGKILL mid-harvest: its leases die within lease_ttl, the other worker gets the slots."""
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    options = {"redis": redis_url, "max_concurrency": 10, "lease_ttl": 2.0}
    try:
        async with FakeGitHub(api_latency=0.25, **LIMITS) as fake:
            doomed_run, survivor_run = add_runs(fake, 1, jobs=40), add_runs(fake, 1, jobs=100)
            doomed = await start_worker(fake, doomed_run, tmp_path / "a", **options)
            async with asyncio.timeout(30):
                while not await _alive_leases(raw, _prefix(doomed.pid)):
                    await asyncio.sleep(0.02)
            survivor = await start_worker(fake, survivor_run, tmp_path / "b", **options)
            async with asyncio.timeout(30):
                while not await _alive_leases(raw, _prefix(survivor.pid)):
                    await asyncio.sleep(0.02)
            os.kill(doomed.pid, signal.SIGKILL)
            killed = time.monotonic()
            await doomed.process.wait()
            async with asyncio.timeout(15):
                while await _alive_leases(raw, _prefix(doomed.pid)):
                    await asyncio.sleep(0.05)
            assert time.monotonic() - killed <= 2.0 + 1.5
            peak = 0
            while survivor.process.returncode is None and peak < 10:
                peak = max(peak, len(await _alive_leases(raw, _prefix(survivor.pid))))
                await asyncio.sleep(0.02)
            assert peak >= 9  # the dead worker's slots came back
            report = await survivor.result()
            assert report["error"] is None
            assert fake.stats.secondary_violations == 0
            assert_logs_exact(fake, tmp_path / "b", survivor_run)
            for key in await raw.keys("gh-jobs:{*}:leases"):
                members = await raw.zrange(key, 0, -1)
                assert not [m for m in members if m.startswith(_prefix(doomed.pid))]
    finally:
        await raw.aclose()


@pytest.fixture(name="own_redis")
def fixture_own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test alone, which it may stop and start."""
    server = RedisServer(require_redis_server())
    server.start()
    yield server
    server.close()


async def _wait_for_leases(url: str, count: int) -> None:
    raw = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        async with asyncio.timeout(30):
            while len({m.split(":")[1] for m in await _alive_leases(raw)}) < count:
                await asyncio.sleep(0.02)
    finally:
        await raw.aclose()


async def test_redis_gone_mid_harvest_ends_in_a_store_error(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis stopped for good: workers wait max_wait, fail with RateLimitStoreError, no partial."""
    options = {"redis": own_redis.url, "max_concurrency": 5, "max_wait": 3.0, "timeout": 1.0}
    async with FakeGitHub(api_latency=0.05, **LIMITS) as fake:
        runs = add_runs(fake, 2, jobs=80)
        workers = [await start_worker(fake, [run], tmp_path, **options) for run in runs]
        await _wait_for_leases(own_redis.url, 2)
        own_redis.stop()
        stopped = time.monotonic()
        reports = [await worker.result() for worker in workers]
        assert time.monotonic() - stopped >= 2.5
        for report in reports:
            assert report["error"].startswith("RateLimitStoreError: Redis unreachable"), report
            assert report["failed"] == 0  # the batch ended: no job was turned into a failure
            assert own_redis.url in report["error"]
        assert_no_partial(tmp_path)


async def test_redis_back_within_the_wait_lets_workers_finish(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis restarted (state lost) before max_wait ran out: every worker finishes every log."""
    options = {"redis": own_redis.url, "max_concurrency": 5, "max_wait": 15.0, "timeout": 1.0}
    async with FakeGitHub(api_latency=0.05, **LIMITS) as fake:
        runs = add_runs(fake, 2, jobs=60)
        workers = [await start_worker(fake, [run], tmp_path, **options) for run in runs]
        await _wait_for_leases(own_redis.url, 2)
        own_redis.stop()
        await asyncio.sleep(1.5)
        own_redis.start()
        reports = [await worker.result() for worker in workers]
        assert all(report["error"] is None for report in reports), reports
        assert fake.stats.secondary_violations == 0
        assert_logs_exact(fake, tmp_path, runs)
