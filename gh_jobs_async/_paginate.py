"""Streaming jobs across pages, pages fetched concurrently, jobs yielded in order.

The first page tells how many pages there are (its ``rel="last"`` link). The
remaining pages are then fetched in windows, through the session's limiter and
pacer, as a pipeline: while a window's requests are in flight, the pages that
have already arrived are decoded, strictly in page order, with a turn of the
event loop before each one so that decoding never holds back a request or an
answer. Once every request of the window is answered, the call returns: the
pages not decoded yet are kept as bytes and decoded on the next call, while
the next window is in flight. Without a ``last`` link, ``next`` links are
followed one page at a time, until one leads back to a page already fetched
or past the pages ``total_count`` allows.

Memory is bounded by ``window`` pages: the bodies kept plus the pages in
flight never exceed it, and neither do the jobs buffered.

Structured concurrency (PEP 789): a window's tasks are created and finished
(or cancelled) within a single ``__anext__`` call; nothing is open across a
``yield``. Between two ``__anext__`` calls no task of the stream exists (only
bodies already read), so leaving the loop early (``break``, an exception,
cancellation) leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import _sansio
from ._session import Answer, Session
from .models import Job, JobsPage, decode_jobs_page

logger = logging.getLogger(__name__)

MAX_PAGES = 100_000  # a garbled rel="last" must not turn into millions of requests


async def fetch_page(session: Session, url: str) -> JobsPage:
    """GET one page of a job listing and decode it with its ``Link`` relations."""
    return _decode(await session.request(url))


def _decode(answer: Answer) -> JobsPage:
    return decode_jobs_page(answer.body, _sansio.parse_link(answer.headers.get("link")))


def page_url(template: str, page: int) -> str:
    """``template`` (a Link URL from GitHub) with its ``page`` parameter set to ``page``."""
    parts = urlsplit(template)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    query.append(("page", str(page)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def page_number(url: str) -> int | None:
    """The ``page`` parameter of a Link URL, or ``None`` when absent or not a number."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "page" and value.isascii() and value.isdigit() and len(value) <= 9:
            return int(value)
    return None


def _page_key(url: str) -> int | str:
    """What identifies a page: its number, or the whole URL when it has none."""
    number = page_number(url)
    return url if number is None else number


