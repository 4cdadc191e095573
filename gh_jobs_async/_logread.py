"""Reading a job's log without writing it: :class:`LogReader` and :func:`tail_log`.

Both sit on :func:`~gh_jobs_async._logs.blob_response` (no token, ``Range`` and
``If-Match`` from a byte offset, the answer judged by :func:`~_logtext.judge_range`); the
text itself (lines, entries, tail windows) is the pure ``_logtext``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

import aiohttp

from . import _logtext, _sansio
from ._logs import Resume, blob_response, resolve_location
from ._session import Session
from .exceptions import (
    GhJobsError,
    IncompleteLogError,
    LogChangedError,
    LogDownloadError,
    TransportError,
)
from .models import LogLocation

__all__ = ["LogReader", "tail_log"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


def _resumable_read(exc: BaseException) -> bool:
    """Failures a read may continue past: blob-side trouble and transport errors."""
    return isinstance(exc, LogDownloadError | TransportError) and not isinstance(
        exc, LogChangedError
    )


class LogReader:
    """One job's log as a stream, from :meth:`Client.open_log`; read it once.

    :meth:`chunks` gives the raw bytes, :meth:`lines` text lines, :meth:`entries`
    parsed :class:`~gh_jobs_async.LogLine` entries. Memory does not grow with
    the log. A body that breaks part-way continues from the byte it stopped
    at: a freshly resolved ``Location``, ``Range: bytes=N-`` and ``If-Match``
    on the blob's ETag; a host that ignores the range (200) has its first N
    bytes skipped, and a 416 whose total is N means the log was complete. The
    caller sees one unbroken stream. A log that changed meanwhile (412) raises
    :class:`~gh_jobs_async.LogChangedError`, since what follows would belong to
    another log. Leaving the ``async with`` block closes the connection.
    """

    def __init__(
        self,
        session: Session,
        url: str,
        job_id: int,
        *,
        max_attempts: int,
        max_line: int,
        start: int = 0,
        etag: str | None = None,
        probe: bool = False,
        location: LogLocation | None = None,
    ) -> None:
        """A reader of the log at API ``url``; nothing is sent before iteration.

        For :func:`tail_log`: ``start`` reads from that byte on (for :meth:`chunks`;
        lines are counted from the start of the log), ``etag`` pins the blob with
        ``If-Match`` from the first request, and ``probe`` asks first for one byte
        (:func:`~_logtext.probe_range`): a 206 ends the read there with nothing
        yielded and :attr:`probed` set, ``size`` and :attr:`etag` known; a host
        that ignores ranges sends the whole log, read as usual. ``location``, a
        signed ``Location`` already resolved, serves the first request; every retry
        resolves a fresh one.
        """
        self._session = session
        self._url = url
        self.job_id = job_id
        self.max_attempts = max_attempts
        self.max_line = max_line
        self.offset = start  #: the byte of the log reached: handed to the caller up to here
        self.size: int | None = None  #: the log's size, once an answer said it
        self.probed = False  #: a ``probe`` was answered with the size alone
        self.resumes = 0  #: how many times a broken body was continued
        self.truncated_lines = 0  #: lines cut at ``max_line``
        self.location = location  #: the signed Location of the latest blob request
        self._reuse = location
        self._probe = probe
        self._resume = Resume(etag=etag)
        self._claimed = False
        self._open: list[AsyncGenerator[object, None]] = []

    def __repr__(self) -> str:
        return f"<LogReader job={self.job_id} offset={self.offset} resumes={self.resumes}>"

    @property
    def etag(self) -> str | None:
        """The blob's ETag, once an answer carried it (or as pinned)."""
        return self._resume.etag

    async def __aenter__(self) -> LogReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the iterators handed out (and so the connection)."""
        while self._open:
            await self._open.pop().aclose()

    def _claim(self) -> None:
        if self._claimed:
            raise RuntimeError("a LogReader is read once: open the log again to re-read it")
        self._claimed = True

    def _track(self, gen: AsyncGenerator[_T, None]) -> AsyncGenerator[_T, None]:
        self._open.append(gen)
        return gen

    def chunks(self) -> AsyncIterator[bytes]:
        """The raw bytes of the log, as they arrive."""
        self._claim()
        return self._track(self._chunks())

    def lines(self) -> AsyncIterator[str]:
        """Text lines: split on ``\\n``, one ``\\r`` dropped, UTF-8 (bad bytes replaced), no BOM."""
        self._claim()
        return self._track(self._lines())

    def entries(self) -> AsyncIterator[_logtext.LogLine]:
        """Parsed entries; a line without a timestamp continues the entry before it."""
        self._claim()
        return self._track(self._entries())

    async def _raw_lines(self) -> AsyncGenerator[_logtext.RawLine, None]:
        splitter = _logtext.LineSplitter(max_line=self.max_line)
        async with contextlib.aclosing(self._chunks()) as chunks:
            async for chunk in chunks:
                for line in splitter.feed(chunk):
                    self.truncated_lines += line.truncated
                    yield line
        for line in splitter.finish():
            self.truncated_lines += line.truncated
            yield line

    async def _lines(self) -> AsyncGenerator[str, None]:
        async with contextlib.aclosing(self._raw_lines()) as lines:
            async for raw in lines:
                yield _logtext.decode(raw.data)

    async def _entries(self) -> AsyncGenerator[_logtext.LogLine, None]:
        assembler = _logtext.EntryAssembler(max_chars=self.max_line)
        async with contextlib.aclosing(self._raw_lines()) as lines:
            async for raw in lines:
                done = assembler.push(_logtext.parse_line(raw))
                if done is not None:
                    yield done
        last = assembler.flush()
        if last is not None:
            yield last

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        attempt = 1
        while True:
            try:
                async with contextlib.aclosing(self._read_from()) as pieces:
                    async for piece in pieces:
                        self.offset += len(piece)
                        yield piece
                return
            except (GhJobsError, OSError) as exc:
                if attempt >= self.max_attempts or not _resumable_read(exc):
                    raise
                failure = exc
            delay = _sansio.backoff_delay(attempt - 1, base=0.25, cap=10.0)
            logger.warning(
                "job %d: %s; continuing at byte %d with a fresh Location in %.2f s",
                self.job_id,
                failure,
                self.offset,
                delay,
            )
            attempt += 1
            self.resumes += 1
            await self._session.config.sleep(delay)

    async def _read_from(self) -> AsyncGenerator[bytes, None]:
        """One request: the bytes from ``self.offset`` on, checked against the size promised."""
        location, inline = self._reuse, None
        self._reuse = None  # a retry asks for a fresh Location
        if location is None:
            location, inline = await resolve_location(self._session, self._url)
        self.location = location
        if inline is not None:
            if inline.body[self.offset :]:
                yield inline.body[self.offset :]
            return
        offset = self.offset
        probing = self._probe and not offset
        async with blob_response(
            self._session,
            location.url,
            self.job_id,
            offset=offset,
            resume=self._resume,
            range_value=_logtext.probe_range(offset) if probing else None,
        ) as (response, answer):
            self.size = answer.total if answer.total is not None else self.size
            if answer.action == "complete":
                return
            if probing and response.status == 206:
                await self._probed(response, location.url)
                return
            skip = answer.skip
            async for received in response.content.iter_any():
                piece = received
                if skip:
                    if len(piece) <= skip:
                        skip -= len(piece)
                        continue
                    piece, skip = piece[skip:], 0
                offset += len(piece)
                yield piece
            if answer.total is not None and offset != answer.total:
                raise IncompleteLogError(
                    f"log of job {self.job_id}: got {offset} of {answer.total} bytes",
                    job_id=self.job_id,
                    origin=_sansio.origin_of(location.url),
                )

    async def _probed(self, response: aiohttp.ClientResponse, url: str) -> None:
        """The one-byte answer of a probe: it must say the log's size."""
        await response.read()
        if self.size is None:
            raise LogDownloadError(
                f"log of job {self.job_id}: the blob host did not say the log's size",
                job_id=self.job_id,
                status=206,
                origin=_sansio.origin_of(url),
            )
        self.probed = True


