"""The parallel harvest: many logs, one per job, downloaded by a pool of workers.

:class:`LogBatch` is what :meth:`Client.download_logs` returns: an async
iterator of :class:`~gh_jobs_async.models.LogResult` in completion order, and an
async context manager that guarantees its workers are gone when it exits. A
background task runs the pool (a producer feeding a bounded queue, N download
workers in one ``asyncio.TaskGroup``); results travel through a queue, so no
``yield`` ever happens inside the TaskGroup (PEP 789).

One job's failure never stops the others: every per-job outcome becomes a
result. Only an authentication failure (401), a failed shared rate-limit store
(:class:`~gh_jobs_async.exceptions.RateLimitStoreError`) or cancellation ends the batch.

Fed by a watch (:class:`~gh_jobs_async.models.JobUpdate` items), a batch takes each job
the moment it is seen completed: a job that never ran (skipped, or cancelled before a
runner took it) is reported ``not_available`` without a request, and a 404 for a job that
has just completed is retried for ``grace`` seconds, since its log appears a little later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import attrs

from . import _sansio
from ._changes import never_ran
from ._files import (
    DirectoryLock,
    Manifest,
    ManifestEntry,
    Namer,
    PartFile,
    inside,
    remove_stale_parts,
)
from ._logs import (
    JobsInput,
    ProgressHook,
    Resume,
    Tail,
    blocking,
    finish_verified,
    iterate,
    job_id_of,
    logs_url,
    resolve_location,
    stream_blob,
    write_inline,
)
from ._session import Session
from .exceptions import (
    GhJobsError,
    InvalidArgumentError,
    LogChangedError,
    LogDownloadError,
    LogsGoneError,
    LogsNotAvailableError,
    RateLimitStoreError,
    TransportError,
    UnauthorizedError,
    first_leaf,
)
from .models import HarvestSummary, Job, JobUpdate, LogEvent, LogResult, LogStatus

logger = logging.getLogger(__name__)

_DONE = object()
LOG_GRACE = 10.0  # seconds a just-completed job's 404 is retried (logs appear 1-2 s later)
GRACE_STEP = 0.5  # the longest wait between two asks for a missing log
FIRST_GRACE_STEP = 0.1  # the first wait; it doubles up to grace_step


@attrs.frozen
class _Work:
    job_id: int
    relative: Path
    target: Path
    live: bool = False  # seen completed by a watch just now: a 404 gets a grace period
    never_ran: bool = False
    seen: float = 0.0  # session.config.monotonic() when the watch saw it completed


@attrs.define
class Fetcher:
    """Downloads one job's log into place, retrying with a fresh Location; shared by a batch."""

    session: Session
    owner: str
    repo: str
    max_attempts: int
    progress: ProgressHook | None = None
    manifest: Manifest | None = None
    root: Path | None = None  # a harvest's dest_dir: no symlinked folder below it is followed
    grace: float = LOG_GRACE
    grace_step: float = GRACE_STEP

    def emit(
        self, kind: str, job_id: int, nbytes: int = 0, result: LogResult | None = None
    ) -> None:
        """Report a progress event to the hook, if any."""
        if self.progress is not None:
            self.progress(LogEvent(kind=kind, job_id=job_id, nbytes=nbytes, result=result))

    async def fetch(self, job_id: int, target: Path, relative: Path | None = None) -> LogResult:
        """Download the log of ``job_id`` to ``target``; raise what ends the attempt for good.

        Retryable failures (expired URL, broken body, blob 5xx, transport) are
        retried up to ``max_attempts`` times, each with a freshly resolved
        Location; the last one is raised. Not-available and gone raise at once.
        A body that broke part-way is resumed from the bytes already written
        (``Range`` with ``If-Match``), so the hash and the size check still
        cover the whole file; a log that changed meanwhile starts again. The
        bytes of a file that is not published are taken back with a negative
        ``"bytes"`` event, so the events sum to the sizes.
        """
        url = logs_url(self.session, self.owner, self.repo, job_id)
        self.emit("started", job_id)
        part, resume = PartFile(target, self.root), Resume()
        try:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    return await self._attempt(url, job_id, part, relative, attempt, resume)
                except (GhJobsError, OSError) as exc:
                    if attempt >= self.max_attempts or not _retryable(exc):
                        raise
                    failure = exc
                if not _resumable(failure, part):
                    if isinstance(failure, LogChangedError):
                        logger.warning("job %d: the log changed; starting again", job_id)
                    self._drop(part, job_id)
                    part, resume = PartFile(target, self.root), Resume()
                delay = _sansio.backoff_delay(attempt - 1, base=0.25, cap=10.0)
                logger.warning(
                    "job %d: %s; retrying with a fresh Location in %.2f s (attempt %d of %d)",
                    job_id,
                    failure,
                    delay,
                    attempt + 1,
                    self.max_attempts,
                )
                self.emit("retry", job_id)
                await self.session.config.sleep(delay)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._drop(part, job_id)

    def _drop(self, part: PartFile, job_id: int) -> None:
        """Delete an unpublished part file and take its reported bytes back."""
        part.discard()  # nothing to do once published; removes any partial file
        if not part.published and part.reported:
            self.emit("bytes", job_id, -part.reported)
            part.reported = 0

    async def _attempt(  # noqa: PLR0917 - one attempt's whole state
        self,
        url: str,
        job_id: int,
        part: PartFile,
        relative: Path | None,
        attempt: int,
        resume: Resume,
    ) -> LogResult:
        """One attempt: resolve a fresh Location, stream, verify, record, publish."""

        def on_bytes(nbytes: int) -> None:
            part.reported += nbytes
            self.emit("bytes", job_id, nbytes)

        location, inline = await resolve_location(self.session, url)
        if inline is not None:
            tail = write_inline(inline, on_bytes, skip=part.size)
        else:
            tail = await stream_blob(self.session, location, part, job_id, on_bytes, resume=resume)
        await blocking(self._complete, part, tail, job_id, relative)
        return LogResult(
            job_id=job_id,
            status=LogStatus.DOWNLOADED,
            path=part.target,
            size=part.size,
            sha256=part.sha256,
            attempts=attempt,
        )

    def _complete(self, part: PartFile, tail: Tail, job_id: int, relative: Path | None) -> None:
        """Finish and verify the file, record it, then rename it into place (blocking).

        One thread hop for all of it. The manifest entry comes before the
        rename, so every final file has an entry.
        """
        finish_verified(part, tail, job_id)
        if self.manifest is not None and relative is not None:
            entry = ManifestEntry(job_id=job_id, size=part.size, sha256=part.sha256)
            self.manifest.record(relative, entry)
        part.publish()

    async def outcome(self, work: _Work) -> LogResult:
        """:meth:`fetch`, with every per-job failure turned into a result."""
        if work.never_ran:  # no request was sent: the 404 is what GitHub would answer
            error = LogsNotAvailableError(
                "the job never ran (skipped, or cancelled before a runner took it), "
                "so it has no log",
                status=404,
                url=logs_url(self.session, self.owner, self.repo, work.job_id),
            )
            result = LogResult(
                job_id=work.job_id, status=LogStatus.NOT_AVAILABLE, error=error, never_ran=True
            )
            self.emit("finished", work.job_id, result=result)
            return result
        try:
            result = await (self._fetch_live(work) if work.live else self._fetch(work))
        except (UnauthorizedError, RateLimitStoreError):
            raise  # no job could proceed: end the batch
        except LogsNotAvailableError as exc:
            result = LogResult(job_id=work.job_id, status=LogStatus.NOT_AVAILABLE, error=exc)
        except LogsGoneError as exc:
            result = LogResult(job_id=work.job_id, status=LogStatus.GONE, error=exc)
        except (GhJobsError, OSError) as exc:
            logger.warning("job %d: giving up: %s", work.job_id, exc)
            result = LogResult(job_id=work.job_id, status=LogStatus.FAILED, error=exc)
        self.emit("finished", work.job_id, result=result)
        return result

    async def _fetch(self, work: _Work) -> LogResult:
        return await self.fetch(work.job_id, work.target, work.relative)

    async def _fetch_live(self, work: _Work) -> LogResult:
        """:meth:`fetch`, retrying a 404 until ``grace`` s after the job was seen completed.

        The waits start short (a log often follows within a second) and double up to
        ``grace_step``.
        """
        config = self.session.config
        step = min(FIRST_GRACE_STEP, self.grace_step)
        while True:
            try:
                return await self.fetch(work.job_id, work.target, work.relative)
            except LogsNotAvailableError:
                left = work.seen + self.grace - config.monotonic()
                if left <= 0:
                    raise
                logger.debug("job %d: log not there yet; asking again", work.job_id)
                await config.sleep(min(step, left))
                step = min(2 * step, self.grace_step)


