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

The whole state that keeps a client gentle (requests in flight and the ceiling,
the window, the secondary pause, the spent primary budget) sits behind one
interface, :class:`Budget`, opened from a :class:`LimitStore`. The default,
:class:`LocalLimits`, keeps it in this process (:class:`LocalBudget`);
:class:`gh_jobs_async.redis.RedisStore` shares it between processes.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import attrs

from .exceptions import PrimaryRateLimitError

logger = logging.getLogger(__name__)

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
        self._wake()

    def give_back(self) -> None:
        """The request was never sent: it leaves the window at once.

        A waiter asleep until the oldest answer leaves the window sees the room at its
        next check; one waiting for an answer (the whole budget in flight) wakes now.
        """
        if self.budget is None:
            return
        self._open -= 1
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _expire(self, now: float) -> None:
        horizon = now - self.window - self.margin
        while self._completed and self._completed[0] <= horizon:
            self._completed.popleft()


# --------------------------------------------------------------------------- the interface


def budget_name(origin: str, token: str | None) -> str:
    """The default name of a budget: a SHA-256 prefix of API origin and ``token``.

    ``token`` is the identity the budget belongs to: the session passes its auth's
    non-secret ``budget_key`` (a hash of a static token, or the App installation), so every
    client of the same identity on the same GitHub shares one budget, across token renewals.
    """
    digest = hashlib.sha256(f"gh-jobs-budget\n{origin}\n{token or ''}".encode()).hexdigest()
    return digest[:24]


@attrs.frozen
class BudgetSettings:
    """What a client asks of its budget (totals across every worker sharing it)."""

    identity: str  # the default budget name (see budget_name)
    api_url: str
    max_concurrency: int
    requests_per_minute: int | None
    max_rate_limit_wait: float
    clock: Clock = attrs.field(repr=False)  # epoch seconds, compared with x-ratelimit-reset
    monotonic: Clock = attrs.field(repr=False)
    sleep: Sleep = attrs.field(repr=False)


@attrs.frozen
class Grant:
    """One request's permission to be sent: give it back with :meth:`Budget.release`
    (or :meth:`Budget.give_back` if it was never sent).

    ``generation`` counts the secondary pauses begun before it was granted, so a
    refusal can tell a new burst from the echo of one already paused for.
    """

    generation: int
    lease: str = ""


class Budget(abc.ABC):
    """The rate-limit state one client's requests go through.

    Contract: :meth:`acquire` returns only when a secondary pause and a spent
    primary budget allow sending, a slot is free and the window has room; it is
    first come, first served within the process and leaks nothing when
    cancelled. Every grant is given back exactly once: with :meth:`release` once
    its request was sent, with :meth:`give_back` if it never was.
    """

    @property
    @abc.abstractmethod
    def limit(self) -> int:
        """Requests allowed in flight now (shrinks after a secondary limit)."""

    @abc.abstractmethod
    async def acquire(self) -> Grant:
        """Wait for a slot; raise PrimaryRateLimitError when the reset is too far."""

    @abc.abstractmethod
    async def release(self, grant: Grant) -> None:
        """The request was answered (or failed): free its slot; it stays in the window."""

    async def give_back(self, grant: Grant) -> None:
        """The request was never sent: free its slot, and it does not count in the window.

        The default is :meth:`release` (the request then stays counted for one window).
        """
        await self.release(grant)

    @abc.abstractmethod
    def strikes_for(self, grant: Grant) -> int:
        """Secondary limits hit in a row, not counting the burst ``grant`` was sent in."""

    @abc.abstractmethod
    async def succeeded(self) -> None:
        """A request succeeded: the strikes end and the limit may grow back."""

    @abc.abstractmethod
    async def refused(self, grant: Grant, wait: float) -> None:
        """A secondary limit refused ``grant``'s request: pause everyone ``wait`` s, shrink."""

    @abc.abstractmethod
    async def primary(self, remaining: int, reset_epoch: float) -> None:
        """The primary budget as an answer reported it (0 left: hold back until reset)."""

    @abc.abstractmethod
    def paused_for(self) -> float:
        """Seconds until a pause or a spent primary budget lets requests flow (as last seen)."""

    async def aclose(self) -> None:  # noqa: B027 - most budgets hold nothing to close
        """Stop background work of this budget (not the store it came from)."""


class LimitStore(abc.ABC):
    """Where budgets live: in this process (the default) or shared, e.g. on Redis.

    A client never closes a store it was given, so many clients can share one.
    """

    @abc.abstractmethod
    def open_budget(self, settings: BudgetSettings) -> Budget:
        """The budget a client with these settings shares with every client of the same name."""


