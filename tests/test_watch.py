"""watch_run and the follow harvest over loopback, against the fake's live runs.

The fake's live runs advance on a seeded schedule (`FakeGitHub.schedule` says when each job
shows as started and completed), and what its API shows moves in steps of ``resolution``
seconds, as GitHub's does while runners report. The default suite runs 40 jobs over 5 s;
the ``slow`` tests run the 40 jobs over 20 s the issue asks for.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest
from _support import file_sha256, logs_asked_for

from gh_jobs_async import (
    Change,
    Client,
    InvalidArgumentError,
    JobStatus,
    JobUpdate,
    LogEvent,
    LogResult,
    LogStatus,
    StepStatus,
)
from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
CONCLUSIONS = ("success", "success", "failure", "success", "skipped", "cancelled", "success")
RANK = {"queued": 0, "in_progress": 1, "completed": 2}


@attrs.frozen
class Scale:
    """One size of the live-run scenario."""

    jobs: int
    duration: float
    resolution: float
    interval: float
    log_lag: float


QUICK = Scale(jobs=40, duration=5.0, resolution=1.0, interval=0.1, log_lag=0.2)
FULL = Scale(jobs=40, duration=20.0, resolution=2.0, interval=0.25, log_lag=0.3)


def _live_run(fake: FakeGitHub, scale: Scale, attempts: int = 1) -> int:
    run = fake.add_run(
        OWNER,
        REPO,
        jobs=scale.jobs,
        conclusions=CONCLUSIONS,
        live=True,
        duration=scale.duration,
        resolution=scale.resolution,
        log_lag=scale.log_lag,
        attempts=attempts,
        log_size=[1000, 50_000, 7_777],
    )
    return run.run_id


def _check_transitions(
    fake: FakeGitHub, run_id: int, updates: list[tuple[float, JobUpdate]]
) -> None:
    """Every job of every attempt: first seen once, forward only, each change once, final state
    as the fake ends it, every step done exactly once, nothing before the fake's schedule."""
    per_job: dict[int, list[tuple[float, JobUpdate]]] = defaultdict(list)
    for when, update in updates:
        per_job[update.job.id].append((when, update))
    plan = {s.job_id: s for s in fake.schedule(run_id)}
    assert set(per_job) == set(plan)
    for job_id, seen in per_job.items():
        assert seen[0][1].first_seen
        assert sum(u.first_seen for _, u in seen) == 1
        ranks = [
            RANK[str(u.job.status)] for _, u in seen if Change.STATUS in u.changes or u.first_seen
        ]
        assert ranks == sorted(set(ranks)), f"job {job_id}: statuses {ranks} not strictly forward"
        final = fake.job(job_id)
        last = seen[-1][1].job
        assert last.status == JobStatus.COMPLETED == final["status"]
        assert last.conclusion == final["conclusion"] == plan[job_id].conclusion
        done = [s.number for _, u in seen for s in u.steps_done]
        assert sorted(done) == done == [s["number"] for s in final["steps"]]
        assert all(s.status == StepStatus.COMPLETED for _, u in seen for s in u.steps_done)
        completed_at = next(when for when, u in seen if u.completed)
        assert completed_at >= plan[job_id].completed - 0.05  # never reported before it happened
        for (_, before), (_, after) in itertools.pairwise(seen):
            assert after.job != before.job  # each update is a change


async def _watch(scale: Scale) -> None:
    async with FakeGitHub() as fake:
        run_id = _live_run(fake, scale)
        async with Client(fake.token, base_url=fake.api_url) as client:
            updates = [
                (time.monotonic(), update)
                async for update in client.watch_run(OWNER, REPO, run_id, interval=scale.interval)
            ]
        ended = time.monotonic()
        _check_transitions(fake, run_id, updates)
        plan = fake.schedule(run_id)
        assert ended >= max(s.completed for s in plan)
        assert fake.run_dict(run_id)["status"] == "completed"
        stats = fake.stats
        full, not_modified = sum(stats.answers_200.values()), sum(stats.answers_304.values())
        share = not_modified / (full + not_modified)
        assert share >= 0.70, f"{not_modified} of {full + not_modified} polls were 304s"
        assert stats.primary_spent == full  # the primary budget paid for the 200s only
        assert stats.primary_violations == stats.secondary_violations == 0


