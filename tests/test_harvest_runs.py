"""Harvesting many runs through one pipeline, and the runs a directory remembers."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from _support import file_sha256, serve
from test_runs_model import sample_run

from gh_jobs_async import (
    Client,
    InvalidArgumentError,
    Job,
    LogResult,
    LogStatus,
    NotFoundError,
    WorkflowRun,
)
from gh_jobs_async._files import MANIFEST_NAME
from gh_jobs_async._selection import JobSelection, RunLedger, RunProgress
from gh_jobs_async.models import decode_job, decode_run
from gh_jobs_async.testing import FakeConfig, FakeGitHub, Fault

OWNER, REPO = "octo-org", "hello-world"
END = datetime(2026, 3, 31, tzinfo=UTC)
JOB_LISTING = re.compile(r"/actions/runs/(\d+)/jobs")


def listed_runs(fake: FakeGitHub) -> set[int]:
    """Runs whose jobs were listed, from the requests the fake saw."""
    return {
        int(match.group(1))
        for record in fake.stats.requests_log
        if (match := JOB_LISTING.search(record.path_qs))
    }


def logs_in(root: Path) -> dict[int, Path]:
    return {int(p.stem): p for p in root.iterdir() if p.suffix == ".log"}


def job(job_id: int, status: str = "completed") -> Job:
    return decode_job(
        {
            "id": job_id,
            "run_id": 1,
            "run_url": "u",
            "node_id": "n",
            "head_sha": "a" * 40,
            "url": "u",
            "html_url": None,
            "status": status,
            "conclusion": None if status != "completed" else "success",
            "created_at": "2026-01-01T00:00:00Z",
            "started_at": "2026-01-01T00:00:00Z",
            "completed_at": None,
            "name": "x",
            "check_run_url": "u",
            "labels": [],
            "runner_id": None,
            "runner_name": None,
            "runner_group_id": None,
            "runner_group_name": None,
            "workflow_name": None,
            "head_branch": None,
            "run_attempt": 1,
        }
    )


def result(job_id: int, status: LogStatus) -> LogResult:
    return LogResult(job_id=job_id, status=status)


# ------------------------------------------------------------------ pure bookkeeping


def test_a_run_is_finished_once_listed_and_every_result_is_final() -> None:
    """Listed, every job completed, every log downloaded, skipped, gone or never there."""
    progress = RunProgress()
    progress.begin(1)
    for job_id in (10, 11, 12, 13):
        progress.see(1, job(job_id))
        progress.expect(1, job(job_id))
    assert progress.result(result(10, LogStatus.DOWNLOADED)) is None
    assert progress.result(result(11, LogStatus.SKIPPED)) is None
    assert progress.result(result(12, LogStatus.GONE)) is None
    assert progress.listed(1) is None  # 13 still out
    assert progress.result(result(13, LogStatus.NOT_AVAILABLE)) == 1
    attempt, jobs = progress.take(1)
    assert attempt == 1
    assert [j.id for j in jobs] == [10, 11, 12, 13]


def test_a_failed_download_or_a_running_job_keeps_a_run_unfinished() -> None:
    """A failed result, a job not completed, or a run still running: not finished."""
    progress = RunProgress()
    progress.begin(1)
    progress.see(1, job(10))
    progress.expect(1, job(10))
    assert progress.result(result(10, LogStatus.FAILED)) is None
    assert progress.listed(1) is None
    progress.begin(2)
    progress.see(2, job(20, status="in_progress"))
    assert progress.listed(2) is None
    progress.begin(3)
    progress.see(3, job(30))
    assert progress.listed(3, run_completed=False) is None
    progress.begin(4)  # a run with nothing selected and everything completed
    progress.see(4, job(40))
    assert progress.listed(4) == 4


def test_a_run_without_jobs_takes_the_runs_attempt() -> None:
    """A completed run with no jobs (a startup_failure) is finished with its run_attempt,
    so that it can be remembered; a job's newer attempt still wins."""
    progress = RunProgress()
    progress.begin(1, 2)
    assert progress.listed(1) == 1
    assert progress.take(1) == (2, ())
    progress.begin(3, None)
    progress.see(3, job(30))
    assert progress.listed(3) == 3
    assert progress.take(3)[0] == 1


def test_a_recorded_run_not_completed_now_is_listed_again(tmp_path: Path) -> None:
    """The ledger hands a recorded run's jobs on only while the run is completed and not
    re-run; a run without run_attempt is judged by its status."""
    ledger = RunLedger(tmp_path, "latest", only_failed=False)
    ledger.record(5, 1, (job(50),))
    assert ledger.finished(5, None) == (job(50),)
    assert ledger.finished(5, fake_run(5, "completed", 1)) == (job(50),)
    assert ledger.finished(5, fake_run(5, "completed", 2)) is None
    assert ledger.finished(5, fake_run(5, "in_progress", 1)) is None
    assert ledger.finished(5, fake_run(5, "in_progress", None)) is None
    assert ledger.finished(5, fake_run(5, "completed", None)) == (job(50),)