class LocalLimits(LimitStore):
    """Budgets kept in this process: one per client, nothing shared."""

    def __repr__(self) -> str:
        return "<LocalLimits>"

    def open_budget(self, settings: BudgetSettings) -> Budget:
        """A fresh in-process budget."""
        return LocalBudget(settings)


def primary_error(reset_epoch: float, wait: float, settings: BudgetSettings) -> None:
    """Raise when the primary reset is further away than ``max_rate_limit_wait``."""
    if wait <= settings.max_rate_limit_wait:
        return
    reset_at = datetime.fromtimestamp(reset_epoch, tz=UTC)
    raise PrimaryRateLimitError(
        f"primary rate limit spent until {reset_at:%Y-%m-%d %H:%M:%S} UTC "
        f"({wait:.0f} s, more than max_rate_limit_wait="
        f"{settings.max_rate_limit_wait:g})",
        reset_at=reset_at,
        status=403,
        url=settings.api_url,
    )


class LocalBudget(Budget):
    """Today's in-process state: a :class:`Limiter`, a :class:`Pacer`, a pause and the primary."""

    def __init__(self, settings: BudgetSettings) -> None:
        self.settings = settings
        self.limiter = Limiter(settings.max_concurrency)
        self.pacer = Pacer(
            settings.requests_per_minute, clock=settings.monotonic, sleep=settings.sleep
        )
        self._pause_until = 0.0
        self._generation = 0
        self._strikes = 0
        self._primary_reset: float | None = None

    def __repr__(self) -> str:
        return f"{self.limiter!r} {self.pacer!r}"

    @property
    def limit(self) -> int:
        """The limiter's current limit."""
        return self.limiter.limit

    def paused_for(self) -> float:
        """Seconds until the pause ends or the primary budget resets."""
        now = self.settings.clock()
        pause = self._pause_until - self.settings.monotonic()
        return max(0.0, pause, (self._primary_reset or now) - now)

    async def _wait_for_gates(self) -> None:
        """Sleep while a secondary pause or a spent primary budget forbids sending."""
        settings = self.settings
        while True:
            pause = self._pause_until - settings.monotonic()
            if pause > 0:
                await settings.sleep(pause)
                continue
            now = settings.clock()
            if self._primary_reset is not None and self._primary_reset > now:
                wait = self._primary_reset - now
                primary_error(self._primary_reset, wait, settings)
                logger.warning("primary rate limit spent: waiting %.1f s until reset", wait)
                await settings.sleep(wait + 1.0)
                continue
            return

    async def acquire(self) -> Grant:
        """Gates, then a limiter slot, then room in the window, then the gates again."""
        await self._wait_for_gates()
        await self.limiter.acquire()
        try:
            waited = await self.pacer.acquire()
            if waited > 0.05:
                logger.info("paced: waited %.2f s to stay under the per-minute budget", waited)
            try:
                await self._wait_for_gates()  # a pause may have begun while we queued
            except BaseException:
                self.pacer.give_back()  # never sent: out of the window
                raise
        except BaseException:
            self.limiter.release()
            raise
        return Grant(self._generation)

    async def release(self, grant: Grant) -> None:
        """Free the pacer (it stays counted for one window), then the limiter slot."""
        self.pacer.release()
        self.limiter.release()

    async def give_back(self, grant: Grant) -> None:
        """Free the limiter slot; the request leaves the pacer's window (it was never sent)."""
        self.pacer.give_back()
        self.limiter.release()

    def strikes_for(self, grant: Grant) -> int:
        """An answer to a request sent before the last pause adds no strike."""
        if grant.generation == self._generation:
            return self._strikes
        return max(0, self._strikes - 1)

    async def succeeded(self) -> None:
        """End the strikes; let the limiter grow back."""
        self._strikes = 0
        self.limiter.succeeded()

    async def refused(self, grant: Grant, wait: float) -> None:
        """Pause everything ``wait`` s and shrink; a new burst halves the limit."""
        fresh = grant.generation == self._generation  # not an echo of a burst paused for
        if fresh:
            self._generation += 1
            self._strikes += 1
        self.limiter.refused(fresh=fresh)
        self._pause_until = max(self._pause_until, self.settings.monotonic() + wait)

    async def primary(self, remaining: int, reset_epoch: float) -> None:
        """Hold back until ``reset_epoch`` when spent; a later reset means a new window."""
        if remaining <= 0:
            self._primary_reset = max(self._primary_reset or 0.0, reset_epoch)
        elif self._primary_reset is not None and reset_epoch > self._primary_reset:
            self._primary_reset = None
