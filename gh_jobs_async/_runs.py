"""Listing workflow runs: every matching run once, newest first, past the 1,000-run cap.

``GET /repos/{owner}/{repo}/actions/runs`` (or ``.../workflows/{workflow_id}/runs``)
reaches at most 1,000 runs of a search (any filter), and stops an unfiltered listing at
about 40,000 with a 422. :class:`RunStream` first asks for the query as given; when its
``total_count`` is over the cap it lists ``created=FROM..TO`` windows instead, halving
each (concurrently, through the session's limiter and pacer) until it fits, with a cheap
``per_page=1`` probe where a window is expected not to. When an unfiltered listing hits
its limit, the rest is listed the same way, from the oldest run already seen. Pages are
fetched concurrently, in batches, and yielded in order; runs are deduplicated by id.
The decisions (ranges, halves, page sizes) are pure, in :mod:`gh_jobs_async._created`.

Structured concurrency (PEP 789): every batch of requests is started and finished inside
one coroutine that the generator awaits, in an ``asyncio.TaskGroup``; no task is alive
across a ``yield``, and when one request fails the others are cancelled before its error
leaves the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Sequence
from typing import Any, TypeVar

import attrs

from ._created import (
    CAP,
    TARGET,
    CreatedRange,
    RunFilters,
    Window,
    over_cap,
    pages_for,
    partition,
    probe_per_page,
)
from ._session import Session
from .exceptions import ValidationFailedError, first_leaf
from .models import RunsPage, WorkflowRun, decode_runs_page

logger = logging.getLogger(__name__)

__all__ = ["RunStream", "is_pagination_limit"]


_T = TypeVar("_T")


def is_pagination_limit(error: ValidationFailedError) -> bool:
    """Whether a 422 is GitHub's "pagination is limited" (to split), not a bad parameter."""
    return "pagination is limited" in error.message.lower()


