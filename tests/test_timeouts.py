"""Timeouts: a host that stops sending mid-answer never hangs a call or a harvest.

The fake stalls for 30 s; the client's ``read_timeout`` is 0.5 s. The read timeout
fires, the job is retried with a freshly resolved ``Location`` and completes, or,
when every attempt stalls, is reported failed. Each test ends well under 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _support import serve as shared_serve

from gh_jobs_async import Client, LogResult, LogStatus, RequestTimeoutError
from gh_jobs_async._files import PART_SUFFIX
from gh_jobs_async.testing import FakeGitHub, Fault

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
STALL = 30.0  # far longer than any test may take: only the read timeout ends it
READ_TIMEOUT = 0.5
BUDGET = 10.0  # seconds a test may take, on a loaded machine too


@contextlib.asynccontextmanager
async def serve(**options: Any) -> AsyncIterator[tuple[FakeGitHub, Client]]:
    """A fake and a client with a 0.5 s read timeout."""
    async with shared_serve(read_timeout=READ_TIMEOUT, **options) as served:
        yield served


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail if the block takes longer than ``seconds`` (it is cut off at twice that)."""
    started = time.monotonic()
    yield
    assert time.monotonic() - started < seconds


def logs_resolutions(fake: FakeGitHub, job_id: int) -> int:
    """How many times the job's logs endpoint was asked for a Location."""
    suffix = f"/jobs/{job_id}/logs"
    return sum(
        1 for r in fake.stats.requests_log if r.origin == "api" and r.path_qs.endswith(suffix)
    )


def leftovers(root: Path) -> list[Path]:
    """Temporary files under ``root``."""
    return [p for p in root.rglob("*") if p.name.endswith(PART_SUFFIX)]


async def test_a_stalled_blob_is_retried_with_a_fresh_location(tmp_path: Path) -> None:
    """The blob host stops mid-body for 30 s: the read timeout fires after 0.5 s, the job
    gets a new Location and a second download, which completes with the right bytes."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=1, log_size=200_000)
        job_id = run.job_ids[0]
        fake.inject(
            Fault("blob", "stall", job_id=job_id, stall_seconds=STALL, partial_bytes=50_000)
        )
        with within(BUDGET):
            async with asyncio.timeout(2 * BUDGET):
                result = await client.download_log(OWNER, REPO, job_id, tmp_path)
        assert result.status is LogStatus.DOWNLOADED
        assert result.attempts == 2
        assert result.sha256 == fake.log_sha256(job_id)
        assert logs_resolutions(fake, job_id) == 2  # a fresh Location for the retry
        assert fake.stats.blob_requests == 2  # counted on arrival: the stalled one too
        assert fake.stats.faults_injected["stall"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"{job_id}.log"]


async def test_a_blob_that_always_stalls_is_reported_failed(tmp_path: Path) -> None:
    """Every attempt stalls: after max_attempts read timeouts download_log raises
    RequestTimeoutError, and a harvest reports the job failed while the others complete;
    no partial file is left."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=4, log_size=100_000)
        stuck = run.job_ids[0]
        fake.inject(Fault("blob", "stall", job_id=stuck, stall_seconds=STALL, times=1000))
        with within(BUDGET):
            async with asyncio.timeout(2 * BUDGET):
                with pytest.raises(RequestTimeoutError):
                    await client.download_log(
                        OWNER, REPO, stuck, tmp_path / "single", max_attempts=2
                    )
                async with client.download_logs(
                    OWNER, REPO, run.job_ids, tmp_path / "batch", max_attempts=3
                ) as batch:
                    results: list[LogResult] = [result async for result in batch]
        by_id = {result.job_id: result for result in results}
        assert by_id[stuck].status is LogStatus.FAILED
        assert isinstance(by_id[stuck].error, RequestTimeoutError)
        assert {by_id[i].status for i in run.job_ids[1:]} == {LogStatus.DOWNLOADED}
        assert logs_resolutions(fake, stuck) == 2 + 3  # every attempt, a fresh Location
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "single").exists() or list((tmp_path / "single").iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "batch").glob("*.log")) == sorted(
        f"{i}.log" for i in run.job_ids[1:]
    )


async def test_a_stalled_api_answer_is_retried(tmp_path: Path) -> None:
    """An API answer that stalls past the read timeout is retried; when every try stalls
    the call raises RequestTimeoutError instead of hanging."""
    async with serve(max_retries=1) as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=2)
        job_id = run.job_ids[0]
        fake.inject(Fault("api", "stall", job_id=job_id, stall_seconds=STALL))
        with within(BUDGET):
            async with asyncio.timeout(2 * BUDGET):
                job = await client.get_job(OWNER, REPO, job_id)
                assert job.id == job_id
                fake.inject(Fault("api", "stall", job_id=job_id, stall_seconds=STALL, times=1000))
                with pytest.raises(RequestTimeoutError):
                    await client.get_job(OWNER, REPO, job_id)
                with pytest.raises(RequestTimeoutError):
                    await client.get_log_url(OWNER, REPO, job_id)
                fake.clear_faults()
                assert (await client.get_job(OWNER, REPO, run.job_ids[1])).id == run.job_ids[1]