#: How many times a tail starts again from a new probe when the log changed under it.
TAIL_RESTARTS = 2


async def tail_log(
    session: Session,
    url: str,
    job_id: int,
    count: int,
    *,
    max_attempts: int = 4,
    first_window: int = 64 * 1024,
    max_line: int = _logtext.DEFAULT_MAX_LINE,
) -> list[_logtext.LogLine]:
    """The last ``count`` entries of a log, read backwards in doubling windows.

    An entry is a timestamped line with the lines without a timestamp that follow it.
    The size comes from a one-byte range (``bytes=0-0``; its ``Content-Range``
    carries the total); then ``bytes=max(0, size-W)-`` for W = ``first_window``,
    doubling until the window holds ``count`` whole entries. No suffix range is
    ever sent, and a window from byte 0 is a plain GET. A host that ignores
    ranges answers the first request with the whole log: it is streamed and
    only its last entries kept. Each read (the probe, each window) is a
    :class:`LogReader`: up to ``max_attempts`` requests, a broken body continued
    from the byte it reached. The probe's ``Location`` serves the windows while
    it works (one API request per tail); each retry resolves a fresh one. Each
    window streams through a bounded buffer.

    Every window from past byte 0 carries ``If-Match`` with the probe's ETag, so
    it is the probe's log or refused (412): a log replaced meanwhile is tailed
    again from a new probe, at most :data:`TAIL_RESTARTS` times, then
    :class:`~gh_jobs_async.LogChangedError` is raised. (A window from byte 0 is
    the whole log, whichever it is, and pins its own ETag for its resumes.)
    """
    for restart in range(TAIL_RESTARTS + 1):
        try:
            return await _tail_once(
                session, url, job_id, count, max_attempts, first_window, max_line
            )
        except LogChangedError:
            if restart >= TAIL_RESTARTS:
                raise
            logger.warning(
                "job %d: the log changed while its tail was read; starting again", job_id
            )
    raise AssertionError("unreachable")  # pragma: no cover


