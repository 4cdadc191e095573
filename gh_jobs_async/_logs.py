"""Job logs: resolve the short-lived ``Location``, stream it to disk, harvest many in parallel.

Two budgets, two limiters. Resolving a ``Location`` (``GET .../jobs/{id}/logs``,
answered with a 302) is a GitHub API request: it goes through the session's
limiter and pacer. Downloading from the ``Location`` is not: it has its own
concurrency (the number of download workers) and never carries a token.

Just in time: a worker resolves a ``Location`` only once it is ready to
download, because the URL expires after about a minute; a download refused as
expired (403 from the blob host) or broken mid-body is retried with a freshly
resolved ``Location``, with backoff, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Collection,
    Iterable,
    Iterator,
)
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import attrs

from . import _logtext, _sansio
from ._files import PartFile, check_expected_size
from ._session import MAX_REDIRECTS, Answer, Session
from .exceptions import (
    ApiError,
    GhJobsError,
    GoneError,
    IncompleteLogError,
    LogChangedError,
    LogDownloadError,
    LogsGoneError,
    LogsNotAvailableError,
    LogUrlExpiredError,
    NotFoundError,
    RequestTimeoutError,
    UnsafeURLError,
)
from .models import Job, JobUpdate, LogEvent, LogLocation

logger = logging.getLogger(__name__)

# Bytes per thread hop. Each hop costs a cross-CPU wake-up (0.25-1 ms here): 2 MiB
# batches gave ~1.4x the throughput of 1 MiB on a 512 MiB log, at 51 MiB peak RSS
# (4 MiB: no faster, 57-64 MiB).
CHUNK_SIZE = 2 * 1024 * 1024
READ_BUFSIZE = 1024 * 1024  # aiohttp's read buffer, on top of the two batches
REDIRECTS = frozenset({301, 302, 303, 307, 308})

JobsInput = Iterable[Job | int] | AsyncIterable[Job | int] | AsyncIterable[Job | int | JobUpdate]
ProgressHook = Callable[[LogEvent], None]
_T = TypeVar("_T")


async def settle(future: asyncio.Future[_T]) -> _T:
    """Await ``future`` without ever cancelling it; a cancellation waits for it, then propagates.

    Used for file work in threads: a thread cannot be stopped, and a temporary file
    it creates or writes after its caller gave up (and deleted the file) would be
    left behind, or written to after being closed.
    """
    await settle_all((future,))
    return future.result()


async def settle_all(futures: Collection[asyncio.Future[Any]]) -> None:
    """:func:`settle` for several futures: wait for all of them, then raise the first failure.

    Every failure is retrieved (none is reported as lost), and a cancellation
    still waits for the futures that have not ended yet.
    """
    try:
        await asyncio.wait(futures)
    except asyncio.CancelledError:
        while pending := [future for future in futures if not future.done()]:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(pending)
        _failures(futures)  # retrieved, so never reported as lost: we are cancelled
        raise
    failures = _failures(futures)
    if failures:
        raise failures[0]


def _failures(futures: Collection[asyncio.Future[Any]]) -> list[BaseException]:
    """The exceptions of ended futures, in order (retrieving them)."""
    return [
        error
        for future in futures
        if not future.cancelled() and (error := future.exception()) is not None
    ]


async def blocking(func: Callable[..., _T], /, *args: object) -> _T:
    """Run blocking file work in a thread, off the event loop; see :func:`settle`."""
    return await settle(asyncio.get_running_loop().run_in_executor(None, func, *args))


def logs_url(session: Session, owner: str, repo: str, job_id: int) -> str:
    """The API URL of a job's logs, after validating the arguments."""
    return session.api.build(*_sansio.job_segments(owner, repo, job_id), "logs")


def _as(cls: type[ApiError], exc: ApiError) -> ApiError:
    return cls(
        exc.message,
        status=exc.status,
        method=exc.method,
        url=exc.url,
        request_id=exc.request_id,
        documentation_url=exc.documentation_url,
    )


async def resolve_location(session: Session, url: str) -> tuple[LogLocation, Answer | None]:
    """Ask the API where a log is, without following the redirect.

    Returns the location and, when GitHub answered 200 with the log inline,
    that answer (whose body is the log). 404 raises LogsNotAvailableError,
    410 LogsGoneError.
    """
    try:
        answer = await session.request(url, follow_redirects=False)
    except NotFoundError as exc:
        raise _as(LogsNotAvailableError, exc) from None
    except GoneError as exc:
        raise _as(LogsGoneError, exc) from None
    resolved_at = datetime.fromtimestamp(session.config.clock(), tz=UTC)
    if answer.status in REDIRECTS:
        target = _sansio.resolve_redirect(answer.headers.get("location"), url)
        return LogLocation(url=target, resolved_at=resolved_at), None
    if answer.status == 200:
        return LogLocation(url=url, resolved_at=resolved_at, inline=True), answer
    raise ApiError(
        f"unexpected answer {answer.status} to a logs request", status=answer.status, url=url
    )


