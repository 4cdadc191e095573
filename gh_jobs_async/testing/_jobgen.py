"""Building realistic job dicts (and their log specs) for one attempt of a run.

Pure functions of their arguments: the same blueprint, ids and seed give the same dicts.
Status and conclusion rules:

* ``completed`` jobs get ``completed_at``, a runner and 3-8 steps. A ``failure`` fails one
  step and skips the rest; ``timed_out`` cancels it. ``cancelled`` means cancelled before a
  runner picked the job: no runner, no steps and no log (the logs endpoint answers 404).
  ``skipped`` jobs have no runner, no steps and no log either, as on GitHub.
* ``in_progress`` jobs have a runner, some finished steps and no conclusion; ``queued``,
  ``waiting``, ``requested`` and ``pending`` ones have neither runner nor steps. None of
  these has a log yet.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gh_jobs_async.testing._logs import LogSpec
from gh_jobs_async.testing._rungen import run_basics
from gh_jobs_async.testing._steplog import StepPlan, step_kind

__all__ = ["JobBlueprint", "build_attempt", "default_name", "log_available"]

_FIXED = ("lint", "typecheck", "docs")
_OSES = ("ubuntu-latest", "windows-latest", "macos-14", "ubuntu-24.04-arm")
_PYTHONS = ("3.11", "3.12", "3.13")
_DATABASES = ("postgres-16", "mysql-8.4", "sqlite")
_BROWSERS = ("chromium", "firefox", "webkit")
_MIDDLE_STEPS = (
    "Set up Python 3.12",
    "Install dependencies",
    "Run ruff check .",
    "Run tests",
    "Build wheel",
    "Upload coverage",
)
_FAILED = ("failure", "timed_out")
_NOT_STARTED = ("queued", "waiting", "requested", "pending")

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class JobBlueprint:
    """How the jobs of every attempt of a run look; sequences are cycled over job indexes."""

    jobs: int
    log_size: int | Sequence[int]
    conclusions: Sequence[str]
    names: Sequence[str] | None
    statuses: Sequence[str] | None
    workflow_name: str | None
    head_branch: str | None
    composite: Sequence[bool] = (False,)  # per job: a step prints inner ``Run`` groups
    clock_skew: float = 0.0  # s the runners' clocks are behind GitHub's (the log's times)

    def size_of(self, index: int) -> int:
        """Log size of job ``index``."""
        if isinstance(self.log_size, int):
            return self.log_size
        return self.log_size[index % len(self.log_size)]

    def name_of(self, index: int) -> str:
        """Name of job ``index``: the ``names`` override or `default_name`."""
        if self.names:
            return self.names[index % len(self.names)]
        return default_name(index)


def default_name(index: int) -> str:
    """Realistic, unique job names: matrix builds, sharded tests, a few fixed jobs."""
    if index < len(_FIXED):
        return _FIXED[index]
    kind, n = divmod(index - len(_FIXED), 4)[::-1]
    if kind == 0:
        os_name, python = _OSES[n % len(_OSES)], _PYTHONS[(n // len(_OSES)) % len(_PYTHONS)]
        extra = "" if n < 12 else f", variant {n // 12}"
        return f"build ({os_name}, {python}{extra})"
    if kind == 1:
        return f"test / unit (shard {n + 1})"
    if kind == 2:
        return f"test / integration ({_DATABASES[n % 3]}, {n + 1})"
    return f"e2e ({_BROWSERS[n % 3]}, {n + 1})"


def log_available(job: JSONDict) -> bool:
    """Whether GitHub would have a log for this job: completed, and it ran (skipped jobs
    and jobs cancelled before a runner took them never get one)."""
    return bool(job["status"] == "completed" and job["conclusion"] not in ("cancelled", "skipped"))


def _ts(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _labels(name: str) -> list[str]:
    for os_name in _OSES[1:]:
        if os_name.split("-")[0] in name:
            return [os_name]
    return ["ubuntu-latest"]


def _node_id(job_id: int) -> str:
    raw = b"\x93\x0c\xce" + job_id.to_bytes(8, "big")
    return "CR_kwDO" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class _Attempt:
    """What every job of one attempt shares."""

    blueprint: JobBlueprint
    repo_api: str
    html_repo: str
    run_id: int
    attempt: int
    head_sha: str
    created: datetime
    seed: int


def build_attempt(
    blueprint: JobBlueprint,
    *,
    api_url: str,
    html_origin: str,
    owner: str,
    repo: str,
    run_id: int,
    attempt: int,
    first_job_id: int,
    seed: int,
    run_start: datetime | None = None,
) -> tuple[list[JSONDict], list[LogSpec]]:
    """Job dicts and log specs of attempt ``attempt``, ids from ``first_job_id`` upwards;
    ``run_start`` overrides the run's creation time derived from the seed."""
    head_sha, derived_start = run_basics(seed, run_id)
    run_start = derived_start if run_start is None else run_start
    shared = _Attempt(
        blueprint=blueprint,
        repo_api=f"{api_url}/repos/{owner}/{repo}",
        html_repo=f"{html_origin}/{owner}/{repo}",
        run_id=run_id,
        attempt=attempt,
        head_sha=head_sha,
        created=run_start + timedelta(hours=3 * (attempt - 1)),
        seed=seed,
    )
    rng = random.Random(f"gh-jobs-fake:{seed}:run:{run_id}:attempt:{attempt}")
    built = [_job(rng, shared, index, first_job_id + index) for index in range(blueprint.jobs)]
    return [job for job, _ in built], [log for _, log in built]