async def _all(coroutines: Sequence[Coroutine[Any, Any, _T]]) -> list[_T]:
    """Run ``coroutines`` concurrently in one task group; their results in order.

    When one fails the others are cancelled, and awaited, before its error is raised: the
    error itself (``NotFoundError``, ``RunsCapError``...), not an exception group.
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coroutine) for coroutine in coroutines]
    except BaseExceptionGroup as errors:
        raise first_leaf(errors) from None
    return [task.result() for task in tasks]


@attrs.frozen
class _Leaf:
    """A window that fits under the cap, with its first page when the probe fetched one."""

    window: Window
    total_count: int
    first: RunsPage | None
    qualifier: str | None  # the created value its pages are listed with


class RunStream(AsyncIterator[WorkflowRun]):
    """An async iterator of the runs of one listing, each once, newest first.

    Returned by :meth:`gh_jobs_async.Client.list_runs`; nothing is requested before the
    first ``__anext__``. ``await stream.collect()`` gathers a list. ``total_count`` is
    GitHub's count for the query as given (uncapped for a search), once known;
    ``requests`` counts the requests sent so far (probes included); ``windows`` the
    ``created`` windows listed.
    """

    def __init__(
        self,
        session: Session,
        segments: Sequence[str | int],
        filters: RunFilters,
        created: CreatedRange,
        *,
        per_page: int,
        batch: int,
    ) -> None:
        self._session = session
        self._segments = tuple(segments)
        self._filters = filters
        self._created = created
        self._per_page = per_page
        self._batch = max(1, batch)
        self._seen: set[int] = set()
        self._generator = self._generate()
        self.total_count: int | None = None
        self.requests = 0
        self.windows = 0
        self._limited = False  # an unfiltered listing met "pagination is limited"

    def __repr__(self) -> str:
        return (
            f"<RunStream /{'/'.join(map(str, self._segments))} yielded={len(self._seen)} "
            f"total_count={self.total_count} requests={self.requests}>"
        )

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> WorkflowRun:
        return await self._generator.__anext__()

    async def aclose(self) -> None:
        """Stop the stream; no request of it is in flight between iterations."""
        await self._generator.aclose()

    async def collect(self) -> list[WorkflowRun]:
        """Consume the stream into a list."""
        return [run async for run in self]

    # ------------------------------------------------------------------ requests

    def _url(self, created: str | None, *, per_page: int, page: int) -> str:
        query = self._filters.query(created, per_page=per_page, page=page)
        return self._session.api.build(*self._segments, query=query)

    async def _page(
        self, created: str | None, *, per_page: int, page: int, limited_ok: bool = False
    ) -> RunsPage | None:
        """One page; None for GitHub's "pagination is limited" 422 when ``limited_ok``
        (the unfiltered listing's end), which is raised otherwise."""
        url = self._url(created, per_page=per_page, page=page)
        self.requests += 1
        try:
            answer = await self._session.request(url)
        except ValidationFailedError as exc:
            if limited_ok and is_pagination_limit(exc):
                return None
            raise
        return decode_runs_page(answer.body)

    async def _pages(
        self, wanted: Sequence[tuple[str | None, int]], *, limited_ok: bool = False
    ) -> list[RunsPage | None]:
        """Pages ``(created, page)`` at ``per_page``, concurrently; answers in order."""
        return await _all(
            [
                self._page(created, per_page=self._per_page, page=page, limited_ok=limited_ok)
                for created, page in wanted
            ]
        )

    def _fresh(self, runs: Sequence[WorkflowRun]) -> list[WorkflowRun]:
        """The runs not yielded before (a run can move across pages while listed)."""
        fresh = []
        for run in runs:
            if run.id not in self._seen:
                self._seen.add(run.id)
                fresh.append(run)
        return fresh

    # ------------------------------------------------------------------ the listing

    async def _generate(self) -> AsyncGenerator[WorkflowRun, None]:
        created = self._created.qualifier()
        first = await self._page(created, per_page=self._per_page, page=1)
        assert first is not None  # noqa: S101 - page 1 is never "limited"
        self.total_count = first.total_count
        searching = self._filters.searching or self._created.bounded
        if searching and over_cap(first.total_count):
            async for run in self._search(self._created, first):
                yield run
            return
        oldest = None
        async for run in self._plain(created, first, searching=searching):
            oldest = run.created_at
            yield run
        if self._limited and oldest is not None:
            logger.info("runs listing hit GitHub's pagination limit; listing older runs by date")
            async for run in self._search(CreatedRange(self._created.since, oldest), None):
                yield run

    async def _plain(
        self, created: str | None, first: RunsPage, *, searching: bool
    ) -> AsyncIterator[WorkflowRun]:
        """The query as given, every page. ``total_count`` of an unfiltered listing is
        clamped at its limit: while pages are full it asks on, one page at a time, until a
        page is short or GitHub says "pagination is limited" (``_limited``)."""
        self.windows += 1
        for run in self._fresh(first.runs):
            yield run
        if len(first.runs) < self._per_page:
            return
        last = -(-min(first.total_count, CAP if searching else first.total_count) // self._per_page)
        page = 2
        while page <= last or not searching:
            stop = min(last, page + self._batch - 1) if page <= last else page
            wanted = [(created, n) for n in range(page, stop + 1)]
            for answer in await self._pages(wanted, limited_ok=not searching):
                if answer is None:
                    self._limited = True
                    return
                for run in self._fresh(answer.runs):
                    yield run
                if len(answer.runs) < self._per_page:
                    return
            page = stop + 1

    async def _search(
        self, whole: CreatedRange, first: RunsPage | None
    ) -> AsyncIterator[WorkflowRun]:
        """``whole`` as ``created`` windows that each fit under the cap, newest first."""
        if first is None:
            first = await self._page(whole.qualifier(), per_page=self._per_page, page=1)
            assert first is not None  # noqa: S101 - page 1 is never "limited"
        if not first.runs:
            return
        window = whole.window(newest=first.runs[0].created_at)
        if window is None:
            return
        if over_cap(first.total_count):
            sample = [run.created_at for run in first.runs]
            slices = partition(window, first.total_count, sample)
            parts = await _all([self._resolve(part, TARGET) for part in slices])
            leaves = [leaf for part in parts for leaf in part]
        else:
            keep = first if len(first.runs) == min(first.total_count, self._per_page) else None
            leaves = [_Leaf(window, first.total_count, keep, whole.qualifier())]
        async for run in self._list_leaves(leaves):
            yield run

    async def _split(self, window: Window, total_count: int) -> list[_Leaf]:
        """Leaves of ``window`` (over the cap): its halves, probed concurrently and split
        again while over the cap; newest first. A single second raises RunsCapError."""
        halves = window.halves(total_count)
        expected = total_count / 2
        parts = await _all([self._resolve(half, expected) for half in halves])
        return [leaf for part in parts for leaf in part]

    async def _resolve(self, window: Window, expected: float) -> list[_Leaf]:
        """Probe one window: a leaf when it fits, else its halves' leaves."""
        per_page = probe_per_page(expected, self._per_page)
        qualifier = window.qualifier()
        probe = await self._page(qualifier, per_page=per_page, page=1)
        assert probe is not None  # noqa: S101 - page 1 is never "limited"
        if probe.total_count == 0 or not probe.runs:
            return []
        if over_cap(probe.total_count):
            tight = window.tightened(probe.runs[0].created_at)
            return [] if tight is None else await self._split(tight, probe.total_count)
        first = probe if per_page == self._per_page else None
        return [_Leaf(window, probe.total_count, first, qualifier)]

    async def _list_leaves(self, leaves: Sequence[_Leaf]) -> AsyncIterator[WorkflowRun]:
        """Every page of every leaf, fetched in concurrent batches, yielded in order."""
        plan: list[tuple[str | None, int] | RunsPage] = []
        for leaf in leaves:
            self.windows += 1
            start = 1
            if leaf.first is not None:
                plan.append(leaf.first)
                start = 2
            last = pages_for(leaf.total_count, self._per_page)
            plan.extend((leaf.qualifier, n) for n in range(start, last + 1))
        for index in range(0, len(plan), self._batch):
            chunk = plan[index : index + self._batch]
            wanted = [item for item in chunk if not isinstance(item, RunsPage)]
            answers = iter(await self._pages(wanted)) if wanted else iter(())
            for item in chunk:
                answer = item if isinstance(item, RunsPage) else next(answers)
                assert answer is not None  # noqa: S101 - not limited_ok: raised instead
                for run in self._fresh(answer.runs):
                    yield run
