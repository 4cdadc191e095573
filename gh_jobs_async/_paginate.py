"""Streaming jobs across pages, pages fetched concurrently, jobs yielded in order.

The first page tells how many pages there are (its ``rel="last"`` link). The
remaining pages are then fetched in windows of up to ``window`` pages at once,
through the session's limiter and pacer; each page is decoded as soon as it
arrives, while the others are still in flight. Jobs are yielded strictly in
page order. Without a ``last`` link, ``next`` links are followed one at a time.

Structured concurrency (PEP 789): a window's tasks are created and finished
(or cancelled) within a single ``__anext__`` call; nothing is open across a
``yield``. Between two ``__anext__`` calls no task of the
stream exists, so leaving the loop early (``break``, an exception,
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
from ._session import Session
from .models import Job, JobsPage, decode_jobs_page

logger = logging.getLogger(__name__)

MAX_PAGES = 100_000  # a garbled rel="last" must not turn into millions of requests


async def fetch_page(session: Session, url: str) -> JobsPage:
    """GET one page of a job listing and decode it with its ``Link`` relations."""
    answer = await session.request(url)
    links = _sansio.parse_link(answer.headers.get("link"))
    return decode_jobs_page(answer.body, links)


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
        self._window = window
        self._buffer: deque[Job] = deque()
        self._seen: set[int] = set()
        self._started = False
        self._done = False
        self._finished = False
        self._total_count: int | None = None
        self._template: str | None = None  # URL to derive page N from, when rel="last" is known
        self._next_page = 2
        self._last_page = 1
        self._next_url: str | None = None
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
            if not self._started:
                self._started = True
                await self._start()
            elif self._template is not None:
                await self._fetch_window()
            elif self._next_url is not None:
                await self._follow_next()
            else:
                self._done = True
        return self._buffer.popleft()

    async def collect(self) -> list[Job]:
        """Consume the stream into a list (respecting ``max_items``)."""
        return [job async for job in self]

    async def aclose(self) -> None:
        """Stop the stream; no request of it is in flight between iterations anyway."""
        self._done = True
        self._buffer.clear()

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
        nxt = page.links.get("next")
        self._next_url = _sansio.check_link(nxt, self._session.api) if nxt else None

    async def _follow_next(self) -> None:
        assert self._next_url is not None  # noqa: S101 - guarded by the caller
        page = await fetch_page(self._session, self._next_url)
        if not page.jobs:
            self._next_url = None
            return
        self._take(page)
        self._set_next(page)

    async def _fetch_window(self) -> None:
        """Fetch the next window of pages concurrently; buffer their jobs in page order."""
        assert self._template is not None  # noqa: S101 - guarded by the caller
        first = self._next_page
        last = min(self._last_page, first + self._window - 1)
        if self._max_items is not None:
            remaining = self._max_items - len(self._seen)
            last = min(last, first + max(0, math.ceil(remaining / self._per_page)) - 1)
        if last < first:
            self._template = None
            self._done = True
            return
        pages = await _fetch_all(
            self._session, [page_url(self._template, n) for n in range(first, last + 1)]
        )
        self._next_page = last + 1
        for page in pages:
            self._take(page)
        if self._next_page > self._last_page or not pages[-1].jobs:
            self._template = None
            self._done = True

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


async def _fetch_all(session: Session, urls: list[str]) -> list[JobsPage]:
    """Fetch pages concurrently; the first error is raised unchanged after the rest are cancelled.

    The tasks never outlive this call, whether it returns, raises or is cancelled.
    """
    tasks = [asyncio.create_task(fetch_page(session, url)) for url in urls]
    try:
        return await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
