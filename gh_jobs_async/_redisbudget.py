"""A client's view of one rate-limit budget kept on Redis (see :mod:`gh_jobs_async.redis`).

Requests queue here, first come first served within the process; one pump asks Redis for
the queued waiters' leases in batches, renews the leases of requests that take longer, and
gives back what was granted but never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from . import _store
from ._limits import Budget, BudgetSettings, Grant, primary_error
from ._store import Reply
from .exceptions import RateLimitStoreError

if TYPE_CHECKING:
    from .redis import RedisStore

__all__ = ["RedisBudget"]

logger = logging.getLogger("gh_jobs_async.redis")


class RedisBudget(Budget):
    """One client's view of a shared budget; FIFO among this client's requests."""

    def __init__(self, store: RedisStore, name: str, settings: BudgetSettings) -> None:
        self._store = store
        self.name = name
        self.settings = settings
        self._keys = store.keys(name).all()
        pacing = settings.requests_per_minute
        self._budget = 0 if pacing is None else pacing
        self._span = 61.0  # the in-process Pacer's window + margin
        self._idle = max(_store.IDLE_TTL, 2 * store.lease_ttl, 2 * self._span)
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._numbers = itertools.count()
        self._waiters: deque[tuple[str, asyncio.Future[Grant]]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._held: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._last = Reply("ok", 0.0, settings.max_concurrency, 0, 0, 0.0, 0.0, 0, 0)
        self._seen_at = 0.0

    def __repr__(self) -> str:
        return (
            f"<RedisBudget {self.name} on {self._store.address} "
            f"{len(self._held)} held here, limit {self._last.limit}>"
        )

    @property
    def limit(self) -> int:
        """The shared limit as last seen."""
        return self._last.limit

    def _seen(self, reply: Reply) -> Reply:
        self._last = reply
        self._seen_at = time.monotonic()
        return reply

    async def _run(self, script: str, *args: str | int | float) -> Reply:
        return self._seen(await self._store.run(script, self._keys, [*args, self._idle]))

    async def acquire(self) -> Grant:
        """Queue for a lease; one pump asks Redis for the waiters' leases in batches, in order."""
        lease = f"{self._prefix}:{next(self._numbers)}"
        future: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._waiters.append((lease, future))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._serve(), name=f"gh-jobs budget {self.name}")
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                self._spawn(self.give_back(future.result()))  # granted as we were cancelled
            raise

    async def _serve(self) -> None:
        """Grant the queued waiters first come, first served, until none is left."""
        try:
            while self._waiters:
                await self._grant_batch()
        except BaseException as exc:
            error = exc if isinstance(exc, Exception) else asyncio.CancelledError()
            for _lease, future in self._waiters:
                if not future.done():
                    future.set_exception(error)
            self._waiters.clear()
            if not isinstance(exc, Exception):
                raise

    async def _grant_batch(self) -> None:
        # Cancelled while queued: out. The batch is then the head of the queue.
        self._waiters = deque(item for item in self._waiters if not item[1].done())
        batch = [lease for lease, _future in itertools.islice(self._waiters, self._maximum)]
        if not batch:
            return
        args = (self._maximum, self._budget, self._span, self._store.lease_ttl, len(batch))
        call = asyncio.ensure_future(self._run("acquire", *args, *batch))
        try:
            reply = await asyncio.shield(call)
        except asyncio.CancelledError:  # the budget is closing: free what Redis grants
            self._spawn(self._give_back_batch(call, batch))
            raise
        for _ in range(reply.granted):
            lease, future = self._waiters.popleft()
            if future.done():  # cancelled while Redis granted it: give it back
                self._spawn(self._free(lease, sent=0))
                continue
            self._held.add(lease)
            future.set_result(Grant(reply.generation, lease))
        if reply.granted:
            self._start_renewing()
            logger.debug("%d lease(s) granted (limit %d)", reply.granted, reply.limit)
        if reply.reason != "ok":
            await self._wait(reply)

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name=f"gh-jobs lease {self.name}")

    async def _give_back_batch(self, call: asyncio.Future[Reply], batch: list[str]) -> None:
        with contextlib.suppress(Exception):
            for lease in batch[: (await call).granted]:
                await self._free(lease, sent=0)

    @property
    def _maximum(self) -> int:
        return self.settings.max_concurrency

    async def _wait(self, reply: Reply) -> None:
        settings = self.settings
        if reply.reason == "pause":
            await settings.sleep(reply.wait)
        elif reply.reason == "primary":
            primary_error(reply.primary_reset, reply.wait, settings)
            logger.warning("primary rate limit spent: waiting %.1f s until reset", reply.wait)
            await settings.sleep(reply.wait + 1.0)
        elif reply.reason == "window":
            if reply.wait > 0.05:
                logger.info("paced: waiting %.2f s for the shared per-minute budget", reply.wait)
            await settings.sleep(reply.wait)
        else:  # busy: a slot frees here (event) or elsewhere (poll)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_store.busy_poll(reply.limit)):
                    await self._changed.wait()

    async def release(self, grant: Grant) -> None:
        """Give the lease back; cancelled on the way, a fresh release runs on in the background."""
        await self._release(grant.lease, sent=1)

    async def give_back(self, grant: Grant) -> None:
        """Give back the lease of a request never sent: it does not count in the window."""
        await self._release(grant.lease, sent=0)

    async def _release(self, lease: str, *, sent: int) -> None:
        self._held.discard(lease)
        try:
            await self._run("release", lease, sent, int(self._budget > 0), self._maximum)
        except asyncio.CancelledError:
            self._spawn(self._free(lease, sent=sent))
            raise
        finally:
            self._changed.set()

    async def _free(self, lease: str, *, sent: int) -> None:
        """Release ``lease`` in the background (Redis failing: it expires after lease_ttl)."""
        with contextlib.suppress(RateLimitStoreError):
            await self._run("release", lease, sent, int(self._budget > 0), self._maximum)

    def strikes_for(self, grant: Grant) -> int:
        """Shared strikes; an answer from before the last shared pause adds none."""
        last = self._last
        return last.strikes if grant.generation == last.generation else max(0, last.strikes - 1)

    async def succeeded(self) -> None:
        """Tell Redis only when it can change something (limit below max, or strikes)."""
        if self._last.limit < self._maximum or self._last.strikes:
            await self._run("succeeded", self._maximum)
            self._changed.set()

    async def refused(self, grant: Grant, wait: float) -> None:
        """Pause every worker, shrink the shared limit."""
        await self._run("refused", grant.generation, wait, self._maximum)

    async def primary(self, remaining: int, reset_epoch: float) -> None:
        """Share a spent primary budget (or its end); a no-op for ordinary answers."""
        known = self._last.primary_reset
        if remaining <= 0 or (known > 0 and reset_epoch > known):
            await self._run("primary", remaining, reset_epoch, self._maximum)

    def paused_for(self) -> float:
        """From the last answer of Redis: the pause left, or the time to the primary reset."""
        pause = self._last.pause_left - (time.monotonic() - self._seen_at)
        primary = self._last.primary_reset - self.settings.clock()
        return max(0.0, pause, primary)

    async def _renew(self) -> None:
        """Every third of ``lease_ttl``, push the expiry of this client's leases."""
        ttl = self._store.lease_ttl
        while True:
            await asyncio.sleep(ttl / 3)
            held = list(self._held)
            if not held:
                continue
            try:
                await self._run("renew", ttl, self._maximum, *held)
            except RateLimitStoreError as exc:
                logger.warning("cannot renew %d lease(s): %s", len(held), exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Stop renewing and granting; wait for releases still on their way.

        They get the store's ``timeout`` at most (Redis down, they would retry for
        ``max_wait``): then they are cancelled, and their leases expire after ``lease_ttl``.
        """
        for task in (self._renewer, self._pump):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._renewer = self._pump = None
        if not self._background:
            return
        _done, late = await asyncio.wait(set(self._background), timeout=self._store.timeout)
        if late:
            logger.warning(
                "%d lease release(s) still waiting for Redis at %s after %g s: dropped "
                "(the leases expire after %g s)",
                len(late), self._store.address, self._store.timeout, self._store.lease_ttl,
            )  # fmt: skip
        while self._background:  # a cancelled release may start one more: cancel it too
            for task in self._background:
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