async def test_watch_reports_every_transition_once_in_order() -> None:
    """40 jobs over 5 s: each change once, forward only; >= 70% 304s; budget = 200s."""
    await _watch(QUICK)


@pytest.mark.slow
async def test_watch_a_40_job_run_over_20_seconds() -> None:
    """The issue's scenario at full size: 40 jobs finishing over about 20 s."""
    await _watch(FULL)


async def _follow(
    scale: Scale,
    tmp_path: Path,
    attempts: int = 1,
    via: Literal["harvest", "download_logs"] = "harvest",
) -> None:
    """``harvest(follow=True)`` (timed through its progress hook), or ``download_logs`` fed
    by ``watch_run``, on a live run; every log checked against the fake's schedule."""
    async with FakeGitHub() as fake:
        run_id = _live_run(fake, scale, attempts=attempts)
        async with Client(fake.token, base_url=fake.api_url) as client:
            results: list[tuple[float, LogResult]] = []
            if via == "harvest":

                def finished(event: LogEvent) -> None:
                    if event.kind == "finished" and event.result is not None:
                        results.append((time.monotonic(), event.result))

                await client.harvest(
                    OWNER, REPO, run_id, tmp_path, follow=True, interval=scale.interval,
                    progress=finished,
                )  # fmt: skip
            else:
                updates = client.watch_run(OWNER, REPO, run_id, interval=scale.interval)
                async with client.download_logs(
                    OWNER, REPO, updates, tmp_path, grace=10.0
                ) as batch:
                    async for result in batch:
                        results.append((time.monotonic(), result))
        plan = {s.job_id: s for s in fake.schedule(run_id)}
        assert sorted(r.job_id for _, r in results) == sorted(plan)
        for when, result in results:
            job = plan[result.job_id]
            assert when <= job.completed + scale.interval + 1.0, (
                f"job {result.job_id} ({job.conclusion}) came {when - job.completed:.2f} s "
                "after it completed"
            )
            if job.log_at is None:  # skipped, or cancelled before it ran
                assert result.status is LogStatus.NOT_AVAILABLE
                continue
            assert result.status is LogStatus.DOWNLOADED, result
            assert result.path is not None
            assert file_sha256(result.path) == fake.log_sha256(result.job_id)
            assert result.path.stat().st_size == fake.log_size(result.job_id)
        never_ran = {s.job_id for s in plan.values() if s.log_at is None}
        assert not never_ran & logs_asked_for(fake)  # reported without a request
        assert len({s.attempt for s in plan.values()}) == attempts


@pytest.mark.parametrize("via", ["harvest", "download_logs"])
async def test_follow_harvest_takes_each_log_as_its_job_completes(
    tmp_path: Path, via: Literal["harvest", "download_logs"]
) -> None:
    """Every log byte-exact, each within interval + 1 s of its completion; never-ran at once."""
    await _follow(QUICK, tmp_path, via=via)


@pytest.mark.slow
async def test_follow_harvest_of_a_40_job_run_over_20_seconds(tmp_path: Path) -> None:
    """The follow harvest at full size."""
    await _follow(FULL, tmp_path)


async def test_a_rerun_mid_watch_is_reported_and_harvested(tmp_path: Path) -> None:
    """attempts=2: the re-run's jobs are reported and both attempts' logs are harvested."""
    await _follow(attrs.evolve(QUICK, jobs=12, duration=2.0, resolution=0.5), tmp_path, attempts=2)


async def test_harvest_follow_summary(tmp_path: Path) -> None:
    """harvest(follow=True) returns the usual summary once the run ends."""
    scale = attrs.evolve(QUICK, jobs=14, duration=2.0, resolution=0.5)
    async with FakeGitHub() as fake:
        run_id = _live_run(fake, scale)
        async with Client(fake.token, base_url=fake.api_url) as client:
            summary = await client.harvest(
                OWNER, REPO, run_id, tmp_path, follow=True, interval=scale.interval
            )
        never = sum(1 for s in fake.schedule(run_id) if s.log_at is None)
        assert summary.counts[LogStatus.DOWNLOADED] == 14 - never
        assert summary.counts[LogStatus.NOT_AVAILABLE] == never > 0
        assert summary.ok
        assert fake.run_dict(run_id)["status"] == "completed"