def _resumable(exc: BaseException, part: PartFile) -> bool:
    """Whether the next attempt may continue ``part`` rather than start again."""
    return part.size > 0 and part.appendable and not isinstance(exc, LogChangedError)


def _retryable(exc: BaseException) -> bool:
    """Failures a fresh Location may cure: blob-side trouble and transport errors."""
    return isinstance(exc, LogDownloadError | TransportError)


class LogBatch(AsyncIterator[LogResult]):
    """Results of :meth:`Client.download_logs`, in completion order.

    Use ``async with client.download_logs(...) as results: async for r in results``
    to be sure the workers are gone when the block ends; a plain ``async for``
    also works and cleans up when the iteration ends or the batch is closed.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        jobs: JobsInput,
        dest_dir: Path,
        *,
        namer: Namer,
        concurrency: int,
    ) -> None:
        self._fetcher = fetcher
        self._jobs = jobs
        self._root = dest_dir
        self._namer = namer
        self._concurrency = concurrency
        self._results: asyncio.Queue[LogResult | object] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self._finished = False

    def __repr__(self) -> str:
        state = "finished" if self._finished else ("running" if self._runner else "not started")
        return f"<LogBatch {self._root} concurrency={self._concurrency} {state}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> LogBatch:
        return self

    async def __anext__(self) -> LogResult:
        if self._finished:
            raise StopAsyncIteration
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"gh-jobs harvest {self._root}")
        runner = self._runner
        try:
            item = await self._results.get()
        except asyncio.CancelledError:
            # The consumer is gone: stop the workers too, rather than let them
            # harvest on in the background with nobody to take the results.
            await _uncancellable(self.aclose())
            raise
        if isinstance(item, LogResult):
            return item
        self._finished = True
        if runner.done() and not runner.cancelled() and runner.exception() is not None:
            raise runner.exception()  # type: ignore[misc]
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Cancel the workers (partial files are deleted) and wait until they are gone."""
        self._finished = True
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            runner.cancel()
        if runner is not None:
            await asyncio.gather(runner, return_exceptions=True)

    def __del__(self) -> None:
        runner = self._runner
        if runner is not None and not runner.done():
            runner.cancel()

    async def _run(self) -> None:
        try:
            await self._run_pool()
        except BaseExceptionGroup as group:
            raise first_leaf(group) from None
        finally:
            self._results.put_nowait(_DONE)

    async def _run_pool(self) -> None:
        root = self._root
        await blocking(lambda: root.mkdir(parents=True, exist_ok=True))
        lock = DirectoryLock(self._root)
        manifest = Manifest(self._root)
        try:
            await blocking(lock.acquire)  # a cancelled acquire still ends in release()
            removed = await blocking(remove_stale_parts, self._root)
            if removed:
                logger.info("removed %d partial file(s) left by an interrupted harvest", removed)
            await asyncio.to_thread(manifest.load)
            self._fetcher.manifest = manifest
            self._fetcher.root = self._root
            await self._run_workers(manifest)
        finally:
            manifest.close()
            lock.release()

    async def _run_workers(self, manifest: Manifest) -> None:
        queue: asyncio.Queue[_Work | None] = asyncio.Queue(maxsize=self._concurrency)
        async with asyncio.TaskGroup() as group:
            for number in range(self._concurrency):
                group.create_task(self._worker(queue), name=f"gh-jobs worker {number}")
            await self._produce(queue, manifest)
            for _ in range(self._concurrency):
                await queue.put(None)

    async def _worker(self, queue: asyncio.Queue[_Work | None]) -> None:
        while (work := await queue.get()) is not None:
            self._results.put_nowait(await self._fetcher.outcome(work))

    async def _produce(self, queue: asyncio.Queue[_Work | None], manifest: Manifest) -> None:
        seen_ids: set[int] = set()
        seen_paths: set[Path] = set()
        async for given in iterate(self._jobs):
            live = isinstance(given, JobUpdate)
            if isinstance(given, JobUpdate):
                if not given.completed:
                    continue  # a watch: take each job when it is seen completed
                item: Job | int = given.job
            else:
                item = given
            job_id = job_id_of(item)
            if job_id in seen_ids:
                continue
            seen_ids.add(job_id)
            self._namer.check(item)
            relative = self._namer.relative(item)
            if relative in seen_paths:  # two jobs named alike: keep both, apart
                relative = relative.with_name(f"{relative.stem}-{job_id}{relative.suffix}")
            seen_paths.add(relative)
            self._fetcher.emit("queued", job_id)
            try:
                target, entry = await asyncio.to_thread(_place, self._root, relative, manifest)
            except InvalidArgumentError as exc:  # e.g. a symlink inside dest_dir leads out
                logger.warning("job %d: %s", job_id, exc)
                result = LogResult(job_id=job_id, status=LogStatus.FAILED, error=exc)
                self._fetcher.emit("finished", job_id, result=result)
                self._results.put_nowait(result)
                continue
            if entry is not None and entry.job_id == job_id:
                result = LogResult(
                    job_id=job_id,
                    status=LogStatus.SKIPPED,
                    path=target,
                    size=entry.size,
                    sha256=entry.sha256,
                )
                self._fetcher.emit("finished", job_id, result=result)
                self._results.put_nowait(result)
                continue
            # a Job that never ran (skipped, cancelled before a runner took it) has no log:
            # reported at once, without a request, whether a watch or a listing brought it
            work = _Work(
                job_id=job_id,
                relative=relative,
                target=target,
                never_ran=isinstance(item, Job) and never_ran(item),
            )
            if live:
                work = attrs.evolve(work, live=True, seen=self._fetcher.session.config.monotonic())
            await queue.put(work)


