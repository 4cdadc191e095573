"""Deterministic workflow runs, jobs and their logs, held by the fake.

Ids come from counters (runs from 7,000,000,001, jobs from 20,000,000,001: both above
2**31 to catch int32 bugs), everything else from ``random.Random`` seeded with the config
seed and the run id, so the same config and the same `JobStore.add_run` calls give the same
ids, names, timestamps and logs. Job dicts carry every property of the OpenAPI ``job``
schema in GitHub's order; `_jobgen` builds them.

The store keeps the authoritative dicts and hands out deep copies; serialised JSON bodies
are cached per job and per listing page and dropped when `JobStore.update_job` changes a job.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from gh_jobs_async.testing._jobgen import JobBlueprint, build_attempt, log_available
from gh_jobs_async.testing._live import LiveSpec
from gh_jobs_async.testing._livestore import LiveAttempt, LiveRuns
from gh_jobs_async.testing._logs import LogSpec, log_sha256
from gh_jobs_async.testing._rungen import RunMeta, build_run

__all__ = [
    "FIRST_JOB_ID",
    "FIRST_RUN_ID",
    "FakeRun",
    "JobRecord",
    "JobStore",
    "LogState",
    "RunOptions",
]

FIRST_RUN_ID = 7_000_000_001
FIRST_JOB_ID = 20_000_000_001
LogState = Literal["ok", "not_available", "gone"]
_LOG_STATES = ("ok", "not_available", "gone")
_PAGE_CACHE_LIMIT = 20_000

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class FakeRun:
    """A run the fake serves; ``attempts[a - 1]`` are the job dicts of attempt ``a`` (copies)."""

    run_id: int
    owner: str
    repo: str
    attempts: list[list[JSONDict]]

    @property
    def latest(self) -> list[JSONDict]:
        """Jobs of the newest attempt: what ``filter=latest`` lists."""
        return self.attempts[-1]

    @property
    def all_jobs(self) -> list[JSONDict]:
        """Jobs of every attempt, attempt 1 first: what ``filter=all`` lists."""
        return [job for jobs in self.attempts for job in jobs]

    @property
    def job_ids(self) -> list[int]:
        """Ids of `all_jobs`, in the same order."""
        return [int(job["id"]) for job in self.all_jobs]


@dataclass
class JobRecord:
    """One job as stored: its dict, where it belongs, its log and the log's state."""

    job: JSONDict
    owner: str
    repo: str
    run_id: int
    attempt: int
    log: LogSpec
    log_state: LogState
    blob_id: str
    body: bytes | None = None
    sha256: str | None = None
    modified: float = field(default_factory=time.time)  # epoch of the last content change
    generation: int = 0  # bumped when the log is replaced: the blob's ETag changes


@dataclass(frozen=True)
class RunOptions:
    """What started a run and which workflow it belongs to (see `FakeGitHub.add_run`)."""

    event: str = "push"
    workflow_path: str = ".github/workflows/ci.yml"
    actor: str = "octocat"
    created_at: datetime | None = None  # None: derived from the seed and the run id
    fork_deleted: bool = False  # head_repository null, as for a run from a deleted fork
    conclusion: str | None = None  # the run's once completed, whatever its jobs say


@dataclass
class _Run:
    owner: str
    repo: str
    attempts: list[list[int]] = field(default_factory=list)
    meta: RunMeta | None = None
    live: LiveSpec | None = None
    scheduled: list[LiveAttempt] = field(default_factory=list)
    blueprint: JobBlueprint | None = None


def _key(owner: str, repo: str) -> tuple[str, str]:
    # GitHub matches owner and repository names case-insensitively.
    return owner.lower(), repo.lower()