async def test_a_manual_rerun_is_followed() -> None:
    """fake.rerun while attempt 1 runs (it begins when attempt 1 ends): the watch follows it."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=4, live=True, duration=0.6, resolution=0.1)
        attempts_seen: list[int] = []
        async with Client(fake.token, base_url=fake.api_url) as client:
            async for update in client.watch_run(OWNER, REPO, run.run_id, interval=0.05):
                attempts_seen.append(update.job.run_attempt or 1)
                if update.completed and len(fake.schedule(run.run_id)) == 4:
                    fake.rerun(run.run_id)
        assert attempts_seen.count(1) >= 4
        assert attempts_seen.count(2) >= 4
        assert attempts_seen[0] == 1
        assert attempts_seen[-1] == 2
        assert attempts_seen == sorted(attempts_seen)
        assert fake.run_dict(run.run_id)["run_attempt"] == 2


async def test_a_manual_rerun_mid_harvest_is_harvested(tmp_path: Path) -> None:
    """fake.rerun once the first log is in: harvest(follow=True) takes both attempts' logs,
    byte-exact, and ends when the re-run ends."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=4, live=True, duration=0.6, resolution=0.1)
        finished: list[LogResult] = []

        def hook(event: LogEvent) -> None:
            if event.kind == "finished" and event.result is not None:
                finished.append(event.result)
                if len(finished) == 1:
                    fake.rerun(run.run_id)

        async with Client(fake.token, base_url=fake.api_url) as client:
            summary = await client.harvest(
                OWNER, REPO, run.run_id, tmp_path, follow=True, interval=0.05, progress=hook
            )
        plan = fake.schedule(run.run_id)
        assert {s.attempt for s in plan} == {1, 2}
        assert sorted(r.job_id for r in finished) == sorted(s.job_id for s in plan)
        for result in finished:
            if result.status is LogStatus.DOWNLOADED:
                assert result.path is not None
                assert file_sha256(result.path) == fake.log_sha256(result.job_id)
        with_log = sum(1 for s in plan if s.log_at is not None)
        assert summary.counts[LogStatus.DOWNLOADED] == with_log >= 4
        assert fake.run_dict(run.run_id)["run_attempt"] == 2


async def test_attempt_n_watches_that_attempt_only() -> None:
    """attempt=1 of a run re-run: only attempt 1's jobs, and the watch ends with it."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=3, live=True, duration=0.5, resolution=0.1, attempts=2)
        async with Client(fake.token, base_url=fake.api_url) as client:
            seen = {
                u.job.run_attempt
                async for u in client.watch_run(OWNER, REPO, run.run_id, attempt=1, interval=0.05)
            }
        assert seen == {1}


async def test_never_invents_a_transition_nor_reports_a_stale_one() -> None:
    """queued then completed is one update; a listing lagging back to in_progress is ignored."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=2, statuses=["queued"])
        lagging, other = run.job_ids
        done: dict[str, Any] = {
            "status": "completed",
            "conclusion": "success",
            "completed_at": "2026-01-01T00:00:10Z",
        }

        def settle() -> None:
            fake.update_job(lagging, **done)
            fake.update_job(other, **done)

        loop = asyncio.get_running_loop()
        async with Client(fake.token, base_url=fake.api_url) as client:
            updates: list[JobUpdate] = []
            async for update in client.watch_run(OWNER, REPO, run.run_id, interval=0.05):
                updates.append(update)
                if update.first_seen and update.job.id == lagging:
                    fake.update_job(lagging, **done)
                elif update.completed and update.job.id == lagging:  # lag back, then settle
                    fake.update_job(
                        lagging, status="in_progress", conclusion=None, completed_at=None
                    )
                    loop.call_later(0.4, settle)
        mine = [u for u in updates if u.job.id == lagging]
        assert [u.changes for u in mine] == [
            {Change.FIRST_SEEN},
            {Change.STATUS, Change.CONCLUSION},
        ]
        assert mine[1].previous_status == JobStatus.QUEUED
        assert [u.job.status for u in updates if u.job.id == other] == ["queued", "completed"]
        assert fake.stats.answers_200["attempt"] >= 4  # it did see the lagging listing


