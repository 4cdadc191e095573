"""The jobs of many runs for one harvest, and the runs a harvest directory has finished.

:class:`JobSelection` turns runs (one id, or any iterable or async iterable of ids or
:class:`~gh_jobs_async.WorkflowRun`, such as a ``list_runs`` stream) into their jobs,
one run after another, for :class:`~gh_jobs_async.LogBatch`. It is told every result
(:meth:`JobSelection.record`); once a run is *finished* — its listing complete, every
job (and the run, when known) ``completed``, every selected log downloaded, skipped as
intact, or permanently without a log (404 of a completed job, 410) — it appends a run
record to the directory's manifest (``.gh-jobs-manifest.jsonl``, beside the log
entries, which older readers skip). The next harvest of the directory with the same
selection does not list that run's jobs again: it hands the recorded jobs on, and the
manifest check finds their logs intact without a request. A run given by bare id is
fetched first (``GET .../runs/{run_id}``, cheap when the conditional cache answers it),
so that every run is judged by its ``run_attempt`` and ``status``: one with a newer
``run_attempt`` than recorded (a re-run), or not ``completed``, is listed again, and a
completed run without jobs (a ``startup_failure``) is remembered by its attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
)
from pathlib import Path
from typing import Any, TypeVar

import attrs

from . import _sansio
from ._files import MANIFEST_NAME
from ._logs import iterate
from ._paginate import JobStream
from .exceptions import DecodeError, InvalidArgumentError, NotFoundError
from .models import Job, JobConclusion, LogResult, LogStatus, WorkflowRun, decode_job

__all__ = ["JobSelection", "RunLedger", "RunProgress", "RunsInput", "check_runs"]

logger = logging.getLogger(__name__)

RunsInput = int | WorkflowRun | Iterable[int | WorkflowRun] | AsyncIterable[int | WorkflowRun]
_R = TypeVar("_R")
FAILED_CONCLUSIONS = frozenset({JobConclusion.FAILURE, JobConclusion.TIMED_OUT})
_FINAL = frozenset({LogStatus.DOWNLOADED, LogStatus.SKIPPED, LogStatus.GONE})


def check_runs(runs: object) -> None:
    """Reject a bad ``runs`` argument before any request (sequences are checked whole)."""
    if isinstance(runs, int | WorkflowRun):
        _run_of(runs)
    elif isinstance(runs, list | tuple | set | frozenset):
        for item in runs:
            _run_of(item)
    elif not isinstance(runs, Iterable | AsyncIterable):
        raise InvalidArgumentError(
            "runs", runs, "expected a run id, a WorkflowRun, or an iterable of them"
        )


def _run_of(item: object) -> tuple[int, WorkflowRun | None]:
    if isinstance(item, WorkflowRun):
        return item.id, item
    return _sansio.validate_id("run_id", item), None


async def _each_run(runs: RunsInput) -> AsyncIterator[int | WorkflowRun]:
    """The runs one by one (closing an async generator afterwards)."""
    if isinstance(runs, int | WorkflowRun):
        yield runs
    else:
        async for item in iterate(runs):
            yield item


@attrs.define
class RunLedger:
    """The runs a harvest directory finished for one selection, read from and appended
    to its manifest. ``load`` and ``record`` block: call them in a thread."""

    root: Path
    selection: str
    only_failed: bool
    _runs: dict[int, tuple[int | None, tuple[Job, ...]]] = attrs.field(factory=dict)

    @property
    def path(self) -> Path:
        """The manifest file the records live in."""
        return self.root / MANIFEST_NAME

    def load(self) -> None:
        """Read the run records of this selection; torn or foreign lines are skipped."""
        try:
            text = self.path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            if not line.startswith('{"run"'):
                continue
            try:
                data = json.loads(line)
                if data["selection"] != self.selection or data["only_failed"] != self.only_failed:
                    continue
                jobs = tuple(decode_job(job) for job in data["jobs"])
                attempt = data["run_attempt"]
                self._runs[int(data["run"])] = (None if attempt is None else int(attempt), jobs)
            except (ValueError, KeyError, TypeError, DecodeError):
                logger.debug("ignoring a torn run record")

    def finished(self, run_id: int, run: WorkflowRun | None) -> tuple[Job, ...] | None:
        """The recorded jobs when the run is finished (and not re-run since), else None."""
        record = self._runs.get(run_id)
        if record is None:
            return None
        attempt, jobs = record
        if run is None:
            return jobs
        if not run.completed:
            return None  # running again
        if run.run_attempt is None:
            return jobs
        if attempt is None or attempt < run.run_attempt:
            return None  # re-run since
        return jobs

    def record(self, run_id: int, attempt: int | None, jobs: tuple[Job, ...]) -> None:
        """Append (and fsync) the run's record."""
        line = {
            "run": run_id,
            "run_attempt": attempt,
            "selection": self.selection,
            "only_failed": self.only_failed,
            "jobs": [job.to_dict() for job in jobs],
        }
        text = json.dumps(line, separators=(",", ":"), default=str) + "\n"
        with self.path.open("a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell():
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a torn last line: start afresh
                    text = "\n" + text
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        self._runs[run_id] = (attempt, jobs)


@attrs.define
class _Pending:
    attempt: int | None = None
    jobs: list[Job] = attrs.field(factory=list)
    waiting: set[int] = attrs.field(factory=set)
    listed: bool = False
    complete: bool = True


@attrs.define
class RunProgress:
    """Which runs of a harvest are finished, from the jobs handed on and their results.

    Pure bookkeeping: :meth:`expect` each job handed on, :meth:`listed` when a run's
    listing ended, :meth:`result` for each result. The last two return the run id when
    that made the run finished.
    """

    _runs: dict[int, _Pending] = attrs.field(factory=dict)
    _run_of: dict[int, int] = attrs.field(factory=dict)

    def begin(self, run_id: int, attempt: int | None = None) -> None:
        """A run's listing starts; ``attempt`` is the run's ``run_attempt`` when known (a
        run without jobs is recorded with it)."""
        self._runs[run_id] = _Pending(attempt=attempt)

    def expect(self, run_id: int, job: Job) -> None:
        """``job`` of ``run_id`` was handed on: its result is awaited."""
        pending = self._runs[run_id]
        pending.jobs.append(job)
        pending.waiting.add(job.id)
        self._run_of[job.id] = run_id

    def see(self, run_id: int, job: Job) -> None:
        """A job of the run was listed (handed on or not): is it terminal?"""
        pending = self._runs[run_id]
        pending.complete = pending.complete and job.status == "completed"
        if job.run_attempt is not None:
            pending.attempt = max(pending.attempt or 0, job.run_attempt)

    def listed(self, run_id: int, *, run_completed: bool = True) -> int | None:
        """The run's listing ended; its id when it is finished already."""
        pending = self._runs[run_id]
        pending.listed = True
        pending.complete = pending.complete and run_completed
        return self._check(run_id)

    def result(self, result: LogResult) -> int | None:
        """A job's result; the run's id when it made the run finished."""
        run_id = self._run_of.pop(result.job_id, None)
        if run_id is None or run_id not in self._runs:
            return None
        pending = self._runs[run_id]
        pending.waiting.discard(result.job_id)
        # a 404 of a completed job is final (it never ran); a failure is not
        if result.status not in _FINAL and result.status is not LogStatus.NOT_AVAILABLE:
            pending.complete = False
        return self._check(run_id)

    def _check(self, run_id: int) -> int | None:
        pending = self._runs[run_id]
        if not pending.listed or pending.waiting:
            return None
        if not pending.complete:
            del self._runs[run_id]
            return None
        return run_id

    def take(self, run_id: int) -> tuple[int | None, tuple[Job, ...]]:
        """Forget a finished run; (its attempt, its jobs handed on)."""
        pending = self._runs.pop(run_id)
        return pending.attempt, tuple(pending.jobs)


class JobSelection(AsyncIterator[Job]):
    """The jobs of many runs, one run after another, for one harvest directory.

    Returned by :meth:`gh_jobs_async.Client.select_jobs`; feed it to
    :meth:`~gh_jobs_async.Client.download_logs` and pass every result to
    :meth:`record`. Runs the directory finished before are not listed again (their
    recorded jobs are handed on, for the manifest to find intact). ``on_run`` hears how
    many jobs each run brings, when known (a listing's ``total_count`` unless only
    failed jobs are taken; a finished run's recorded count); ``on_done`` that every run
    is listed. Up to ``lookahead`` runs are listed concurrently (each run's jobs are
    collected before they are handed on). ``get_run`` fetches a run given by bare id
    (without it such a run counts as completed, and a recorded one is never listed
    again). ``runs_listed`` and ``runs_remembered`` count the runs.

    Of many runs (any ``runs`` but a single id or run), one that GitHub answers 404 for
    (deleted since it was listed, or without the ``attempt`` selected) is skipped with a
    warning and counted in ``runs_skipped``; the others are harvested. A single run's 404
    raises :class:`~gh_jobs_async.NotFoundError`.
    """

    def __init__(
        self,
        list_jobs: Callable[[int], JobStream],
        runs: RunsInput,
        ledger: RunLedger,
        *,
        only_failed: bool,
        on_run: Callable[[int], None] | None = None,
        on_done: Callable[[], None] | None = None,
        lookahead: int = 10,
        get_run: Callable[[int], Coroutine[Any, Any, WorkflowRun]] | None = None,
    ) -> None:
        self._list_jobs = list_jobs
        self._get_run = get_run
        self._lookahead = max(1, lookahead)
        self._runs = runs
        self._ledger = ledger
        self._only_failed = only_failed
        self._on_run = on_run
        self._on_done = on_done
        self._progress = RunProgress()
        self._generator = self._generate()
        self._skip_missing = not isinstance(runs, int | WorkflowRun)
        self.runs_listed = 0
        self.runs_remembered = 0
        self.runs_skipped = 0

    def __repr__(self) -> str:
        return (
            f"<JobSelection {self._ledger.root} runs_listed={self.runs_listed} "
            f"runs_remembered={self.runs_remembered}>"
        )

    def __aiter__(self) -> JobSelection:
        return self

    async def __anext__(self) -> Job:
        return await self._generator.__anext__()

    async def aclose(self) -> None:
        """Stop listing."""
        await self._generator.aclose()

    async def record(self, result: LogResult) -> None:
        """Take one result of the harvest; record its run once the run is finished."""
        run_id = self._progress.result(result)
        if run_id is not None:
            await self._finish(run_id)

    async def _finish(self, run_id: int) -> None:
        attempt, jobs = self._progress.take(run_id)
        await asyncio.to_thread(self._ledger.record, run_id, attempt, jobs)
        logger.debug("run %d finished: %d logs", run_id, len(jobs))

    async def _generate(self) -> AsyncGenerator[Job, None]:
        await asyncio.to_thread(self._ledger.load)
        seen: set[int] = set()
        chunk: list[tuple[int, WorkflowRun | None]] = []
        async for item in _each_run(self._runs):
            run_id, run = _run_of(item)
            if run_id in seen:
                continue
            seen.add(run_id)
            chunk.append((run_id, run))
            if len(chunk) >= self._lookahead:
                async for job in self._take_chunk(chunk):
                    yield job
                chunk = []
        async for job in self._take_chunk(chunk):
            yield job
        if self._on_done is not None:
            self._on_done()

    async def _take_chunk(self, chunk: list[tuple[int, WorkflowRun | None]]) -> AsyncIterator[Job]:
        """Up to ``lookahead`` runs: the bare ids fetched (concurrently), the runs the
        directory finished handed on from its records, the others listed."""
        batch: list[tuple[int, WorkflowRun | None]] = []
        for run_id, run in await self._fetch_runs(chunk):
            remembered = self._ledger.finished(run_id, run)
            if remembered is None:
                batch.append((run_id, run))
                continue
            self.runs_remembered += 1
            if self._on_run is not None:
                self._on_run(len(remembered))
            for job in remembered:
                yield job
        async for job in self._list_batch(batch):
            yield job

    async def _fetch_runs(
        self, chunk: list[tuple[int, WorkflowRun | None]]
    ) -> list[tuple[int, WorkflowRun | None]]:
        """``chunk`` with each bare id's run fetched (when ``get_run`` was given)."""
        get_run = self._get_run
        if get_run is None or all(run is not None for _, run in chunk):
            return chunk
        async with asyncio.TaskGroup() as group:
            tasks = {
                run_id: group.create_task(self._missing_ok(run_id, get_run))
                for run_id, run in chunk
                if run is None
            }
        kept: list[tuple[int, WorkflowRun | None]] = []
        for run_id, run in chunk:
            fetched = run if run is not None else tasks[run_id].result()
            if fetched is not None:
                kept.append((run_id, fetched))
        return kept

    async def _missing_ok(
        self, run_id: int, request: Callable[[int], Coroutine[Any, Any, _R]]
    ) -> _R | None:
        """``request(run_id)``'s answer (called here: a task cancelled before it starts
        leaves no coroutine unawaited); None (a warning, the run skipped) for a 404 of one of many
        runs: one deleted run, or one without the selected attempt, does not end a bulk
        harvest."""
        try:
            return await request(run_id)
        except NotFoundError as exc:
            if not self._skip_missing:
                raise
            self.runs_skipped += 1
            logger.warning("skipping run %d: %s", run_id, exc)
            return None

    async def _list_batch(self, batch: list[tuple[int, WorkflowRun | None]]) -> AsyncIterator[Job]:
        """The jobs of several runs, listed concurrently (each listing ends before the first
        job is handed on: no task outlives this call's awaits), then handed on run by run."""
        if not batch:
            return
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self._missing_ok(run_id, self._collect)) for run_id, _ in batch
            ]
        for (run_id, run), task in zip(batch, tasks, strict=True):
            listing = task.result()
            if listing is None:
                continue
            self.runs_listed += 1
            total, jobs = listing
            if self._on_run is not None and not self._only_failed:
                self._on_run(total)  # total_count counts every job, not the failed ones
            self._progress.begin(run_id, None if run is None else run.run_attempt)
            for job in jobs:
                self._progress.see(run_id, job)
                if self._only_failed and job.conclusion not in FAILED_CONCLUSIONS:
                    continue
                self._progress.expect(run_id, job)
                yield job
            finished = self._progress.listed(run_id, run_completed=run is None or run.completed)
            if finished is not None:
                await self._finish(finished)

    async def _collect(self, run_id: int) -> tuple[int, list[Job]]:
        stream = self._list_jobs(run_id)
        jobs = await stream.collect()
        return stream.total_count or 0, jobs
