"""The live runs of the fake's job store: attempts that unfold on a schedule.

`LiveRuns` is a part of `gh_jobs_async.testing._data.JobStore` (its base class): it creates
a live run's attempts, lets each begin at its time, and brings what the API shows up to the
moment of each request (`LiveRuns.advance`). The schedule and the job at each instant are
pure (`gh_jobs_async.testing._live`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gh_jobs_async.testing._jobgen import JobBlueprint, build_attempt
from gh_jobs_async.testing._live import (
    JobTimes,
    LiveSpec,
    ScheduledJob,
    job_at,
    observed,
    schedule,
    visible_at,
)
from gh_jobs_async.testing._logs import LogSpec

if TYPE_CHECKING:
    from gh_jobs_async.testing._data import FakeRun, JobRecord, _Run

__all__ = ["LiveAttempt", "LiveRuns"]

JSONDict = dict[str, Any]


@dataclass
class LiveAttempt:
    """One scheduled attempt of a live run; its jobs enter the store when it begins."""

    number: int
    begins: float  # time.monotonic
    wall: float  # epoch seconds at ``begins``
    finals: list[JSONDict]
    logs: list[LogSpec]
    times: list[JobTimes]
    shown: bool = False
    done: bool = False


class LiveRuns:
    """Live runs of a `JobStore` (its base class; the attributes are the store's)."""

    seed: int
    api_url: str | None
    html_origin: str
    _next_job: int
    _runs: dict[int, _Run]
    _jobs: dict[int, JobRecord]
    _pages: dict[tuple[int, str, int, int], tuple[bytes, int]]

    def _store(self, job: JSONDict, log: LogSpec, run: _Run, run_id: int, attempt: int) -> None:
        raise NotImplementedError  # pragma: no cover - JobStore's

    def fake_run(self, run_id: int) -> FakeRun:
        raise NotImplementedError  # pragma: no cover - JobStore's

    def _build(
        self, run: _Run, run_id: int, blueprint: JobBlueprint, attempt: int
    ) -> tuple[list[JSONDict], list[LogSpec]]:
        assert self.api_url is not None  # noqa: S101 - checked by add_run
        first = self._next_job
        self._next_job += blueprint.jobs
        return build_attempt(
            blueprint,
            api_url=self.api_url,
            html_origin=self.html_origin,
            owner=run.owner,
            repo=run.repo,
            run_id=run_id,
            attempt=attempt,
            first_job_id=first,
            seed=self.seed,
        )

    def _schedule_attempt(self, run: _Run, run_id: int, begins: float, wall: float) -> None:
        live, blueprint = run.live, run.blueprint
        if live is None or blueprint is None:
            raise ValueError(f"run {run_id} is not live")
        number = len(run.scheduled) + 1
        finals, logs = self._build(run, run_id, blueprint, number)
        times = schedule(self.seed, run_id, number, [j["conclusion"] for j in finals], live)
        run.scheduled.append(LiveAttempt(number, begins, wall, finals, logs, times))

    def _add_live(
        self, run: _Run, run_id: int, blueprint: JobBlueprint, attempts: int, live: LiveSpec
    ) -> FakeRun:
        """A live run: attempt k+1 begins the moment attempt k has completed (a re-run)."""
        run.live, run.blueprint = live, dataclasses.replace(blueprint, statuses=None)
        now, wall = time.monotonic(), time.time()
        span = visible_at(live.duration, live.resolution)
        for k in range(attempts):
            self._schedule_attempt(run, run_id, now + k * span, wall + k * span)
        self._runs[run_id] = run
        self.advance(now)
        return self.fake_run(run_id)

    def rerun(self, run_id: int) -> int:
        """Start a new attempt of a live run now; returns its number. KeyError if unknown,
        ValueError when the run is not live."""
        run = self._runs[run_id]
        if run.live is None:
            raise ValueError(f"run {run_id} is not live")
        now = time.monotonic()
        self.advance(now)
        span = visible_at(run.live.duration, run.live.resolution)
        begins = max([now] + [a.begins + span for a in run.scheduled])
        self._schedule_attempt(run, run_id, begins, time.time() + (begins - now))
        self.advance(now)
        return len(run.scheduled)

    def advance(self, now: float) -> None:
        """Bring every live run to what the API shows at ``now`` (time.monotonic)."""
        for run_id, run in self._runs.items():
            if run.live is None:
                continue
            for attempt in run.scheduled:
                if not attempt.done and now >= attempt.begins:
                    self._advance_attempt(run, run_id, attempt, now)

    def _advance_attempt(self, run: _Run, run_id: int, attempt: LiveAttempt, now: float) -> None:
        assert run.live is not None  # noqa: S101 - live runs only
        live = run.live
        elapsed = observed(now - attempt.begins, live.resolution)
        if not attempt.shown:
            attempt.shown = True
            for final, log, times in zip(attempt.finals, attempt.logs, attempt.times, strict=True):
                queued = job_at(final, times, -1.0, attempt.wall)
                self._store(queued, log, run, run_id, attempt.number)
                self._jobs[int(final["id"])].log_state = "not_available"
            run.attempts.append([int(job["id"]) for job in attempt.finals])
            self._pages.clear()
        changed, done = False, True
        for final, times in zip(attempt.finals, attempt.times, strict=True):
            rec = self._jobs[int(final["id"])]
            shown = job_at(final, times, elapsed, attempt.wall)
            if shown != rec.job:
                rec.job, rec.body, rec.modified = shown, None, time.time()
                changed = True
            log_at = times.log_at(live)
            ready = log_at is not None and now - attempt.begins >= log_at
            if ready and rec.log_state == "not_available":
                rec.log_state = "ok"
            done = done and shown["status"] == "completed" and (log_at is None or ready)
        attempt.done = done
        if changed:
            self._pages.clear()

    def live_schedule(self, run_id: int) -> list[ScheduledJob]:
        """When each job of a live run shows as started and completed, and its log appears."""
        run = self._runs[run_id]
        if run.live is None:
            raise ValueError(f"run {run_id} is not live")
        live = run.live
        res = live.resolution
        return [
            ScheduledJob(
                job_id=int(final["id"]),
                attempt=attempt.number,
                conclusion=final["conclusion"],
                started=attempt.begins + visible_at(times.start, res),
                completed=attempt.begins + visible_at(times.end, res),
                log_at=None
                if times.log_at(live) is None
                else attempt.begins + (times.log_at(live) or 0.0),
            )
            for attempt in run.scheduled
            for final, times in zip(attempt.finals, attempt.times, strict=True)
        ]