async def test_backoff_stays_between_interval_and_its_cap() -> None:
    """Waits between polls never go below interval nor above max_interval."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=3, live=True, duration=1.5, resolution=0.5)
        async with Client(fake.token, base_url=fake.api_url, sleep=sleep) as client:
            async for _ in client.watch_run(
                OWNER, REPO, run.run_id, interval=0.05, max_interval=0.2
            ):
                pass
    assert waits
    assert all(0.05 <= w <= 0.2 for w in waits)
    assert max(waits) == pytest.approx(0.2)  # it did lengthen while nothing changed
    assert waits.count(0.05) >= 2  # and came back after changes


async def test_a_finished_run_is_one_poll() -> None:
    """A completed run: every job reported once, no wait, two requests."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=5)
        async with Client(fake.token, base_url=fake.api_url) as client:
            updates = [u async for u in client.watch_run(OWNER, REPO, run.run_id, interval=60)]
        assert [u.job.id for u in updates] == run.job_ids
        assert fake.stats.api_requests == 2


async def test_cancellation_leaves_nothing_running() -> None:
    """Cancelling a watch mid-poll: no request task left, the client still works."""
    async with FakeGitHub(api_latency=0.05) as fake:
        run = fake.add_run(OWNER, REPO, jobs=250, live=True, duration=30.0)
        async with Client(fake.token, base_url=fake.api_url) as client:

            async def consume() -> None:
                async for _ in client.watch_run(OWNER, REPO, run.run_id, interval=0.05):
                    pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            left = [
                t
                for t in asyncio.all_tasks()
                if not t.done() and "Session.request" in repr(t.get_coro())
            ]
            assert left == []
            assert client._session.budget.limiter.in_flight == 0  # type: ignore[attr-defined]
            assert (await client.get_run(OWNER, REPO, run.run_id)).id == run.run_id


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"interval": 0}, "interval"),
        ({"interval": -1.0}, "interval"),
        ({"interval": float("nan")}, "interval"),
        ({"interval": 2.0, "max_interval": 1.0}, "max_interval"),
        ({"attempt": 0}, "attempt"),
    ],
)
async def test_bad_arguments_raise_before_any_request(kwargs: dict[str, Any], name: str) -> None:
    """InvalidArgumentError naming the value, and nothing sent."""
    async with FakeGitHub() as fake:
        async with Client(fake.token, base_url=fake.api_url) as client:
            with pytest.raises(InvalidArgumentError) as info:
                client.watch_run(OWNER, REPO, 1, **kwargs)
            assert info.value.name == name
            with pytest.raises(InvalidArgumentError):
                await client.harvest(OWNER, REPO, 1, ".", follow=True, filter="all")
            for follow in (True, False):
                with pytest.raises(InvalidArgumentError) as info:
                    await client.harvest(OWNER, REPO, 1, ".", follow=follow, only_failed="no")  # type: ignore[arg-type]
                assert info.value.name == "only_failed"
        assert fake.stats.api_requests == 0


async def test_a_log_later_than_the_grace_period_is_not_available(tmp_path: Path) -> None:
    """A 404 is asked again only for `grace` seconds after completion, then not_available."""
    async with FakeGitHub() as fake:
        run = fake.add_run(
            OWNER, REPO, jobs=2, live=True, duration=0.4, resolution=0.1, log_lag=30.0
        )
        async with Client(fake.token, base_url=fake.api_url) as client:
            updates = client.watch_run(OWNER, REPO, run.run_id, interval=0.05)
            started = time.monotonic()
            async with client.download_logs(OWNER, REPO, updates, tmp_path, grace=0.5) as batch:
                results = [result async for result in batch]
        assert [r.status for r in results] == [LogStatus.NOT_AVAILABLE] * 2
        assert time.monotonic() - started < 5.0
        asked = [r for r in fake.stats.requests_log if r.path_qs.endswith("/logs")]
        assert 2 * 2 <= len(asked) <= 2 * 8  # asked again a few times each, not hammered
