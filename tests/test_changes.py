"""What changed between observations of a run's jobs: pure rules, no event loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from _support import sample_job

from gh_jobs_async import Change, Job, JobStatus, JobUpdate
from gh_jobs_async._changes import JobTracker, finished, never_ran, next_delay
from gh_jobs_async.models import decode_job


def _steps(done: int, total: int = 4) -> list[dict[str, Any]]:
    steps = []
    for number in range(1, total + 1):
        status = (
            "completed" if number <= done else ("in_progress" if number == done + 1 else "queued")
        )
        steps.append(
            {
                "name": f"step {number}",
                "status": status,
                "conclusion": "success" if status == "completed" else None,
                "number": number,
                "started_at": "2020-01-20T17:42:40Z" if status != "queued" else None,
                "completed_at": "2020-01-20T17:43:40Z" if status == "completed" else None,
            }
        )
    return steps


def job(status: str, *, done: int = 0, conclusion: str | None = None, job_id: int = 1) -> Job:
    """A job of four steps, ``done`` of them completed."""
    completed = "2020-01-20T17:44:39Z" if status == "completed" else None
    steps = _steps(done) if status != "queued" else []
    return decode_job(
        sample_job(
            id=job_id, status=status, conclusion=conclusion, completed_at=completed, steps=steps
        )
    )


def test_first_observation_reports_every_job_once_in_listing_order() -> None:
    """Each job is first seen once, in the order of the listing; then nothing is new."""
    tracker = JobTracker()
    listing = [job("queued", job_id=3), job("in_progress", done=1, job_id=1)]
    updates = tracker.observe(listing)
    assert [u.job.id for u in updates] == [3, 1]
    assert all(u.first_seen and u.changes == {Change.FIRST_SEEN} for u in updates)
    assert [s.number for s in updates[1].steps_done] == [1]
    assert tracker.observe(listing) == []


def test_status_steps_and_conclusion_are_reported_as_they_change() -> None:
    """in_progress with more steps done, then completed with its conclusion."""
    tracker = JobTracker()
    tracker.observe([job("queued")])
    (started,) = tracker.observe([job("in_progress", done=0)])
    assert started.changes == {Change.STATUS}
    assert started.previous_status == JobStatus.QUEUED
    (steps,) = tracker.observe([job("in_progress", done=2)])
    assert steps.changes == {Change.STEPS}
    assert [s.number for s in steps.steps_done] == [1, 2]
    (done,) = tracker.observe([job("completed", done=4, conclusion="failure")])
    assert done.changes == {Change.STATUS, Change.CONCLUSION, Change.STEPS}
    assert done.completed
    assert [s.number for s in done.steps_done] == [3, 4]
    assert done.previous_conclusion is None


def test_queued_straight_to_completed_is_one_update_and_nothing_invented() -> None:
    """A job seen queued then completed: one update queued -> completed, no in_progress."""
    tracker = JobTracker()
    tracker.observe([job("queued")])
    updates = tracker.observe([job("completed", done=4, conclusion="success")])
    assert len(updates) == 1
    assert updates[0].previous_status == JobStatus.QUEUED
    assert updates[0].job.status == JobStatus.COMPLETED


def test_a_lagging_listing_is_ignored_and_nothing_is_reported_twice() -> None:
    """A job seen completed, then in_progress again (stale), then completed: one completion."""
    tracker = JobTracker()
    tracker.observe([job("in_progress", done=1)])
    assert len(tracker.observe([job("completed", done=4, conclusion="success")])) == 1
    assert tracker.observe([job("in_progress", done=2)]) == []
    assert tracker.observe([job("completed", done=3, conclusion=None)]) == []
    assert tracker.observe([job("completed", done=4, conclusion="success")]) == []
    assert tracker.job(1) is not None
    assert tracker.job(1).conclusion == "success"  # type: ignore[union-attr]


def test_steps_seen_done_are_never_reported_again() -> None:
    """Steps flickering back to running in a listing are not reported done twice."""
    tracker = JobTracker()
    tracker.observe([job("in_progress", done=2)])
    assert tracker.observe([job("in_progress", done=1)]) == []
    (more,) = tracker.observe([job("in_progress", done=3)])
    assert [s.number for s in more.steps_done] == [3]


def test_completed_is_true_only_on_the_update_that_saw_completion() -> None:
    """A conclusion changed later does not count as a second completion."""
    tracker = JobTracker()
    tracker.observe([job("in_progress")])
    (done,) = tracker.observe([job("completed", done=4, conclusion="failure")])
    (recheck,) = tracker.observe([job("completed", done=4, conclusion="success")])
    assert done.completed
    assert not recheck.completed
    assert recheck.changes == {Change.CONCLUSION}


def test_backoff_grows_while_idle_within_interval_and_cap() -> None:
    """Idle polls lengthen the wait up to the cap; a change brings back the interval."""
    delay, seen = 1.0, []
    for _ in range(10):
        delay = next_delay(delay, interval=1.0, cap=4.0, changed=False)
        seen.append(delay)
    assert seen[0] == pytest.approx(1.5)
    assert seen == sorted(seen)
    assert all(1.0 <= d <= 4.0 for d in seen)
    assert seen[-1] == 4.0
    assert next_delay(4.0, interval=1.0, cap=4.0, changed=True) == 1.0
    assert next_delay(1.0, interval=1.0, cap=1.0, changed=False) == 1.0


def test_a_watch_ends_only_when_the_run_and_every_job_completed() -> None:
    """Run completed plus every job completed; anything less goes on."""
    done = job("completed", done=4, conclusion="success")
    assert finished("completed", [done, done])
    assert finished("completed", [])
    assert not finished("in_progress", [done])
    assert not finished("completed", [done, job("in_progress")])


@pytest.mark.parametrize(
    ("status", "conclusion", "steps", "expected"),
    [
        ("completed", "skipped", 0, True),
        ("completed", "cancelled", 0, True),
        ("completed", "cancelled", 2, False),  # cancelled while running: it has a log
        ("completed", "failure", 4, False),
        ("in_progress", None, 1, False),
    ],
)
def test_never_ran(status: str, conclusion: str | None, steps: int, expected: bool) -> None:
    """Skipped jobs and jobs cancelled before a runner took them have no log."""
    body = sample_job(status=status, conclusion=conclusion, steps=_steps(steps) if steps else [])
    if not steps:
        body.update(runner_id=None, runner_name=None, runner_group_id=None, runner_group_name=None)
    assert never_ran(decode_job(body)) is expected


def test_a_watch_line_names_the_steps_done_as_they_are() -> None:
    """Steps 1 and 3 (2 skipped, not done) read "1,3", not "1-3"; a run of them "1-2"."""
    from gh_jobs_async._cli_watch import change_line

    when = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    current = job("in_progress", done=3)
    steps = current.steps
    gap = JobUpdate(current, frozenset({Change.STEPS}), steps_done=(steps[0], steps[2]))
    assert "step 1,3/4 done" in change_line(gap, when)
    run = JobUpdate(current, frozenset({Change.STEPS}), steps_done=(steps[0], steps[1]))
    assert "step 1-2/4 done" in change_line(run, when)