async def _tail_once(  # noqa: PLR0917 - tail_log's arguments, passed on
    session: Session,
    url: str,
    job_id: int,
    count: int,
    max_attempts: int,
    first_window: int,
    max_line: int,
) -> list[_logtext.LogLine]:
    """One tail: a probe, then windows pinned to the probe's ETag."""
    probe = LogReader(
        session, url, job_id, max_attempts=max_attempts, max_line=max_line, probe=True
    )
    whole = await _collect(probe, 0, count, max_line)
    if not probe.probed:  # inline, empty, or a host that ignores ranges: the whole log
        return whole or []
    assert probe.size is not None  # noqa: S101 - a probe is answered with the size
    location = probe.location
    for start in _logtext.tail_windows(probe.size, first_window):
        window = LogReader(
            session,
            url,
            job_id,
            max_attempts=max_attempts,
            max_line=max_line,
            start=start,
            etag=probe.etag,
            location=location,
        )
        found = await _collect(window, start, count, max_line)
        if found is not None:
            return found
        location = window.location  # still fresh: the next window needs no API request
    raise AssertionError("unreachable: a window from byte 0 always answers")  # pragma: no cover


async def _collect(
    reader: LogReader, start: int, count: int, max_line: int
) -> list[_logtext.LogLine] | None:
    """Stream a read (from byte ``start``) through a :class:`~_logtext.TailCollector`."""
    collector = _logtext.TailCollector(start, count, max_line=max_line)
    async with reader:
        async for piece in reader.chunks():
            collector.feed(piece)
    return collector.finish()
