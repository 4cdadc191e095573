"""Watching a live run: poll the run and its jobs with conditional requests, report changes.

Each poll asks for the run (``GET .../runs/{id}``, or ``.../attempts/{n}`` for a fixed
attempt) and then for the jobs of the watched attempt (``.../attempts/{n}/jobs``), both
through the session, so an unchanged answer is a 304 that costs no primary budget. What
changed is decided by :class:`~gh_jobs_async._changes.JobTracker` (pure). The run comes
first: once it says completed, the jobs fetched after it are final.

With ``attempt=None`` a re-run is followed: when the run's ``run_attempt`` moves on, the old
attempt's jobs are listed once more (their last transitions are reported), then the new
attempt's jobs are reported as they appear.

No task is open across a ``yield`` (PEP 789): each listing runs to its end inside one step
of the generator, so leaving the loop or cancelling it leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from . import _sansio
from ._changes import JobTracker, finished, next_delay
from ._paginate import JobStream
from ._session import Session
from .models import Job, JobUpdate, WorkflowRun, decode_run

__all__ = ["watch"]

logger = logging.getLogger(__name__)

PER_PAGE = 100


async def _get_run(
    session: Session, owner: str, repo: str, run_id: int, attempt: int | None
) -> WorkflowRun:
    url = session.api.build(*_sansio.run_segments(owner, repo, run_id, attempt))
    return decode_run((await session.request(url)).body)


async def _list_attempt(
    session: Session, owner: str, repo: str, run_id: int, attempt: int
) -> list[Job]:
    path = ("repos", owner, repo, "actions", "runs", run_id, "attempts", attempt, "jobs")
    url = session.api.build(*path, query={"per_page": PER_PAGE})
    stream = JobStream(
        session,
        url,
        per_page=PER_PAGE,
        max_items=None,
        window=max(2, 2 * session.config.max_concurrency),
    )
    return await stream.collect()


async def watch(
    session: Session,
    owner: str,
    repo: str,
    run_id: int,
    *,
    attempt: int | None,
    interval: float,
    max_interval: float,
) -> AsyncIterator[JobUpdate]:
    """Yield each observed change of the run's jobs, once, in order; end when all is done.

    Arguments are validated by the caller (:meth:`Client.watch_run`).
    """
    tracker = JobTracker()
    watched: int | None = attempt
    delay = interval
    polls = 0
    while True:
        run = await _get_run(session, owner, repo, run_id, attempt)
        polls += 1
        latest = run.run_attempt or 1
        target = attempt if attempt is not None else max(latest, watched or 1)
        updates: list[JobUpdate] = []
        if watched is not None and target != watched:
            logger.info("run %d was re-run: now watching attempt %d", run_id, target)
            updates += tracker.observe(await _list_attempt(session, owner, repo, run_id, watched))
        watched = target
        jobs = await _list_attempt(session, owner, repo, run_id, target)
        updates += tracker.observe(jobs)
        for update in updates:
            yield update
        if run.run_attempt in (None, target) and finished(run.status, jobs):
            logger.debug("run %d completed after %d polls", run_id, polls)
            return
        delay = next_delay(delay, interval=interval, cap=max_interval, changed=bool(updates))
        await session.config.sleep(delay)