class JobStream(AsyncIterator[Job]):
    """An async iterator of the jobs of one listing, each job once, in page order.

    Returned by :meth:`gh_jobs_async.Client.list_jobs`; nothing is requested
    before the first ``__anext__``. ``await stream.collect()`` gathers a list.
    """

    def __init__(
        self,
        session: Session,
        first_url: str,
        *,
        per_page: int,
        max_items: int | None,
        window: int,
    ) -> None:
        self._session = session
        self._first_url = first_url
        self._per_page = per_page
        self._max_items = max_items
        self._window = max(1, window)
        self._buffer: deque[Job] = deque()
        self._bodies: deque[Answer] = deque()  # pages read, not decoded yet, in page order
        self._seen: set[int] = set()
        self._started = False
        self._done = False
        self._finished = False
        self._total_count: int | None = None
        self._template: str | None = None  # URL to derive page N from, when rel="last" is known
        self._next_page = 2
        self._last_page = 1
        self._next_url: str | None = None
        self._visited: set[int | str] = {1, first_url}  # pages requested by following next
        self.pages_fetched = 0

    def __repr__(self) -> str:
        return (
            f"<JobStream {self._first_url} pages_fetched={self.pages_fetched} "
            f"yielded={len(self._seen)} total_count={self._total_count}>"
        )

    @property
    def total_count(self) -> int | None:
        """GitHub's ``total_count`` from the first page, once it has been fetched."""
        return self._total_count

    def __aiter__(self) -> JobStream:
        return self

    async def __anext__(self) -> Job:
        while not self._buffer:
            if self._done or self._reached_max():
                self._finish()
                raise StopAsyncIteration
            try:
                await self._refill()
            except BaseException:
                # like an async generator, a stream that raised is over: going on
                # would skip the pages of the failed window
                self._abandon()
                raise
        return self._buffer.popleft()

    async def _refill(self) -> None:
        if not self._started:
            self._started = True
            await self._start()
        elif self._template is not None or self._bodies:
            await self._advance()
        elif self._next_url is not None:
            await self._follow_next()
        else:
            self._done = True

    async def collect(self) -> list[Job]:
        """Consume the stream into a list (respecting ``max_items``)."""
        return [job async for job in self]

    async def aclose(self) -> None:
        """Stop the stream; no request of it is in flight between iterations anyway."""
        self._abandon()

    def _abandon(self) -> None:
        self._done = self._finished = True
        self._template = self._next_url = None
        self._buffer.clear()
        self._bodies.clear()

    # ------------------------------------------------------------------ internals

    def _reached_max(self) -> bool:
        return self._max_items is not None and len(self._seen) >= self._max_items

    def _take(self, page: JobsPage) -> int:
        """Buffer the page's jobs not seen before (up to max_items); return how many."""
        self.pages_fetched += 1
        added = 0
        for job in page.jobs:
            if job.id in self._seen:
                logger.debug("dropping job %d seen on an earlier page", job.id)
                continue
            if self._max_items is not None and len(self._seen) >= self._max_items:
                break
            self._seen.add(job.id)
            self._buffer.append(job)
            added += 1
        return added

    async def _start(self) -> None:
        page = await fetch_page(self._session, self._first_url)
        self._total_count = page.total_count
        self._take(page)
        last = page.links.get("last")
        if last is not None:
            number = page_number(_sansio.check_link(last, self._session.api))
            if number is not None and number > 1:
                self._template = last
                self._last_page = min(number, self._page_cap())
                return
        self._set_next(page)

    def _page_cap(self) -> int:
        """Pages worth fetching: bounded by total_count and max_items, whatever ``last`` says."""
        cap = MAX_PAGES
        if self._total_count is not None:
            cap = min(cap, math.ceil(self._total_count / self._per_page) + 1)
        if self._max_items is not None:
            cap = min(cap, math.ceil(self._max_items / self._per_page) + 1)
        return max(cap, 1)

    def _set_next(self, page: JobsPage) -> None:
        """Follow ``rel="next"`` unless it leads back to a page already fetched, or past
        the pages total_count (and max_items) allow: a broken chain must end, not loop."""
        nxt = page.links.get("next")
        self._next_url = None
        if not nxt:
            return
        url = _sansio.check_link(nxt, self._session.api)
        if _page_key(url) in self._visited:
            logger.warning("rel=next leads back to a page already listed; ending the listing")
        elif self.pages_fetched >= self._page_cap():
            logger.warning(
                "rel=next goes past total_count=%s; ending the listing", self.total_count
            )
        else:
            self._next_url = url

    async def _follow_next(self) -> None:
        assert self._next_url is not None  # noqa: S101 - guarded by the caller
        self._visited.add(_page_key(self._next_url))
        page = await fetch_page(self._session, self._next_url)
        if not page.jobs:
            self._next_url = None
            return
        self._take(page)
        self._set_next(page)

    def _next_window(self) -> list[str]:
        """URLs of the next pages: the window minus the bodies kept, within the caps."""
        template = self._template
        if template is None:
            return []
        first = self._next_page
        if first > self._last_page:  # e.g. rel="last" beyond what total_count allows
            self._template = None
            return []
        last = min(self._last_page, first + self._window - len(self._bodies) - 1)
        if self._max_items is not None:
            promised = len(self._seen) + len(self._bodies) * self._per_page
            needed = math.ceil(max(0, self._max_items - promised) / self._per_page)
            last = min(last, first + needed - 1)
        if last < first:
            return []  # the window is full, or max_items needs no more pages for now
        if last >= self._last_page:
            self._template = None
        self._next_page = last + 1
        return [page_url(template, n) for n in range(first, last + 1)]

    async def _advance(self) -> None:
        """Fetch the next window while decoding, in page order, the pages already in.

        Returns once every request of the window is answered (or, when there is
        none, once every kept body is decoded); the rest waits for the next call.
        """
        urls = self._next_window()
        if not urls and not self._bodies:
            self._template = None  # nothing to fetch or decode: the listing is over
            return
        tasks = [asyncio.create_task(self._session.request(url)) for url in urls]
        queue: deque[Answer | asyncio.Task[Answer]] = deque(self._bodies)
        queue.extend(tasks)
        self._bodies.clear()
        try:
            while queue and not self._done and not self._reached_max():
                if tasks and all(task.done() for task in tasks):
                    break  # every request is answered: decode the rest on the next call
                head = queue.popleft()
                answer = head if isinstance(head, Answer) else await head
                if not all(task.done() for task in tasks):
                    await asyncio.sleep(0)  # let answers in and requests out before decoding
                page = _decode(answer)
                if not page.jobs:  # the listing ended early (the run changed while listed)
                    self._template = None
                    self._done = True
                    break
                self._take(page)
            if not self._done and not self._reached_max():
                self._bodies.extend(
                    item if isinstance(item, Answer) else item.result() for item in queue
                )
        finally:
            await _settle(tasks)

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        total = self._total_count
        if self._done and total is not None and not self._reached_max() and len(self._seen) < total:
            logger.warning(
                "listing ended with %d jobs but GitHub reported total_count=%d "
                "(the run changed while it was listed?)",
                len(self._seen),
                self._total_count,
            )
        self._done = True


async def _settle(tasks: list[asyncio.Task[Answer]]) -> None:
    """Cancel the tasks still running and wait until every one has ended.

    Exceptions of tasks nobody awaited are retrieved here and dropped: the
    caller has already raised the one that matters, or returned normally.
    """
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
