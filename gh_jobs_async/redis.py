"""One rate-limit budget shared by many processes and machines, on Redis.

Install with ``pip install 'gh_jobs_async[redis]'`` and pass a store to every
client that uses the same token::

    async with RedisStore("redis://redis.internal:6379/0") as store:
        async with Client(token, limits=store, max_concurrency=20) as gh:
            ...

``max_concurrency`` and ``requests_per_minute`` are then totals across every
worker sharing the budget. Every decision is one Lua script (atomic), timed by
Redis ``TIME``; a slot in flight is a lease that expires after ``lease_ttl``
unless the live worker renews it, so a killed worker gives its slots back. A
secondary-limit answer seen by any worker pauses all of them, the shrunken
ceiling is shared, and a spent primary budget holds back everyone until the
reset. When Redis is unreachable, failing or silent, requests wait and retry
for ``max_wait`` seconds, then raise :class:`~gh_jobs_async.RateLimitStoreError`:
never a silent fallback to unshared limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from types import TracebackType
from typing import Self, cast

import redis.asyncio as aioredis
import redis.exceptions as redis_errors

from . import _store
from ._limits import Budget, BudgetSettings, LimitStore
from ._redisbudget import RedisBudget
from ._sharedtoken import SharedToken
from ._store import Keys, Reply, TokenKeys
from .exceptions import InvalidArgumentError, RateLimitStoreError

__all__ = ["RedisBudget", "RedisStore"]

logger = logging.getLogger(__name__)

#: Errors after which asking again may work (Redis restarting, failing over, silent).
_TRANSIENT = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.TryAgainError,
    TimeoutError,
    OSError,
)

#: Errors of credentials: redis-py raises them as ConnectionErrors (a wrong password as
#: a ConnectionError caused by one), but asking again never cures them.
_CREDENTIAL_ERRORS = (redis_errors.AuthenticationError, redis_errors.AuthorizationError)
_CREDENTIALS = "wrong or missing user or password"

#: Seconds: no retry is started with less time than this left of ``max_wait``.
_SHORTEST_ATTEMPT = 0.01

_SCRIPTS = ("acquire", "release", "refused", "succeeded", "primary", "renew")
_TOKEN_SCRIPTS = ("token_publish", "token_unlock", "token_discard")  # without common.lua


def _script_text(name: str) -> str:
    folder = resources.files("gh_jobs_async") / "redis_scripts"
    if name in _TOKEN_SCRIPTS:
        return (folder / f"{name}.lua").read_text(encoding="utf-8")
    common = (folder / "common.lua").read_text(encoding="utf-8")
    return common + "\n" + (folder / f"{name}.lua").read_text(encoding="utf-8")


class RedisStore(LimitStore):
    """Budgets on Redis, shared by every client (in any process) given a store on it.

    ``url_or_client`` is a ``redis://``, ``rediss://`` or ``unix://`` URL (the store
    then owns the connection pool and :meth:`aclose` closes it) or a
    ``redis.asyncio.Redis`` the caller owns and closes (not a ``RedisCluster``:
    Redis Cluster is not supported). ``namespace`` prefixes
    every key; ``budget`` names the budget (default: a hash of the API origin
    and the token, never the token). ``lease_ttl`` (s, >= 1) is how long a dead
    worker's slot stays taken; ``max_wait`` (s) how long requests wait for an
    unreachable Redis before :class:`RateLimitStoreError`; ``timeout`` (s) bounds
    every Redis call (a Redis that accepts and never answers).

    The store can also hold App installation tokens, opt-in: pass it as
    ``app.installation(..., token_store=store)`` (see :meth:`AppAuth.installation`);
    ``token_lock_ttl`` (s, >= 1) is how long a worker that died while minting keeps
    the others waiting. Anyone who can read this Redis can then read the token.
    """

    def __init__(
        self,
        url_or_client: str | aioredis.Redis,
        *,
        namespace: str = "gh-jobs",
        budget: str | None = None,
        lease_ttl: float = 30.0,
        max_wait: float = 30.0,
        timeout: float = 5.0,
        token_lock_ttl: float = 10.0,
    ) -> None:
        self.namespace = _store.check_name("namespace", namespace)
        self.budget = None if budget is None else _store.check_name("budget", budget)
        self.lease_ttl = _store.check_seconds("lease_ttl", lease_ttl, minimum=1.0)
        self.max_wait = _store.check_seconds("max_wait", max_wait, minimum=0.0)
        self.timeout = _store.check_seconds("timeout", timeout, minimum=0.001)
        self._token_lock_ttl = _store.check_seconds("token_lock_ttl", token_lock_ttl, minimum=1.0)
        if isinstance(url_or_client, str):
            url = _store.check_url(url_or_client)
            self.address = _store.safe_address(url)
            self._redis = _from_url(url, self.timeout)
            self._owns = True
        elif isinstance(url_or_client, aioredis.Redis):
            self._redis = url_or_client
            self._owns = False
            pool = url_or_client.connection_pool
            tls = issubclass(pool.connection_class, aioredis.SSLConnection)
            self.address = _store.address_of(dict(pool.connection_kwargs), tls=tls)
        else:
            raise InvalidArgumentError(
                "url_or_client",
                f"<{type(url_or_client).__name__}>",
                "Redis Cluster is not supported; give one Redis server's URL or client"
                if isinstance(cast("object", url_or_client), aioredis.RedisCluster)
                else "expected a Redis URL or a redis.asyncio.Redis",
            )
        self._scripts = {name: _Script(_script_text(name)) for name in _SCRIPTS + _TOKEN_SCRIPTS}
        self._failing_since: float | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<RedisStore {self.address} namespace={self.namespace!r} "
            f"budget={self.budget!r} lease_ttl={self.lease_ttl:g}>"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool if the store created it; idempotent."""
        if not self._closed and self._owns:
            await self._redis.aclose()
        self._closed = True

    def open_budget(self, settings: BudgetSettings) -> Budget:
        """The shared budget ``budget=`` names (or the client's identity)."""
        return RedisBudget(self, self.budget or settings.identity, settings)

    def keys(self, budget: str) -> Keys:
        """The keys a budget of this store uses."""
        return Keys.of(self.namespace, budget)

    async def run(self, script: str, keys: list[str], args: list[str | int | float]) -> Reply:
        """Run one script; retry while Redis is unreachable, at most ``max_wait`` s per outage.

        Raises :class:`RateLimitStoreError` (without the redis-py exception as
        context) once the outage has lasted ``max_wait`` seconds, or at once for
        an error that asking again will not cure.
        """
        raw = await self.call(
            f"the {script} script", lambda: self._scripts[script].run(self._redis, keys, args)
        )
        try:
            return Reply.parse(raw)
        except ValueError as exc:
            problem = f"Redis refused the {script} script: {_describe(exc)}"
        raise RateLimitStoreError(problem, address=self.address)

    async def call(self, what: str, command: Callable[[], Awaitable[object]]) -> object:
        """Await ``command()`` (one Redis call), retried like :meth:`run`.

        The outage is timed from the start of the first attempt that failed; the
        first attempt has the whole ``timeout``, every retry at most the time left
        of ``max_wait``, so the call gives up after ``max(timeout, max_wait)`` s.
        """
        attempt = 0
        started = time.monotonic()
        limit = self.timeout
        while True:
            problem = fatal = ""
            try:
                async with asyncio.timeout(limit):
                    reply = await command()
            except _TRANSIENT as exc:
                problem = _describe(exc)
                fatal = _credentials_problem(exc)
            except redis_errors.RedisError as exc:
                fatal = _credentials_problem(exc) or f"Redis refused {what}: {_describe(exc)}"
            else:
                if self._failing_since is not None:
                    logger.warning("Redis at %s answers again", self.address)
                self._failing_since = None
                return reply
            if fatal:  # raised outside the except block: no redis-py error as context
                raise RateLimitStoreError(fatal, address=self.address)
            limit = await self._wait_or_raise(problem, attempt, started)
            attempt += 1
            started = time.monotonic()

    # -- shared installation tokens (the TokenStore protocol of _sharedtoken) ------------

    @property
    def token_lock_ttl(self) -> float:
        """Seconds a mint lock lasts unless its holder releases it."""
        return self._token_lock_ttl

    def token_keys(self, share_key: str) -> TokenKeys:
        """The keys a shared installation token uses."""
        return TokenKeys.of(self.namespace, _store.check_name("share_key", share_key))

    async def load_token(self, key: str) -> SharedToken | None:
        """The shared token under ``key`` (None: none, or expired)."""
        token = self.token_keys(key).token
        raw = await self.call(
            "reading a shared token",
            lambda: cast("Awaitable[object]", self._redis.hgetall(token)),
        )
        fields = {
            (k.decode() if isinstance(k, bytes) else str(k)): (
                v.decode() if isinstance(v, bytes) else str(v)
            )
            for k, v in cast("dict[object, object]", raw or {}).items()
        }
        try:
            return SharedToken(
                token=fields["token"],
                expires_at=float(fields["expires_at"]),
                minted_at=float(fields["minted_at"]),
            )
        except (KeyError, ValueError):
            return None  # absent, or not ours: treated as missing, minted over

    async def lock_token(self, key: str, owner: str, ttl: float) -> bool:
        """``SET lock owner NX PX ttl``: whether ``owner`` now holds the mint lock."""
        lock = self.token_keys(key).lock
        taken = await self.call(
            "taking a token lock",
            lambda: self._redis.set(lock, owner, nx=True, px=_store.milliseconds(ttl)),
        )
        return bool(taken)

    async def publish_token(self, key: str, shared: SharedToken, ttl: float, owner: str) -> None:
        """Store ``shared`` until it expires; release ``owner``'s lock (one script)."""
        keys = self.token_keys(key)
        args: list[str | int | float] = [
            shared.token,
            repr(shared.expires_at),
            repr(shared.minted_at),
            shared.id,
            _store.milliseconds(ttl),
            owner,
        ]
        script = self._scripts["token_publish"]
        await self.call(
            "publishing a token", lambda: script.run(self._redis, [keys.token, keys.lock], args)
        )

    async def unlock_token(self, key: str, owner: str) -> None:
        """Release the mint lock if ``owner`` holds it (compare-and-delete)."""
        lock = self.token_keys(key).lock
        script = self._scripts["token_unlock"]
        await self.call("releasing a token lock", lambda: script.run(self._redis, [lock], [owner]))

    async def discard_token(self, key: str, token_id: str) -> bool:
        """Delete the shared token only if its fingerprint is ``token_id``."""
        token = self.token_keys(key).token
        script = self._scripts["token_discard"]
        dropped = await self.call(
            "dropping a refused token", lambda: script.run(self._redis, [token], [token_id])
        )
        return bool(dropped)

    async def _wait_or_raise(self, problem: str, attempt: int, started: float) -> float:
        """Sleep before the next attempt and return its timeout; raise past ``max_wait``.

        ``started`` is when the failed attempt began: an outage that begins with it
        is timed from then, not from its failure (a silent Redis fails a whole
        ``timeout`` later).
        """
        if self._failing_since is None:
            self._failing_since = started
            logger.warning("Redis at %s: %s; waiting for it", self.address, problem)
        deadline = self._failing_since + self.max_wait
        left = deadline - time.monotonic()
        if left > _SHORTEST_ATTEMPT:
            await asyncio.sleep(min(_store.retry_delay(attempt), left - _SHORTEST_ATTEMPT))
            left = deadline - time.monotonic()
        if left < _SHORTEST_ATTEMPT:
            raise RateLimitStoreError(
                f"Redis unreachable for {time.monotonic() - self._failing_since:.1f} s "
                f"(max_wait={self.max_wait:g}): {problem}",
                address=self.address,
            )
        return min(self.timeout, left)


