"""``gh-jobs watch`` and ``gh-jobs logs --follow``, run as subprocesses against live runs.

stdout is a pipe, so ``watch`` prints one plain line per change.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _support import CliResult, logs_asked_for, run_gh_jobs

from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
SLUG = f"{OWNER}/{REPO}"


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as fake:
        yield fake


async def gh_jobs(fake: FakeGitHub, *args: object) -> CliResult:
    """Run ``python -m gh_jobs_async ARGS --api-url FAKE`` with the fake's token."""
    return await run_gh_jobs(fake, *args, timeout=60.0)


async def test_watch_prints_one_line_per_change_and_the_outcome(fake: FakeGitHub) -> None:
    """Piped: each job seen, each transition once, then the run's outcome; exit 0."""
    run = fake.add_run(
        OWNER, REPO, jobs=4, live=True, duration=2.0, resolution=0.25, conclusions=["success"]
    )
    result = await gh_jobs(fake, "watch", SLUG, run.run_id, "--interval", "0.1")
    assert result.code == 0, result
    lines = result.out.splitlines()
    for job in fake.run(run.run_id).latest:
        mine = [line for line in lines if f"(job {job['id']}," in line]
        assert "seen" in mine[0]
        assert sum("completed (success" in line for line in mine) == 1  # seen, or "-> completed"
        assert sum("-> in_progress" in line for line in mine) <= 1
    assert lines[-1].startswith(f"run {run.run_id} attempt 1 completed: success (4 success;")
    assert "\x1b" not in result.out  # plain: no escape codes
    assert fake.token not in result.out + result.err


async def test_watch_exit_status_is_1_when_the_run_failed(fake: FakeGitHub) -> None:
    """--exit-status: 1 for a failed run, like gh run watch --exit-status; 0 without it."""
    run = fake.add_run(
        OWNER, REPO, jobs=3, live=True, duration=1.0, resolution=0.25, conclusions=["failure"]
    )
    failed = await gh_jobs(fake, "watch", SLUG, run.run_id, "--interval", "0.1", "--exit-status")
    assert failed.code == 1, failed
    assert "completed: failure" in failed.out.splitlines()[-1]
    again = await gh_jobs(fake, "watch", SLUG, run.run_id, "--interval", "0.1")
    assert again.code == 0, again


async def test_watch_bad_interval_is_usage(fake: FakeGitHub) -> None:
    """--interval 0 is refused before any request, exit 2."""
    result = await gh_jobs(fake, "watch", SLUG, 1, "--interval", "0")
    assert result.code == 2
    assert "--interval" in result.err
    assert fake.stats.api_requests == 0


async def test_logs_follow_harvests_the_run_as_it_goes(fake: FakeGitHub, tmp_path: Path) -> None:
    """--follow: every log of a live run, intact; the skipped job listed without a log."""
    run = fake.add_run(
        OWNER,
        REPO,
        jobs=5,
        live=True,
        duration=2.0,
        resolution=0.25,
        log_lag=0.2,
        conclusions=["success", "failure", "skipped"],
    )
    out = tmp_path / "logs"
    result = await gh_jobs(
        fake, "logs", SLUG, run.run_id, "--follow", "--out", out, "--interval", "0.1"
    )
    assert result.code == 0, result  # the skipped job never ran: no log, not a failure
    jobs = fake.run(run.run_id).latest
    with_log = [job for job in jobs if job["conclusion"] != "skipped"]
    files = {int(path.stem): path for path in out.glob("*.log")}
    assert sorted(files) == sorted(int(job["id"]) for job in with_log)
    for job_id, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == fake.log_sha256(job_id)
    skipped = [job["id"] for job in jobs if job["conclusion"] == "skipped"]
    assert skipped
    assert f"{len(skipped)} jobs never ran" in result.out
    assert all(str(job_id) in result.out for job_id in skipped)
    assert not {int(job_id) for job_id in skipped} & logs_asked_for(fake)


async def test_logs_follow_takes_one_run(fake: FakeGitHub, tmp_path: Path) -> None:
    """--follow with two RUN_IDs is bad usage."""
    result = await gh_jobs(fake, "logs", SLUG, 1, 2, "--follow", "--out", tmp_path)
    assert result.code == 2
    assert "one RUN_ID" in result.err
