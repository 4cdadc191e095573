"""What changed between two observations of a run's jobs: pure, no I/O, no clock.

:class:`JobTracker` turns successive listings into :class:`~gh_jobs_async.models.JobUpdate`
values, each change once, in the order observed. States need not pass through every status
(queued straight to completed is reported as one update), and a listing may lag: an
observation older than what was already seen (status moving backwards, a conclusion
vanishing) is ignored rather than reported, so nothing is reported twice and nothing is
invented. The polling schedule and the end condition of a watch live here too; the I/O is
:mod:`gh_jobs_async._watch`.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from .models import Change, Job, JobConclusion, JobStatus, JobUpdate, StepStatus

__all__ = ["BACKOFF", "JobTracker", "finished", "never_ran", "next_delay"]

BACKOFF = 1.5  # the interval grows by this factor per poll that saw no change
_RANK: dict[str, int] = {
    JobStatus.QUEUED: 0,
    JobStatus.WAITING: 0,
    JobStatus.REQUESTED: 0,
    JobStatus.PENDING: 0,
    JobStatus.IN_PROGRESS: 1,
    JobStatus.COMPLETED: 2,
}
_UNKNOWN_RANK = 1  # a status GitHub adds later: after queued, before completed


def _rank(status: str) -> int:
    return _RANK.get(status, _UNKNOWN_RANK)


def _done(job: Job) -> frozenset[int]:
    return frozenset(step.number for step in job.steps if step.status == StepStatus.COMPLETED)


@attrs.define
class JobTracker:
    """The latest accepted observation of each job, and the steps seen completed."""

    _last: dict[int, Job] = attrs.field(factory=dict)
    _steps: dict[int, frozenset[int]] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return len(self._last)

    def job(self, job_id: int) -> Job | None:
        """The latest accepted observation of a job."""
        return self._last.get(job_id)

    def observe(self, jobs: Iterable[Job]) -> list[JobUpdate]:
        """The updates a new listing brings, in listing order; remembers what it saw."""
        updates = []
        for job in jobs:
            update = self._observe(job)
            if update is not None:
                updates.append(update)
        return updates

    def _observe(self, job: Job) -> JobUpdate | None:
        prev = self._last.get(job.id)
        done = _done(job)
        if prev is None:
            self._last[job.id] = job
            self._steps[job.id] = done
            steps = tuple(step for step in job.steps if step.number in done)
            return JobUpdate(job=job, changes=frozenset({Change.FIRST_SEEN}), steps_done=steps)
        if _stale(prev, job):
            return None
        changes: set[Change] = set()
        if job.status != prev.status:
            changes.add(Change.STATUS)
        if job.conclusion != prev.conclusion:
            changes.add(Change.CONCLUSION)
        new_steps = done - self._steps[job.id]
        if new_steps:
            changes.add(Change.STEPS)
        self._last[job.id] = job
        self._steps[job.id] = self._steps[job.id] | done
        if not changes:
            return None
        return JobUpdate(
            job=job,
            changes=frozenset(changes),
            previous_status=prev.status,
            previous_conclusion=prev.conclusion,
            steps_done=tuple(step for step in job.steps if step.number in new_steps),
        )


def _stale(prev: Job, job: Job) -> bool:
    """Whether ``job`` is an older state than ``prev`` (a lagging listing)."""
    if _rank(job.status) < _rank(prev.status):
        return True
    return prev.conclusion is not None and job.conclusion is None


def next_delay(delay: float, *, interval: float, cap: float, changed: bool) -> float:
    """Seconds before the next poll: ``interval`` after a change, else longer, up to ``cap``."""
    if changed:
        return interval
    return max(interval, min(cap, delay * BACKOFF))


def finished(run_status: object, jobs: Iterable[Job]) -> bool:
    """Whether a watch is over: the run completed and every job of the attempt too."""
    return run_status == JobStatus.COMPLETED and all(
        job.status == JobStatus.COMPLETED for job in jobs
    )


def never_ran(job: Job) -> bool:
    """Whether a completed job never ran, and so never gets a log (skipped, or cancelled
    before a runner took it)."""
    if job.status != JobStatus.COMPLETED:
        return False
    if job.conclusion == JobConclusion.SKIPPED:
        return True
    return job.conclusion == JobConclusion.CANCELLED and job.runner_id is None and not job.steps