@contextlib.contextmanager
def _blob_errors(job_id: int, origin: str) -> Iterator[None]:
    """Translate transport failures of a blob download; only the origin is ever shown."""
    try:
        yield
    except GhJobsError:
        raise
    except aiohttp.ClientPayloadError:
        raise IncompleteLogError(
            f"log of job {job_id} broke off mid-body", job_id=job_id, origin=origin
        ) from None
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise RequestTimeoutError(
            f"log of job {job_id}: the blob host stopped sending", url=origin
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise LogDownloadError(
            f"log of job {job_id}: {type(exc).__name__} talking to {origin}",
            job_id=job_id,
            origin=origin,
        ) from None


@attrs.define
class Resume:
    """What continuing a broken read needs besides the offset: the blob's ETag, once known."""

    etag: str | None = None


@contextlib.asynccontextmanager
async def blob_response(
    session: Session,
    url: str,
    job_id: int,
    *,
    offset: int = 0,
    resume: Resume | None = None,
    range_value: str | None = None,
) -> AsyncIterator[tuple[aiohttp.ClientResponse, _logtext.RangeAnswer]]:
    """GET a signed log URL (no token), from byte ``offset``; the answer, judged.

    From ``offset > 0`` it sends ``Range: bytes=N-`` and, with a known ETag,
    ``If-Match``. A 412 (or an answer with another ETag) raises
    :class:`LogChangedError`; a 403 :class:`LogUrlExpiredError`; any answer that
    cannot continue the read :class:`LogDownloadError`. Transport failures while
    the caller reads the body are translated as well (see :func:`_blob_errors`).
    """
    headers = {"User-Agent": session.config.user_agent}  # and nothing else: no Authorization
    wanted = range_value or _logtext.range_header(offset)
    if wanted is not None:
        headers["Range"] = wanted
    if offset and resume is not None and resume.etag:
        headers["If-Match"] = resume.etag
    for _hop in range(MAX_REDIRECTS + 1):
        origin = _sansio.origin_of(url)
        with _blob_errors(job_id, origin):
            async with session.http.get(
                url, headers=headers, allow_redirects=False, read_bufsize=READ_BUFSIZE
            ) as response:
                if response.status in REDIRECTS:
                    url = _sansio.resolve_redirect(response.headers.get("Location"), url)
                    continue
                answer = _judge(response, offset, job_id, origin)
                etag = response.headers.get("ETag")
                if resume is not None and etag:
                    if offset and resume.etag and etag != resume.etag:
                        raise LogChangedError(
                            f"log of job {job_id} changed while it was read (new ETag)",
                            job_id=job_id,
                            status=response.status,
                            origin=origin,
                        )
                    resume.etag = etag
                yield response, answer
                return
    raise UnsafeURLError(f"more than {MAX_REDIRECTS} redirects", _sansio.origin_of(url))


def _judge(
    response: aiohttp.ClientResponse, offset: int, job_id: int, origin: str
) -> _logtext.RangeAnswer:
    status = response.status
    if status == 403:
        raise LogUrlExpiredError(
            f"log of job {job_id}: the blob host refused the signed URL (expired?)",
            job_id=job_id,
            status=403,
            origin=origin,
        )
    answer = _logtext.judge_range(
        status,
        response.headers.get("Content-Range"),
        check_expected_size(response.headers),
        offset,
    )
    if answer.action == "changed":
        raise LogChangedError(
            f"log of job {job_id} changed while it was read (the blob host answered {status})",
            job_id=job_id,
            status=status,
            origin=origin,
        )
    if answer.action == "refused":
        raise LogDownloadError(
            f"log of job {job_id}: the blob host answered {status}",
            job_id=job_id,
            status=status,
            origin=origin,
        )
    return answer


async def stream_blob(
    session: Session,
    location: LogLocation,
    part: PartFile,
    job_id: int,
    on_bytes: Callable[[int], None] | None = None,
    *,
    resume: Resume | None = None,
) -> Tail:
    """Stream a log from its signed ``Location`` into ``part``, sending no token.

    File work (create, hash, write) runs in worker threads, one batch of about
    :data:`CHUNK_SIZE` bytes at a time, overlapping the network reads, so the
    event loop never blocks and memory does not grow with the log. The last
    batch is returned unwritten, with the size the log must have:
    :func:`finish_verified` writes it, fsyncs and checks the size, in the same
    thread hop as the rest of the work on a complete file.

    When ``part`` already holds bytes (a broken attempt, resumed), the read
    continues from ``part.size`` with ``Range`` and ``If-Match``; a host that
    ignores the range sends everything, and the bytes already held are skipped.
    """
    offset = part.size
    async with blob_response(session, location.url, job_id, offset=offset, resume=resume) as (
        response,
        answer,
    ):
        origin = _sansio.origin_of(str(response.url))
        if answer.action == "complete":
            return Tail(pieces=(), expected=offset, origin=origin)
        if offset:
            logger.info("job %d: resuming the log at byte %d (%s)", job_id, offset, answer.action)
        pieces = await _write_body(response.content, part, on_bytes, skip=answer.skip)
        return Tail(pieces=tuple(pieces), expected=answer.total, origin=origin)


async def _write_body(
    content: aiohttp.StreamReader,
    part: PartFile,
    on_bytes: Callable[[int], None] | None,
    *,
    skip: int = 0,
) -> list[bytes]:
    """Hash and write a body into ``part`` (batch N while N+1 arrives), but for the last batch.

    A batch is the list of pieces aiohttp received, about :data:`CHUNK_SIZE`
    bytes together, never joined (joining copies, and large fresh buffers cost
    page faults). Two threads take each batch at once, one hashing it, one
    writing it (creating the file first): SHA-256 costs about twice the write,
    so on a machine with cores to spare the hash is hidden behind the network.
    At most two batches exist, plus aiohttp's read buffer (``read_bufsize``),
    so memory stays a few chunks whatever the log's size. The last batch is
    returned unwritten. The first ``skip`` bytes of the body are dropped.
    """
    writing: tuple[asyncio.Future[None], ...] = ()
    batch: list[bytes] = []
    gathered = 0
    try:
        async for received, _end_of_http_chunk in content.iter_chunks():
            piece = received
            if skip:
                if len(piece) <= skip:
                    skip -= len(piece)
                    continue
                piece, skip = piece[skip:], 0
            batch.append(piece)
            gathered += len(piece)
            if gathered >= CHUNK_SIZE and not content.at_eof():
                writing = await _hand_over(writing, part, batch, on_bytes)
                batch, gathered = [], 0
        if writing:
            await settle_all(writing)
        if on_bytes is not None and gathered:
            on_bytes(gathered)
        return batch
    finally:
        if not all(future.done() for future in writing):  # the body broke: let the work end
            with contextlib.suppress(Exception):
                await settle_all(writing)


async def _hand_over(
    writing: tuple[asyncio.Future[None], ...],
    part: PartFile,
    batch: list[bytes],
    on_bytes: Callable[[int], None] | None,
) -> tuple[asyncio.Future[None], ...]:
    """Wait for the previous batch's hash and write, then start both for ``batch`` in threads."""
    if writing:
        await settle_all(writing)
    if on_bytes is not None:
        on_bytes(sum(map(len, batch)))  # first: if the hook raises, no work runs unawaited
    loop = asyncio.get_running_loop()
    return (
        loop.run_in_executor(None, part.hash_pieces, *batch),
        loop.run_in_executor(None, part.store, *batch),
    )


def write_inline(
    answer: Answer, on_bytes: Callable[[int], None] | None = None, skip: int = 0
) -> Tail:
    """The log GitHub returned inline (200 from the API), past the ``skip`` bytes already held."""
    body = answer.body[skip:]
    if on_bytes is not None and body:
        on_bytes(len(body))
    return Tail(pieces=(body,), expected=check_expected_size(answer.headers), origin="")


@attrs.frozen
class Tail:
    """The last pieces of a log, not yet written, and the size it must have."""

    pieces: tuple[bytes, ...]
    expected: int | None  # Content-Length, when there is a usable one
    origin: str = attrs.field(repr=False)


def finish_verified(part: PartFile, tail: Tail, job_id: int) -> None:
    """Write the tail, fsync, close and check the size against ``Content-Length`` (blocking)."""
    part.finish(*tail.pieces)
    if tail.expected is not None and part.size != tail.expected:
        raise IncompleteLogError(
            f"log of job {job_id}: got {part.size} of {tail.expected} bytes",
            job_id=job_id,
            origin=tail.origin,
        )


_Item = TypeVar("_Item")


async def iterate(jobs: Iterable[_Item] | AsyncIterable[_Item]) -> AsyncIterator[_Item]:
    """Iterate a plain or async iterable (of jobs, or runs), closing an async generator
    afterwards."""
    if isinstance(jobs, AsyncIterable):
        iterator = aiter(jobs)
        try:
            async for item in iterator:
                yield item
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
    else:
        for item in jobs:
            yield item


def job_id_of(item: object) -> int:
    """The id of a ``Job`` or a job id; anything else is rejected."""
    if isinstance(item, Job):
        return item.id
    return _sansio.validate_id("job_id", item)


def target_for(dest: str | Path, job_id: int) -> Path:
    """A file path for :meth:`Client.download_log`: ``dest`` itself, or ``dest/{job_id}.log``."""
    path = Path(dest)
    if path.is_dir() or str(dest).endswith(("/", "\\")):
        return path / f"{job_id}.log"
    return path
