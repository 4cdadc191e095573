"""Live runs: jobs that move from queued to in_progress to completed while they are watched.

Pure functions of a seeded schedule and the elapsed time, so tests can compute what the fake
shows at any moment. Each job of an attempt gets ``start`` and ``end`` offsets (seconds from
the attempt's start, the latest ``end`` equal to the attempt's ``duration``); steps split
``[start, end]`` evenly and complete one after the other. Jobs concluded ``skipped`` or
``cancelled`` never run: they go from queued straight to completed, and never get a log.
A log is served ``log_lag`` seconds after its job shows as completed (404 before).

What the API shows advances in steps of ``resolution`` seconds (GitHub's state moves as the
runners report), so the content, and the ETag with it, changes only at those instants.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["JobTimes", "LiveSpec", "ScheduledJob", "job_at", "observed", "schedule", "visible_at"]

JSONDict = dict[str, Any]
_NEVER_RUN = ("skipped", "cancelled")


@dataclass(frozen=True)
class LiveSpec:
    """How a live run's attempts unfold: seconds, and the API's time resolution."""

    duration: float = 20.0
    resolution: float = 1.0
    log_lag: float = 0.0

    def __post_init__(self) -> None:
        """Reject times the schedule cannot use."""
        if not self.duration > 0 or not self.resolution > 0 or self.log_lag < 0:
            raise ValueError("duration and resolution must be > 0, log_lag >= 0")


@dataclass(frozen=True)
class JobTimes:
    """One job's schedule: offsets from its attempt's start; ``has_log`` False: never a log."""

    start: float
    end: float
    has_log: bool

    def log_at(self, spec: LiveSpec) -> float | None:
        """Offset at which the log is served: ``log_lag`` after the completion shows."""
        return visible_at(self.end, spec.resolution) + spec.log_lag if self.has_log else None


@dataclass(frozen=True)
class ScheduledJob:
    """When a live job shows as started and completed, and its log is served.

    ``time.monotonic`` seconds of the fake's process; ``log_at`` None: never a log.
    """

    job_id: int
    attempt: int
    conclusion: str | None
    started: float
    completed: float
    log_at: float | None


def schedule(
    seed: int, run_id: int, attempt: int, conclusions: list[str | None], spec: LiveSpec
) -> list[JobTimes]:
    """Seeded start and end offsets for the jobs of one attempt (by final conclusion)."""
    rng = random.Random(f"gh-jobs-fake:{seed}:live:{run_id}:{attempt}")
    raw: list[tuple[float, float, bool]] = []
    for conclusion in conclusions:
        ran = conclusion not in _NEVER_RUN
        start = rng.uniform(0.0, 0.5)
        end = start + rng.uniform(0.15, 0.5) if ran else start
        raw.append((start, end, ran))
    scale = spec.duration / max((end for _, end, _ in raw), default=1.0)
    return [JobTimes(start=start * scale, end=end * scale, has_log=ran) for start, end, ran in raw]


def observed(elapsed: float, resolution: float) -> float:
    """The elapsed time the API shows: ``elapsed`` rounded down to the resolution."""
    return math.floor(max(0.0, elapsed) / resolution + 1e-9) * resolution


def visible_at(offset: float, resolution: float) -> float:
    """The first observed instant at or after ``offset``."""
    return math.ceil(offset / resolution - 1e-9) * resolution


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_at(final: JSONDict, times: JobTimes, elapsed: float, wall_start: float) -> JSONDict:
    """The job dict as the API shows it ``elapsed`` (observed) seconds into its attempt.

    ``final`` is the completed job; ``wall_start`` the attempt's start in epoch seconds.
    """
    job = dict(final)
    job["created_at"] = _ts(wall_start)
    ran = final.get("runner_id") is not None
    if elapsed < times.start or (not ran and elapsed < times.end):
        job.update(status="queued", conclusion=None, started_at=_ts(wall_start))
        job.update(completed_at=None, steps=[])
        for key in ("runner_id", "runner_name", "runner_group_id", "runner_group_name"):
            job[key] = None
        return job
    job["started_at"] = _ts(wall_start + times.start)
    steps = list(final.get("steps") or [])
    count = max(1, len(steps))
    span = times.end - times.start
    bounds = [wall_start + times.start + span * i / count for i in range(count + 1)]
    if elapsed >= times.end:
        job["completed_at"] = _ts(wall_start + times.end)
        job["steps"] = [_step(step, bounds, i, "completed") for i, step in enumerate(steps)]
        return job
    running = min(count - 1, int((elapsed - times.start) / span * count)) if span > 0 else 0
    job.update(status="in_progress", conclusion=None, completed_at=None)
    job["steps"] = [
        _step(
            step,
            bounds,
            i,
            "completed" if i < running else "in_progress" if i == running else "queued",
        )
        for i, step in enumerate(steps)
    ]
    return job


def _step(step: JSONDict, bounds: list[float], index: int, status: str) -> JSONDict:
    out = dict(step)
    out["status"] = status
    if status == "completed":
        out["started_at"], out["completed_at"] = _ts(bounds[index]), _ts(bounds[index + 1])
    elif status == "in_progress":
        out.update(conclusion=None, started_at=_ts(bounds[index]), completed_at=None)
    else:
        out.update(conclusion=None, started_at=None, completed_at=None)
    return out