class JobStore(LiveRuns):
    """Every run and job of one fake, plus caches of their serialised JSON."""

    def __init__(self, *, seed: int) -> None:
        """An empty store; `api_url` must be set before runs are added."""
        self.seed = seed
        self.api_url: str | None = None
        self.html_origin = "https://github.com"
        self._next_run = FIRST_RUN_ID
        self._next_job = FIRST_JOB_ID
        self._runs: dict[int, _Run] = {}
        self._jobs: dict[int, JobRecord] = {}
        self._blobs: dict[str, int] = {}
        self._pages: dict[tuple[int, str, int, int], tuple[bytes, int]] = {}
        self._run_numbers: dict[tuple[str, str], int] = {}
        # the runs listings: latest-attempt run dicts and their JSON, per run id, dropped
        # when one of the run's jobs changes
        self._listed_runs: dict[int, JSONDict] = {}
        self._listed_bodies: dict[int, bytes] = {}

    def add_run(
        self,
        owner: str,
        repo: str,
        blueprint: JobBlueprint,
        *,
        attempts: int,
        run_id: int | None,
        options: RunOptions | None = None,
        live: LiveSpec | None = None,
    ) -> FakeRun:
        """Create a run of ``attempts`` attempts per ``blueprint``; see `FakeGitHub.add_run`."""
        return self.fake_run(
            self.create_run(
                owner, repo, blueprint, attempts=attempts, run_id=run_id, options=options, live=live
            )
        )

    def create_run(
        self,
        owner: str,
        repo: str,
        blueprint: JobBlueprint,
        *,
        attempts: int,
        run_id: int | None,
        options: RunOptions | None = None,
        live: LiveSpec | None = None,
    ) -> int:
        """`add_run` without the snapshot (copying every job): returns the run id."""
        if self.api_url is None:
            raise RuntimeError("start the fake before adding runs (job URLs need its address)")
        if attempts < 1 or blueprint.jobs < 0:
            raise ValueError("attempts must be >= 1 and jobs >= 0")
        if run_id is None:
            run_id = self._next_run
            self._next_run += 1
        if run_id in self._runs:
            raise ValueError(f"run {run_id} already exists")
        run = _Run(owner, repo)
        run.meta = self._run_meta(owner, repo, run_id, blueprint, options or RunOptions())
        if live is not None:
            return self._add_live(run, run_id, blueprint, attempts, live).run_id
        for attempt in range(1, attempts + 1):
            first = self._next_job
            self._next_job += blueprint.jobs
            jobs, logs = build_attempt(
                blueprint,
                api_url=self.api_url,
                html_origin=self.html_origin,
                owner=owner,
                repo=repo,
                run_id=run_id,
                attempt=attempt,
                first_job_id=first,
                seed=self.seed,
                run_start=None if run.meta is None else run.meta.created_at,
            )
            for job, log in zip(jobs, logs, strict=True):
                self._store(job, log, run, run_id, attempt)
            run.attempts.append([int(job["id"]) for job in jobs])
        self._runs[run_id] = run
        return run_id

    def _run_meta(
        self, owner: str, repo: str, run_id: int, blueprint: JobBlueprint, options: RunOptions
    ) -> RunMeta:
        assert self.api_url is not None  # noqa: S101 - checked by add_run
        key = _key(owner, repo)
        self._run_numbers[key] = number = self._run_numbers.get(key, 0) + 1
        path = options.workflow_path
        return RunMeta(
            api_url=self.api_url,
            html_origin=self.html_origin,
            owner=owner,
            repo=repo,
            run_id=run_id,
            run_number=number,
            workflow_name=blueprint.workflow_name,
            workflow_id=int(hashlib.sha256(path.encode()).hexdigest()[:7], 16),
            workflow_path=path,
            event=options.event,
            head_branch=blueprint.head_branch,
            actor=options.actor,
            seed=self.seed,
            created_at=options.created_at,
            fork_deleted=options.fork_deleted,
            conclusion=options.conclusion,
        )

    def _store(self, job: JSONDict, log: LogSpec, run: _Run, run_id: int, attempt: int) -> None:
        job_id = int(job["id"])
        blob_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gh-jobs-fake:{self.seed}:{job_id}"))
        state: LogState = "ok" if log_available(job) else "not_available"
        rec = JobRecord(job, run.owner, run.repo, run_id, attempt, log, state, blob_id)
        self._jobs[job_id] = rec
        self._blobs[blob_id] = job_id

    # -- lookups -------------------------------------------------------------------------

    def fake_run(self, run_id: int) -> FakeRun:
        """A `FakeRun` snapshot of a stored run; KeyError if unknown."""
        run = self._runs[run_id]
        attempts = [[self.job(job_id) for job_id in ids] for ids in run.attempts]
        return FakeRun(run_id, run.owner, run.repo, attempts)

    def find_run(self, owner: str, repo: str, run_id: int) -> _Run | None:
        """The run if it exists in that repository."""
        run = self._runs.get(run_id)
        if run is None or _key(run.owner, run.repo) != _key(owner, repo):
            return None
        return run

    def find_job(self, owner: str, repo: str, job_id: int) -> JobRecord | None:
        """The job if it exists in that repository."""
        rec = self._jobs.get(job_id)
        if rec is None or _key(rec.owner, rec.repo) != _key(owner, repo):
            return None
        return rec

    def record(self, job_id: int) -> JobRecord:
        """The stored job; KeyError if unknown."""
        return self._jobs[job_id]

    def job_for_blob(self, blob_id: str) -> JobRecord | None:
        """The job whose log lives at blob ``blob_id``."""
        job_id = self._blobs.get(blob_id)
        return None if job_id is None else self._jobs[job_id]

    def job(self, job_id: int) -> JSONDict:
        """A deep copy of the job dict; KeyError if unknown."""
        return copy.deepcopy(self._jobs[job_id].job)

    def job_ids(self, run_id: int, selector: str) -> list[int]:
        """Job ids listed for ``selector``: "latest", "all" or an attempt number as text."""
        attempts = self._runs[run_id].attempts
        if selector == "latest":
            return list(attempts[-1])
        if selector == "all":
            return [job_id for ids in attempts for job_id in ids]
        return list(attempts[int(selector) - 1])

    def attempt_count(self, run_id: int) -> int:
        """How many attempts the run has."""
        return len(self._runs[run_id].attempts)

    def run_dict(self, run_id: int, attempt: int | None = None) -> JSONDict:
        """The run as ``GET .../runs/{id}`` (latest attempt) or ``.../attempts/{n}`` serves it.

        Built from the attempt's jobs as they are now; KeyError for an unknown run or
        attempt.
        """
        run = self._runs[run_id]
        number = len(run.attempts) if attempt is None else attempt
        if not 1 <= number <= len(run.attempts) or run.meta is None:
            raise KeyError(f"run {run_id} has no attempt {attempt}")
        jobs = [self._jobs[job_id].job for job_id in run.attempts[number - 1]]
        return build_run(run.meta, jobs, number)

    def run_modified(self, run_id: int, attempt: int | None = None) -> float | None:
        """When the newest job of the run's attempt (latest by default) last changed."""
        attempts = self._runs[run_id].attempts
        ids = attempts[-1 if attempt is None else attempt - 1] if attempts else []
        return max((self._jobs[job_id].modified for job_id in ids), default=None)

    # -- serialised bodies ---------------------------------------------------------------

    def job_body(self, rec: JobRecord) -> bytes:
        """The job's JSON body, cached until the job changes."""
        if rec.body is None:
            rec.body = _dumps(rec.job)
        return rec.body

    def run_body(
        self, run_id: int, attempt: int | None = None, *, strip_prs: bool = False
    ) -> bytes:
        """The JSON body of `run_dict` (cheap enough to build per request); ``strip_prs``
        empties its ``pull_requests`` (``exclude_pull_requests=true``)."""
        run = self.run_dict(run_id, attempt)
        return _dumps({**run, "pull_requests": []} if strip_prs else run)

    def page_body(self, run_id: int, selector: str, per_page: int, page: int) -> tuple[bytes, int]:
        """(JSON body, total_count) of one listing page, cached until a job changes."""
        key = (run_id, selector, per_page, page)
        cached = self._pages.get(key)
        if cached is None:
            ids = self.job_ids(run_id, selector)
            chunk = ids[(page - 1) * per_page : page * per_page]
            # Splice cached job bodies instead of re-serialising each job.
            jobs = b",".join(self.job_body(self._jobs[job_id]) for job_id in chunk)
            body = b'{"total_count":%d,"jobs":[%s]}' % (len(ids), jobs)
            if len(self._pages) >= _PAGE_CACHE_LIMIT:
                self._pages.clear()
            cached = self._pages[key] = (body, len(ids))
        return cached

    # -- the runs listings ---------------------------------------------------------------

    def repo_runs(self, owner: str, repo: str) -> list[JSONDict]:
        """Every run of the repository as the runs listings show it (latest attempt),
        cached until one of its jobs changes. Not copies: do not modify them."""
        key = _key(owner, repo)
        runs = []
        for run_id, run in self._runs.items():
            if _key(run.owner, run.repo) != key or run.meta is None:
                continue
            if run.live is not None:  # its jobs change as time goes by: never cached
                runs.append(self.run_dict(run_id))
                continue
            cached = self._listed_runs.get(run_id)
            if cached is None:
                cached = self._listed_runs[run_id] = self.run_dict(run_id)
            runs.append(cached)
        return runs

    def runs_body(self, total_count: int, runs: list[JSONDict], *, strip_prs: bool) -> bytes:
        """``{"total_count", "workflow_runs"}``, splicing each run's cached JSON."""
        parts = []
        for run in runs:
            run_id = int(run["id"])
            body = self._listed_bodies.get(run_id) if run_id in self._listed_runs else None
            if body is None:
                body = _dumps(run)
                if run_id in self._listed_runs:
                    self._listed_bodies[run_id] = body
            if strip_prs and run.get("pull_requests"):
                body = _dumps({**run, "pull_requests": []})
            parts.append(body)
        return b'{"total_count":%d,"workflow_runs":[%s]}' % (total_count, b",".join(parts))

    def page_modified(self, run_id: int, selector: str, per_page: int, page: int) -> float | None:
        """When the newest job of a listing page last changed (None for an empty page)."""
        ids = self.job_ids(run_id, selector)[(page - 1) * per_page : page * per_page]
        return max((self._jobs[job_id].modified for job_id in ids), default=None)

    # -- changes -------------------------------------------------------------------------

    def update_job(self, job_id: int, fields: JSONDict) -> JSONDict:
        """Merge ``fields`` into the stored job; returns a copy of the result."""
        rec = self._jobs[job_id]
        rec.job.update(copy.deepcopy(fields))
        rec.body = None
        rec.modified = time.time()
        self._pages.clear()
        self._listed_runs.pop(rec.run_id, None)
        self._listed_bodies.pop(rec.run_id, None)
        return self.job(job_id)

    def set_log_state(self, job_id: int, state: LogState) -> None:
        """ "ok", "not_available" (404) or "gone" (410) for the job's logs endpoint."""
        if state not in _LOG_STATES:
            raise ValueError(f"state must be one of {_LOG_STATES}")
        self._jobs[job_id].log_state = state

    def replace_log(self, job_id: int) -> None:
        """A different log of the same size for the job (another seed), with a new ETag."""
        rec = self._jobs[job_id]
        rec.generation += 1
        rec.log = dataclasses.replace(rec.log, seed=rec.log.seed + 7919 * rec.generation)
        rec.sha256 = None

    def sha256(self, job_id: int) -> str:
        """Hex SHA-256 of the job's log, generated once and cached."""
        rec = self._jobs[job_id]
        if rec.sha256 is None:
            rec.sha256 = log_sha256(rec.log)
        return rec.sha256


def _dumps(obj: object) -> bytes:
    # Raw UTF-8 like GitHub; a lone surrogate in a hostile name becomes a valid \\uXXXX escape.
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace")