def _place(root: Path, relative: Path, manifest: Manifest) -> tuple[Path, ManifestEntry | None]:
    """Where a log goes (checked to stay inside ``root``) and its manifest entry if intact."""
    target = inside(root, relative)
    return target, manifest.intact(relative, target)


async def _uncancellable(awaitable: Awaitable[None]) -> None:
    """Run ``awaitable`` to its end even if we are cancelled again meanwhile."""
    task = asyncio.ensure_future(awaitable)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)


async def summarize(
    batch: LogBatch, on_result: Callable[[LogResult], Awaitable[None]] | None = None
) -> HarvestSummary:
    """Drain a batch into a :class:`HarvestSummary` (every status counted, zeros included);
    ``on_result`` is awaited with each result (a run selection records finished runs)."""
    started = time.perf_counter()
    counts = dict.fromkeys(LogStatus, 0)
    downloaded = 0
    failures: list[LogResult] = []
    async with batch:
        async for result in batch:
            if on_result is not None:
                await on_result(result)
            counts[result.status] += 1
            if result.status is LogStatus.DOWNLOADED and result.size:
                downloaded += result.size
            if result.status is LogStatus.FAILED:
                failures.append(result)
    return HarvestSummary(
        counts=counts,
        bytes=downloaded,
        elapsed=time.perf_counter() - started,
        failures=tuple(failures),
    )