def fake_run(run_id: int, status: str, attempt: int | None) -> WorkflowRun:
    """A WorkflowRun with ``status`` and ``run_attempt`` (None: absent)."""
    body = sample_run(id=run_id, status=status, conclusion=None, run_attempt=attempt)
    if attempt is None:
        del body["run_attempt"]
    return decode_run(body)


class _Listing:
    """A JobStream stand-in: the jobs it was given."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self.total_count = len(jobs)

    async def collect(self) -> list[Job]:
        return list(self.jobs)


async def test_a_bare_id_run_still_going_is_not_remembered(tmp_path: Path) -> None:
    """A run given by id is fetched: still in progress, it is not recorded even when every
    job listed so far is completed and downloaded (later jobs may yet appear)."""
    fetched: list[int] = []

    async def get_run(run_id: int) -> WorkflowRun:
        fetched.append(run_id)
        return fake_run(run_id, "in_progress" if run_id == 7 else "completed", 1)

    listing = {7: [job(70)], 8: [job(80)]}
    ledger = RunLedger(tmp_path, "latest", only_failed=False)
    selection = JobSelection(
        lambda run_id: _Listing(listing[run_id]),  # type: ignore[arg-type,return-value]
        [7, 8],
        ledger,
        only_failed=False,
        get_run=get_run,
    )
    async for got in selection:
        await selection.record(result(got.id, LogStatus.DOWNLOADED))
    assert sorted(fetched) == [7, 8]
    ledger = RunLedger(tmp_path, "latest", only_failed=False)
    ledger.load()
    assert ledger.finished(7, None) is None  # never recorded
    assert ledger.finished(8, None) == (job(80),)


# ------------------------------------------------------------------ against the fake


async def _until_completed(client: Client, run_id: int, attempt: int) -> None:
    async with asyncio.timeout(10):
        while True:
            run = await client.get_run(OWNER, REPO, run_id)
            if run.run_attempt == attempt and run.completed:
                return
            await asyncio.sleep(0.05)


async def test_a_bare_id_rerun_is_listed_again(tmp_path: Path) -> None:
    """A run given by id is fetched before its record is trusted: re-run (and running
    again), it is listed again; completed, it is remembered again."""
    async with serve(FakeConfig(rate_limit=None)) as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=2, live=True, duration=0.3, resolution=0.1)
        await _until_completed(client, run.run_id, 1)
        await client.harvest(OWNER, REPO, run.run_id, tmp_path)
        fake.reset_stats()
        await client.harvest(OWNER, REPO, run.run_id, tmp_path)
        assert listed_runs(fake) == set()  # remembered
        assert fake.rerun(run.run_id) == 2
        fake.reset_stats()
        await client.harvest(OWNER, REPO, run.run_id, tmp_path)
        assert listed_runs(fake) == {run.run_id}  # attempt 2 runs: listed again
        await _until_completed(client, run.run_id, 2)
        fake.reset_stats()
        summary = await client.harvest(OWNER, REPO, [run.run_id], tmp_path)
        assert listed_runs(fake) == {run.run_id}
        assert summary.counts[LogStatus.DOWNLOADED] == 2  # attempt 2's logs
        fake.reset_stats()
        await client.harvest(OWNER, REPO, [run.run_id], tmp_path)
        assert listed_runs(fake) == set()


@pytest.mark.parametrize("given", ["id", "run"])
async def test_a_run_without_jobs_is_remembered(tmp_path: Path, given: str) -> None:
    """A completed run with no jobs (as a startup_failure has none) is remembered: the
    next harvest does not list its jobs again."""
    async with serve() as (fake, client):
        empty = fake.add_run(OWNER, REPO, jobs=0)
        other = fake.add_run(OWNER, REPO, jobs=1)
        ids = [empty.run_id, other.run_id]
        runs: Any = ids if given == "id" else [await client.get_run(OWNER, REPO, i) for i in ids]
        await client.harvest(OWNER, REPO, runs, tmp_path)
        fake.reset_stats()
        await client.harvest(OWNER, REPO, runs, tmp_path)
        assert listed_runs(fake) == set()


async def test_several_runs_flow_through_one_harvest_and_one_summary(tmp_path: Path) -> None:
    """A list of run ids: every job of every run, one summary, logs intact."""
    async with serve() as (fake, client):
        runs = [fake.add_run(OWNER, REPO, jobs=n, log_size=300) for n in (3, 5, 2)]
        summary = await client.harvest(OWNER, REPO, [r.run_id for r in runs], tmp_path)
        assert summary.counts[LogStatus.DOWNLOADED] == 10
        every = [job_id for run in runs for job_id in run.job_ids]
        assert sorted(logs_in(tmp_path)) == sorted(every)
        for job_id, path in logs_in(tmp_path).items():
            assert file_sha256(path) == fake.log_sha256(job_id)


async def test_a_list_runs_stream_feeds_harvest_and_a_second_harvest_lists_no_jobs(
    tmp_path: Path,
) -> None:
    """Failed jobs of failed runs from list_runs; again: no job listing, no download."""
    async with serve(FakeConfig(rate_limit=None)) as (fake, client):
        fake.add_runs(OWNER, REPO, count=60, days=10, end=END, failed=12, in_progress=3, jobs=3)
        failed_runs = fake.runs_matching(OWNER, REPO, status="failure")
        want = {
            j["id"]
            for run in failed_runs
            for j in fake.jobs_for(OWNER, REPO, run["id"])
            if j["conclusion"] in ("failure", "timed_out")
        }
        runs = client.list_runs(OWNER, REPO, status="failure")
        summary = await client.harvest(OWNER, REPO, runs, tmp_path, only_failed=True)
        assert set(logs_in(tmp_path)) == want
        assert summary.counts[LogStatus.DOWNLOADED] == len(want)
        assert listed_runs(fake) == {run["id"] for run in failed_runs}

        fake.reset_stats()
        runs = client.list_runs(OWNER, REPO, status="failure")
        again = await client.harvest(OWNER, REPO, runs, tmp_path, only_failed=True)
        assert listed_runs(fake) == set()  # no finished run's jobs listed again
        assert sum(fake.stats.log_downloads.values()) == 0
        assert fake.stats.blob_requests == 0
        assert again.counts[LogStatus.SKIPPED] == len(want)
        assert again.counts[LogStatus.DOWNLOADED] == 0


async def test_unfinished_runs_are_listed_again(tmp_path: Path) -> None:
    """A run with a job still running is not remembered: the next harvest lists it."""
    async with serve() as (fake, client):
        done = fake.add_run(OWNER, REPO, jobs=2)
        running = fake.add_run(OWNER, REPO, jobs=2, statuses=("completed", "in_progress"))
        await client.harvest(OWNER, REPO, [done.run_id, running.run_id], tmp_path)
        fake.reset_stats()
        await client.harvest(OWNER, REPO, [done.run_id, running.run_id], tmp_path)
        assert listed_runs(fake) == {running.run_id}


async def test_a_failed_download_keeps_its_run_unfinished(tmp_path: Path) -> None:
    """A log that could not be downloaded leaves its run to be listed again; a log that
    is gone (410) is final."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=2)
        fake.set_log_state(run.job_ids[0], "gone")
        other = fake.add_run(OWNER, REPO, jobs=2)
        fake.inject(Fault(target="blob", kind="status", status=500, job_id=other.job_ids[1]))
        summary = await client.harvest(
            OWNER, REPO, [run.run_id, other.run_id], tmp_path, max_attempts=1
        )
        assert summary.counts[LogStatus.GONE] == 1
        assert summary.counts[LogStatus.FAILED] == 1
        fake.reset_stats()
        await client.harvest(OWNER, REPO, [run.run_id, other.run_id], tmp_path)
        assert listed_runs(fake) == {other.run_id}