def _from_url(url: str, timeout: float) -> aioredis.Redis:
    """redis-py's client for ``url``; InvalidArgumentError (no redis-py error as context)
    for a query value or name it refuses."""
    refused: InvalidArgumentError | None = None
    try:
        client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        # An unknown query parameter would fail only at the first connection: build a
        # connection now (no I/O) to refuse it before any request.
        pool = client.connection_pool
        pool.connection_class(**pool.connection_kwargs)
    except (ValueError, TypeError) as exc:  # a bad query value, or an unknown name
        refused = _store.refused_url(url, exc)
    if refused is not None:
        raise refused
    return client


class _Script:
    """A Lua script run by its SHA-1, and by its text when Redis lost it (NOSCRIPT).

    The script cache empties on a restart, a failover or ``SCRIPT FLUSH``; EVAL
    with the text is atomic and caches it again, so no flush can slip between a
    load and the call.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    async def run(
        self, client: aioredis.Redis, keys: list[str], args: list[str | int | float]
    ) -> object:
        words = [*keys, *(str(arg) for arg in args)]
        try:
            return await cast("Awaitable[object]", client.evalsha(self.sha, len(keys), *words))
        except redis_errors.NoScriptError:
            return await cast("Awaitable[object]", client.eval(self.text, len(keys), *words))


def _credentials_problem(exc: BaseException) -> str:
    """What to say when ``exc`` means Redis refused who we are ("" otherwise).

    A wrong password is a ConnectionError caused by an AuthenticationError; no
    password is NOAUTH (an AuthenticationError), or, for a command with many
    arguments, Redis's "Protocol error: unauthenticated multibulk length".
    """
    seen: BaseException | None = exc
    for _ in range(5):  # a short chain: redis-py wraps at most once or twice
        if seen is None:
            break
        unauthenticated = isinstance(seen, redis_errors.ResponseError) and str(seen).startswith(
            "Protocol error: unauthenticated"
        )
        if unauthenticated or isinstance(seen, _CREDENTIAL_ERRORS):
            return f"Redis authentication failed ({_CREDENTIALS}): {_describe(seen)}"
        seen = seen.__cause__ or seen.__context__
    return ""


def _describe(exc: BaseException) -> str:
    """The error's class and first line, which redis-py never fills with a password."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