def _job(rng: random.Random, shared: _Attempt, index: int, job_id: int) -> tuple[JSONDict, LogSpec]:
    """One job dict (every schema property, GitHub's key order) and its log spec."""
    bp = shared.blueprint
    status = bp.statuses[index % len(bp.statuses)] if bp.statuses else "completed"
    conclusion: str | None = bp.conclusions[index % len(bp.conclusions)]
    name = bp.name_of(index)
    created = shared.created + timedelta(seconds=index // 20)
    started = created + timedelta(seconds=rng.randrange(2, 90))
    duration = timedelta(seconds=rng.randrange(20, 1500))
    runner_id = rng.randrange(1, 60)
    runner = status in ("completed", "in_progress") and conclusion not in ("cancelled", "skipped")
    completed: datetime | None = started + duration if runner else started
    if status != "completed":
        conclusion = completed = None
    if status in _NOT_STARTED:
        started = created
    job: JSONDict = {
        "id": job_id,
        "run_id": shared.run_id,
        "workflow_name": bp.workflow_name,
        "head_branch": bp.head_branch,
        "run_url": f"{shared.repo_api}/actions/runs/{shared.run_id}",
        "run_attempt": shared.attempt,
        "node_id": _node_id(job_id),
        "head_sha": shared.head_sha,
        "url": f"{shared.repo_api}/actions/jobs/{job_id}",
        "html_url": f"{shared.html_repo}/actions/runs/{shared.run_id}/job/{job_id}",
        "status": status,
        "conclusion": conclusion,
        "created_at": _ts(created),
        "started_at": _ts(started),
        "completed_at": _ts(completed),
        "name": name,
        "steps": [],
        "check_run_url": f"{shared.repo_api}/check-runs/{job_id}",
        "labels": _labels(name),
        "runner_id": runner_id if runner else None,
        "runner_name": f"GitHub Actions {runner_id}" if runner else None,
        "runner_group_id": 0 if runner else None,
        "runner_group_name": "GitHub Actions" if runner else None,
    }
    steps = _steps(rng, status, conclusion, started, duration) if runner else []
    log = LogSpec(
        job_id=job_id,
        size=bp.size_of(index),
        name=name,
        failed=conclusion in _FAILED,
        started=started,
        runner_name=f"GitHub Actions {runner_id}",
        seed=shared.seed,
        steps=_plan(steps, composite=bp.composite[index % len(bp.composite)]),
    )
    if steps:
        _time_steps(steps, log, job_id, bp.clock_skew)
        if job["completed_at"] is not None:  # the job ends with its last step
            job["completed_at"] = max(job["started_at"], steps[-1]["completed_at"] or "")
    job["steps"] = steps
    return job, log


def _plan(steps: list[JSONDict], *, composite: bool) -> tuple[StepPlan, ...]:
    """What the log of these steps holds: the steps that ran (not skipped, not pending).

    The failed step, or else the last one that runs a command, carries the log's bulk;
    in a composite job the first other command step prints inner ``Run`` groups.
    """
    ran = [s for s in steps if s["conclusion"] not in ("skipped", None)]
    runs = [s["number"] for s in ran if step_kind(s["name"]) == "run"]
    failed = [s["number"] for s in ran if s["conclusion"] in ("failure", "cancelled")]
    bulk = failed[0] if failed else (runs[-1] if runs else None)
    inner = next((n for n in runs if n != bulk), bulk) if composite else None
    return tuple(
        StepPlan(
            number=s["number"],
            name=s["name"],
            failed=s["conclusion"] in ("failure", "cancelled"),
            composite=s["number"] == inner,
            bulk=s["number"] == bulk,
        )
        for s in ran
    )


def _time_steps(steps: list[JSONDict], log: LogSpec, job_id: int, skew: float = 0.0) -> None:
    """Step times from the log's lines, in whole seconds and off by -1.5 s to +3.6 s.

    ``skew`` seconds more when the runner's clock, which stamps the lines, is behind
    GitHub's, which stamps the JSON (negative: ahead).

    As on GitHub: a step's ``started_at`` is near its first line, its ``completed_at`` the
    next step's ``started_at``; a skipped step starts and ends when the next one that ran
    starts; steps not yet run keep ``None``.
    """
    rng = random.Random(f"gh-jobs-fake:steptimes:{job_id}")
    starts = log.layout.starts
    json_starts: dict[int, str] = {}
    floor = ""
    for step in steps:
        first = starts.get(step["number"])
        if first is not None:
            shifted = first + timedelta(seconds=skew + rng.uniform(-1.5, 3.6))
            floor = max(floor, _ts(shifted) or "")
            json_starts[step["number"]] = floor
    last = log.layout.last + timedelta(seconds=skew + rng.uniform(0.0, 2.0))
    end = max(floor, _ts(last) or "")
    following = end
    for step in reversed(steps):
        if step["status"] != "completed":
            continue
        begin = json_starts.get(step["number"], following)
        step["started_at"], step["completed_at"] = begin, following
        following = begin
    for step in steps:
        if step["status"] == "in_progress":
            step["started_at"] = json_starts.get(step["number"], step["started_at"])


def _step_names(count: int) -> list[str]:
    middle = list(_MIDDLE_STEPS[: max(0, count - 4)])
    if count <= 3:
        return ["Set up job", "Run actions/checkout@v4", "Complete job"][:count]
    return [
        "Set up job",
        "Run actions/checkout@v4",
        *middle,
        "Post Run actions/checkout@v4",
        "Complete job",
    ]


def _steps(
    rng: random.Random,
    status: str,
    conclusion: str | None,
    started: datetime,
    duration: timedelta,
) -> list[JSONDict]:
    """3-8 steps; a failed job fails one middle step and skips the rest until the post steps."""
    names = _step_names(rng.randrange(3, 9))
    count = len(names)
    bounds = [started + duration * i / count for i in range(count + 1)]
    failing = rng.randrange(1, max(2, count - 2)) if conclusion in _FAILED else None
    running = rng.randrange(0, count) if status == "in_progress" else None
    steps: list[JSONDict] = []
    for i, name in enumerate(names):
        step_status = "completed"
        step_conclusion: str | None = "success"
        step_start: datetime | None = bounds[i]
        step_end: datetime | None = bounds[i + 1].replace(microsecond=0)
        if failing is not None and i == failing:
            step_conclusion = "failure" if conclusion == "failure" else "cancelled"
        elif failing is not None and failing < i < count - 2:
            step_conclusion, step_start, step_end = (
                "skipped",
                bounds[failing + 1],
                bounds[failing + 1],
            )
        if running is not None and i >= running:
            step_status = "in_progress" if i == running else "queued"
            step_conclusion = None
            step_end = None
            step_start = bounds[i] if i == running else None
        steps.append(
            {
                "name": name,
                "status": step_status,
                "conclusion": step_conclusion,
                "number": i + 1,
                "started_at": _ts(step_start.replace(microsecond=0) if step_start else None),
                "completed_at": _ts(step_end),
            }
        )
    return steps