async def test_a_remembered_run_with_a_damaged_log_is_downloaded_again(tmp_path: Path) -> None:
    """The remembered jobs still go through the manifest check: a damaged log comes back."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=3, log_size=500)
        await client.harvest(OWNER, REPO, run.run_id, tmp_path)
        victim = run.job_ids[1]
        (tmp_path / f"{victim}.log").write_bytes(b"broken")
        fake.reset_stats()
        summary = await client.harvest(OWNER, REPO, run.run_id, tmp_path)
        assert listed_runs(fake) == set()
        assert summary.counts[LogStatus.DOWNLOADED] == 1
        assert summary.counts[LogStatus.SKIPPED] == 2
        assert file_sha256(tmp_path / f"{victim}.log") == fake.log_sha256(victim)


async def test_the_memory_is_per_selection(tmp_path: Path) -> None:
    """A run finished with only_failed is listed again for every job, and per filter."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=4, attempts=2, conclusions=("success", "failure"))
        await client.harvest(OWNER, REPO, run.run_id, tmp_path, only_failed=True)
        fake.reset_stats()
        summary = await client.harvest(OWNER, REPO, run.run_id, tmp_path)
        assert listed_runs(fake) == {run.run_id}
        assert summary.counts[LogStatus.DOWNLOADED] == 2
        fake.reset_stats()
        await client.harvest(OWNER, REPO, run.run_id, tmp_path, filter="all")
        assert listed_runs(fake) == {run.run_id}
        fake.reset_stats()
        await client.harvest(OWNER, REPO, run.run_id, tmp_path, filter="all")
        assert listed_runs(fake) == set()


