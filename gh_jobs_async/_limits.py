"""Flow control shared by every API request of one client.

* :class:`Limiter` bounds requests in flight; it halves its limit on a secondary
  rate limit and grows back by one slot per ``limit`` successes, but not past
  its estimate of what the server allows (the requests in flight when it
  refused, less the refusals of the same burst), which relaxes only slowly.
* :class:`Pacer` keeps every 60 s window, wherever it starts, under a request
  budget (GitHub's secondary limit of 900 points a minute per endpoint). It is a
  sliding window over *completion* times: a request counts from the moment it is
  sent until ``window + margin`` seconds after its answer arrived, so the server,
  which counts arrivals, can never see more than the budget in one window. It
  costs nothing until the budget is used up.

Both take an injectable clock and sleep so tests run in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Limiter:
    """A FIFO semaphore whose size adapts to secondary rate limits."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self.peak = 0
        self.ceiling = maximum  # estimate of what the server tolerates
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"<Limiter {self.in_flight}/{self.limit} in flight (max {self.maximum})>"

    async def acquire(self) -> None:
        """Wait for a slot (first come, first served)."""
        if self.in_flight < self.limit and not self._waiters:
            self._take()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was granted just as we were cancelled
            raise

    def release(self) -> None:
        """Give a slot back and wake the next waiters that fit under the limit."""
        self.in_flight -= 1
        self._wake()

    def shrink(self) -> None:
        """Halve the limit (at least 1) after a secondary rate limit."""
        self.limit = max(1, self.limit // 2)
        self._successes = 0

    def refused(self, *, fresh: bool) -> None:
        """A secondary limit refused a request.

        ``fresh``: the first refusal of a burst (the request was sent after the
        last pause began); it halves the limit. Every refusal lowers the
        estimate of the server's tolerance by one, starting from the requests
        in flight when the burst's first refusal arrived.
        """
        if fresh:
            self.ceiling = self.in_flight + 1
            self.shrink()
        self.ceiling = max(1, self.ceiling - 1)
        self.limit = min(self.limit, self.ceiling)

    def succeeded(self) -> None:
        """Record a success; after ``limit`` of them, allow one more request in flight.

        Growth stops at :attr:`ceiling`; the ceiling itself rises by one after
        ten times its value of successes in a row.
        """
        if self.limit >= self.maximum:
            return
        self._successes += 1
        if self.limit >= self.ceiling:
            if self._successes >= 10 * self.ceiling:
                self.ceiling += 1
                self._successes = 0
            return
        if self._successes >= self.limit:
            self.limit += 1
            self._successes = 0
            self._wake()

    def _take(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self._take()
                future.set_result(None)


class Pacer:
    """At most ``budget`` requests in any ``window`` seconds (``None``: no pacing)."""

    def __init__(
        self,
        budget: int | None,
        *,
        clock: Clock,
        sleep: Sleep,
        window: float = 60.0,
        margin: float = 1.0,
    ) -> None:
        self.budget = budget
        self.window = window
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._open = 0
        self._completed: deque[float] = deque()
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Pacer budget={self.budget}/{self.window:g}s open={self._open}>"

    def used(self) -> int:
        """Requests counted in the current window (in flight or recently answered)."""
        self._expire(self._clock())
        return self._open + len(self._completed)

    async def acquire(self) -> float:
        """Wait until one more request fits in the window; return the seconds waited."""
        if self.budget is None:
            return 0.0
        start = self._clock()
        while True:
            now = self._clock()
            self._expire(now)
            if self._open + len(self._completed) < self.budget:
                self._open += 1
                return now - start
            if self._completed:
                await self._sleep(self._completed[0] + self.window + self.margin - now)
            else:  # the whole budget is in flight: wait for an answer
                changed = self._changed
                await changed.wait()

    def release(self) -> None:
        """The request's answer arrived (or it failed): it stays counted for one window."""
        if self.budget is None:
            return
        self._open -= 1
        self._completed.append(self._clock())
        self._changed.set()
        self._changed = asyncio.Event()

    def _expire(self, now: float) -> None:
        horizon = now - self.window - self.margin
        while self._completed and self._completed[0] <= horizon:
            self._completed.popleft()