async def test_a_rerun_is_listed_again(tmp_path: Path) -> None:
    """A WorkflowRun whose run_attempt is newer than the one recorded is listed again."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=2)
        first = await client.get_run(OWNER, REPO, run.run_id)
        await client.harvest(OWNER, REPO, [first], tmp_path)
        rerun = attrs.evolve(first, run_attempt=2)
        fake.reset_stats()
        await client.harvest(OWNER, REPO, [rerun], tmp_path)
        assert listed_runs(fake) == {run.run_id}
        fake.reset_stats()
        await client.harvest(OWNER, REPO, [first], tmp_path)
        assert listed_runs(fake) == set()


async def test_run_records_live_in_the_manifest_and_survive_a_torn_line(tmp_path: Path) -> None:
    """Run records are manifest lines; a torn last line does not swallow the next record."""
    async with serve() as (fake, client):
        first = fake.add_run(OWNER, REPO, jobs=1)
        await client.harvest(OWNER, REPO, first.run_id, tmp_path)
        manifest = tmp_path / MANIFEST_NAME
        with manifest.open("a") as handle:
            handle.write('{"run": 1, "trunc')
        second = fake.add_run(OWNER, REPO, jobs=1)
        await client.harvest(OWNER, REPO, second.run_id, tmp_path)
        lines = manifest.read_text().splitlines()
        assert sum(line.startswith('{"run":') for line in lines) == 3
        fake.reset_stats()
        await client.harvest(OWNER, REPO, [first.run_id, second.run_id], tmp_path)
        assert listed_runs(fake) == set()


@pytest.mark.parametrize("runs", ["7", 0, -1, [1, "2"], 3.5, None, [True]])
async def test_bad_runs_are_refused_before_any_request(runs: object, tmp_path: Path) -> None:
    """A bad run id (or a sequence holding one) raises before anything is sent."""
    async with serve() as (fake, client):
        with pytest.raises(InvalidArgumentError):
            await client.harvest(OWNER, REPO, runs, tmp_path)  # type: ignore[arg-type]
        assert fake.stats.api_requests == 0


async def test_follow_takes_one_run_only(tmp_path: Path) -> None:
    """harvest(follow=True) watches one run: a list of runs is refused before any request."""
    async with serve() as (fake, client):
        with pytest.raises(InvalidArgumentError) as info:
            await client.harvest(OWNER, REPO, [1, 2], tmp_path, follow=True)
        assert info.value.name == "runs"
        assert fake.stats.api_requests == 0


async def test_a_missing_run_of_many_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Of many runs, one GitHub answers 404 for (deleted, or never there) is skipped with a
    warning naming it; every other run is harvested."""
    async with serve() as (fake, client):
        first, last = fake.add_run(OWNER, REPO, jobs=2), fake.add_run(OWNER, REPO, jobs=3)
        missing = 7_999_999_999
        with caplog.at_level("WARNING", logger="gh_jobs_async"):
            summary = await client.harvest(
                OWNER, REPO, [first.run_id, missing, last.run_id], tmp_path
            )
        assert summary.counts[LogStatus.DOWNLOADED] == 5
        assert sorted(logs_in(tmp_path)) == sorted(first.job_ids + last.job_ids)
        assert any(f"skipping run {missing}" in r.getMessage() for r in caplog.records)


async def test_an_attempt_missing_from_some_runs_skips_only_those(tmp_path: Path) -> None:
    """attempt=2 over runs of which one has a second attempt: that one is harvested, the
    runs without one are skipped, not the end of the harvest."""
    async with serve() as (fake, client):
        once = fake.add_run(OWNER, REPO, jobs=2)
        twice = fake.add_run(OWNER, REPO, jobs=2, attempts=2)
        runs = [once.run_id, twice.run_id]
        summary = await client.harvest(OWNER, REPO, runs, tmp_path, attempt=2)
        assert sorted(logs_in(tmp_path)) == sorted(j["id"] for j in twice.attempts[1])
        assert summary.counts[LogStatus.DOWNLOADED] == 2


async def test_a_single_missing_run_is_not_found(tmp_path: Path) -> None:
    """One run id, asked for by itself: its 404 is the caller's NotFoundError."""
    async with serve() as (fake, client):
        fake.add_run(OWNER, REPO, jobs=1)
        with pytest.raises(NotFoundError):
            await client.harvest(OWNER, REPO, 7_999_999_999, tmp_path)
