"""RedisStore against a real redis-server, in one process: sharing, leases, failures."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis_server import PROTECTED_PASSWORD, RedisServer, require_redis_server

from gh_jobs_async import (
    Client,
    InvalidArgumentError,
    LogStatus,
    PrimaryRateLimitError,
    RateLimitStoreError,
)
from gh_jobs_async._limits import Budget, BudgetSettings, LocalBudget
from gh_jobs_async._store import Reply
from gh_jobs_async.redis import RedisStore
from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration


def _settings(
    maximum: int = 10, rpm: int | None = None, *, max_wait: float = 300.0
) -> BudgetSettings:
    return BudgetSettings(
        identity="test-budget",
        api_url="https://api.github.com",
        max_concurrency=maximum,
        requests_per_minute=rpm,
        max_rate_limit_wait=max_wait,
        clock=time.time,
        monotonic=time.monotonic,
        sleep=asyncio.sleep,
    )


@pytest.fixture(name="store")
async def fixture_store(redis_url: str) -> AsyncIterator[RedisStore]:
    """A store on the session's redis-server, empty database."""
    async with RedisStore(redis_url, lease_ttl=5.0, max_wait=5.0) as store:
        yield store


@pytest.fixture(name="raw")
async def fixture_raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain redis-py client to look at the keys."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def _acquire_all(budget: Budget, count: int) -> list[object]:
    return [await budget.acquire() for _ in range(count)]


async def test_shared_limit_follows_the_in_process_arithmetic(store: RedisStore) -> None:
    """Shrinking after refusals and slow regrowth on Redis match the in-process Limiter."""
    local, shared = LocalBudget(_settings()), store.open_budget(_settings())
    limits: list[tuple[int, int]] = []
    for budget in (local, shared):
        grants = [await budget.acquire() for _ in range(8)]
        for grant in grants[:3]:
            await budget.release(grant)
        await budget.refused(grants[3], 0.01)  # first refusal of a burst: halves
        await budget.refused(grants[4], 0.01)  # an echo of the same burst: ceiling - 1
        for grant in grants[3:]:
            await budget.release(grant)
    await asyncio.sleep(0.05)
    for _ in range(120):
        await local.succeeded()
        await shared.succeeded()
        limits.append((local.limit, shared.limit))
    assert limits[0][0] < 10
    assert all(a == b for a, b in limits), limits
    assert limits[-1][0] > limits[0][0]  # it did grow back
    await shared.aclose()


async def test_two_clients_share_one_concurrency_total(store: RedisStore) -> None:
    """With max 3 shared, a second client waits until the first gives a slot back."""
    first, second = store.open_budget(_settings(3)), store.open_budget(_settings(3))
    grants = [await first.acquire() for _ in range(3)]
    waiting = asyncio.create_task(second.acquire())
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await first.release(grants[0])
    grant = await asyncio.wait_for(waiting, 5)
    for held in (*grants[1:],):
        await first.release(held)
    await second.release(grant)
    await first.aclose()
    await second.aclose()


async def test_the_window_is_shared(store: RedisStore) -> None:
    """Four requests of a 4-a-minute budget spent by two clients: the next waits about a window."""
    first, second = store.open_budget(_settings(10, 4)), store.open_budget(_settings(10, 4))
    for budget in (first, second, first, second):
        await budget.release(await budget.acquire())
    keys = store.keys("test-budget").all()
    reply = await store.run("acquire", keys, [10, 4, 61.0, 5.0, 1, "probe", 900.0])
    assert reply.reason == "window"
    assert reply.granted == 0
    assert 55 < reply.wait <= 61.0


async def test_a_secondary_pause_holds_back_every_client(store: RedisStore) -> None:
    """A refusal seen by one client pauses another until the shared time."""
    sleeps: list[float] = []

    async def recording_sleep(delay: float) -> None:
        sleeps.append(delay)
        await asyncio.sleep(delay)

    first = store.open_budget(_settings())
    second = store.open_budget(
        BudgetSettings(
            identity="test-budget",
            api_url="https://api.github.com",
            max_concurrency=10,
            requests_per_minute=None,
            max_rate_limit_wait=300.0,
            clock=time.time,
            monotonic=time.monotonic,
            sleep=recording_sleep,
        )
    )
    grant = await first.acquire()
    await first.release(grant)
    await first.refused(grant, 0.6)
    started = time.monotonic()
    await second.release(await second.acquire())
    assert time.monotonic() - started >= 0.5
    assert sleeps
    assert 0.3 < sleeps[0] <= 0.6
    assert second.strikes_for(grant) == 0  # the grant predates the pause
    await first.aclose()
    await second.aclose()


async def test_a_spent_primary_budget_holds_back_every_client(store: RedisStore) -> None:
    """One client sees 0 remaining: another refuses to wait past max_rate_limit_wait."""
    first = store.open_budget(_settings())
    second = store.open_budget(_settings(max_wait=5.0))
    await first.primary(0, time.time() + 600)
    with pytest.raises(PrimaryRateLimitError, match="max_rate_limit_wait"):
        await second.acquire()
    await first.primary(5000, time.time() + 4000)  # a new window began
    await second.release(await second.acquire())
    await second.aclose()


async def test_a_dead_holders_lease_expires(redis_url: str, raw: aioredis.Redis) -> None:
    """A lease nobody renews (its worker died) frees its slot within lease_ttl."""
    async with RedisStore(redis_url, lease_ttl=1.0) as store:
        keys = store.keys("test-budget").all()
        reply = await store.run("acquire", keys, [1, 0, 61.0, 1.0, 1, "dead:1", 900.0])
        assert reply.granted == 1
        budget = store.open_budget(_settings(1))
        started = time.monotonic()
        grant = await asyncio.wait_for(budget.acquire(), 5)
        assert 0.7 < time.monotonic() - started < 3.0
        assert await raw.zscore(keys[1], "dead:1") is None
        await budget.release(grant)
        await budget.aclose()


async def test_a_live_holder_renews_its_lease(redis_url: str) -> None:
    """A request that takes longer than lease_ttl keeps its slot."""
    async with RedisStore(redis_url, lease_ttl=1.0) as store:
        holder, other = store.open_budget(_settings(1)), store.open_budget(_settings(1))
        grant = await holder.acquire()
        waiting = asyncio.create_task(other.acquire())
        await asyncio.sleep(2.5)
        assert not waiting.done()
        await holder.release(grant)
        await other.release(await asyncio.wait_for(waiting, 5))
        await holder.aclose()
        await other.aclose()


async def test_waiters_are_first_come_first_served_and_cancel_cleanly(
    store: RedisStore, raw: aioredis.Redis
) -> None:
    """Within a process, waiters are granted in order; a cancelled one leaks no lease."""
    budget = store.open_budget(_settings(1))
    order: list[int] = []
    first = await budget.acquire()

    async def wait(number: int) -> None:
        grant = await budget.acquire()
        order.append(number)
        await budget.release(grant)

    tasks = [asyncio.create_task(wait(n)) for n in range(4)]
    await asyncio.sleep(0.1)
    tasks[1].cancel()
    await budget.release(first)
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 2, 3]
    await asyncio.sleep(0.1)
    assert await raw.zcard(store.keys("test-budget").leases) == 0
    await budget.aclose()


@pytest.mark.parametrize("closing", [False, True], ids=["waiter-cancelled", "budget-closed"])
async def test_cancelled_mid_script_gives_the_lease_back(
    store: RedisStore, raw: aioredis.Redis, monkeypatch: pytest.MonkeyPatch, closing: bool
) -> None:
    """A waiter (or the whole budget) cancelled while Redis granted a lease: it is given back."""
    granted, resume = asyncio.Event(), asyncio.Event()
    real_run = store.run

    async def slow_answer(script: str, keys: list[str], args: list[str | int | float]) -> Reply:
        reply = await real_run(script, keys, args)
        if script == "acquire":
            granted.set()
            await resume.wait()
        return reply

    monkeypatch.setattr(store, "run", slow_answer)
    budget = store.open_budget(_settings(2))
    waiter = asyncio.create_task(budget.acquire())
    await asyncio.wait_for(granted.wait(), 5)
    assert await raw.zcard(store.keys("test-budget").leases) == 1
    waiter.cancel()
    await asyncio.sleep(0)
    resume.set()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    if not closing:
        await asyncio.sleep(0.2)  # the grant arrives for a waiter who is gone
    await budget.aclose()  # cancels the grant still on its way, waits for the give-back
    assert await raw.zcard(store.keys("test-budget").leases) == 0


async def test_a_grant_given_back_unsent_is_not_counted_in_the_shared_window(
    store: RedisStore, raw: aioredis.Redis
) -> None:
    """give_back frees the lease and leaves the per-minute window; release keeps it counted."""
    budget = store.open_budget(_settings(2, 2))
    await budget.give_back(await budget.acquire())
    await budget.release(await budget.acquire())
    keys = store.keys("test-budget")
    assert await raw.zcard(keys.leases) == 0
    assert await raw.zcard(keys.done) == 1  # only the request that was sent
    await budget.release(await asyncio.wait_for(budget.acquire(), 2))  # room for a second
    await budget.aclose()


async def test_a_waiter_cancelled_as_it_is_granted_is_not_counted_in_the_window(
    store: RedisStore, raw: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiter cancelled after Redis granted its lease (before it could send) gives the
    lease back as never sent: nothing is left in the shared per-minute window."""
    budget = store.open_budget(_settings(2, 5))
    waiter = asyncio.create_task(budget.acquire())
    start_renewing = budget._start_renewing  # called right after the grants are handed out

    def cancel_then_renew() -> None:
        waiter.cancel()  # the grant is set; the waiter has not run yet
        start_renewing()

    monkeypatch.setattr(budget, "_start_renewing", cancel_then_renew)
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await budget.aclose()  # waits for the give-back
    keys = store.keys("test-budget")
    assert await raw.zcard(keys.leases) == 0
    assert await raw.zcard(keys.done) == 0


async def test_unreachable_redis_raises_after_the_wait(tmp_path: Path) -> None:
    """No Redis at the address: wait max_wait, then RateLimitStoreError without the password."""
    url = f"unix://{tmp_path}/nothing.sock?password=hunter2"
    async with RedisStore(url, max_wait=0.5, timeout=0.2) as store:
        budget = store.open_budget(_settings())
        started = time.monotonic()
        with pytest.raises(RateLimitStoreError) as info:
            await budget.acquire()
        assert 0.4 < time.monotonic() - started < 5
    assert f"unix://{tmp_path}/nothing.sock" in str(info.value)
    assert "hunter2" not in str(info.value) + repr(store)
    assert info.value.__context__ is None
    assert info.value.__cause__ is None


@pytest.fixture(name="silent_server")
async def fixture_silent_server() -> AsyncIterator[tuple[int, list[asyncio.StreamWriter]]]:
    """A TCP server on loopback that accepts and never answers: its port, its connections."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], accepted
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_silent_redis_times_out_then_raises(
    silent_server: tuple[int, list[asyncio.StreamWriter]],
) -> None:
    """A Redis that accepts and never answers cannot hang a request: timeout, wait, raise."""
    port, accepted = silent_server
    async with RedisStore(
        f"redis://user:hunter2@127.0.0.1:{port}/0", max_wait=0.6, timeout=0.2
    ) as store:
        budget = store.open_budget(_settings())
        with pytest.raises(RateLimitStoreError, match="unreachable") as info:
            await asyncio.wait_for(budget.acquire(), 10)
    assert accepted
    assert "hunter2" not in str(info.value)
    assert f"redis://127.0.0.1:{port}/0" in str(info.value)


@pytest.mark.parametrize(("max_wait", "timeout"), [(1.0, 1.0), (1.5, 1.0)])
async def test_a_silent_redis_is_given_up_after_max_wait_and_the_time_is_told(
    silent_server: tuple[int, list[asyncio.StreamWriter]], max_wait: float, timeout: float
) -> None:
    """The outage is timed from the first attempt and no retry outlasts max_wait: the error
    comes after max_wait (not max_wait + timeout) and tells the seconds it really waited."""
    port, _accepted = silent_server
    async with RedisStore(
        f"redis://127.0.0.1:{port}/0", max_wait=max_wait, timeout=timeout
    ) as store:
        budget = store.open_budget(_settings())
        started = time.monotonic()
        with pytest.raises(RateLimitStoreError, match="unreachable") as info:
            await asyncio.wait_for(budget.acquire(), 10)
        elapsed = time.monotonic() - started
    assert max_wait - 0.05 < elapsed < max_wait + 0.5
    told = re.search(r"unreachable for ([0-9.]+) s", str(info.value))
    assert told is not None, info.value
    assert abs(float(told.group(1)) - elapsed) < 0.3, (told.group(0), elapsed)


@pytest.mark.parametrize("password", [None, "wrong-password"], ids=["none", "wrong"])
async def test_refused_credentials_raise_at_once(
    protected_redis: RedisServer, password: str | None
) -> None:
    """A missing or wrong password is no outage: RateLimitStoreError at once (not after
    max_wait), saying authentication failed, naming the address without the password."""
    url = protected_redis.url + (f"?password={password}" if password else "")
    async with RedisStore(url, max_wait=5.0) as store:
        budget = store.open_budget(_settings())
        started = time.monotonic()
        with pytest.raises(RateLimitStoreError, match="authentication failed") as info:
            await budget.acquire()
        assert time.monotonic() - started < 2
        await budget.aclose()
        with pytest.raises(RateLimitStoreError, match="authentication failed"):
            await store.load_token("a-share-key")  # a short command: NOAUTH, not a protocol error
        assert time.monotonic() - started < 2
    message = str(info.value)
    assert f"({protected_redis.url})" in message
    assert "wrong-password" not in message
    assert PROTECTED_PASSWORD not in message
    assert "unreachable" not in message
    assert info.value.__context__ is None
    assert info.value.__cause__ is None


async def test_the_right_password_is_let_in(protected_redis: RedisServer) -> None:
    """With the password in the URL the protected server grants as any other."""
    url = f"{protected_redis.url}?password={PROTECTED_PASSWORD}"
    async with RedisStore(url, max_wait=5.0) as store:
        budget = store.open_budget(_settings())
        await budget.release(await budget.acquire())
        await budget.aclose()


async def _harvest(fake: FakeGitHub, store: RedisStore, dest: Path, jobs: int = 40) -> set[str]:
    run = fake.add_run(jobs=jobs)
    async with Client(fake.token, base_url=fake.api_url, limits=store, max_concurrency=5) as gh:
        summary = await gh.harvest("octo-org", "hello-world", run.run_id, dest)
    assert summary.counts[LogStatus.DOWNLOADED] == jobs
    return {status.value for status in summary.counts if summary.counts[status]}


async def test_script_flush_mid_harvest_is_no_error(
    store: RedisStore, raw: aioredis.Redis, tmp_path: Path
) -> None:
    """SCRIPT FLUSH while requests flow: the scripts are loaded again (NOSCRIPT handled)."""
    async with FakeGitHub(api_latency=0.005) as fake:
        stop = asyncio.Event()

        async def flush() -> int:
            count = 0
            while not stop.is_set():
                await raw.script_flush()
                count += 1
                await asyncio.sleep(0.01)
            return count

        flusher = asyncio.create_task(flush())
        try:
            await _harvest(fake, store, tmp_path)
        finally:
            stop.set()
        assert await flusher > 3


async def test_every_key_has_a_ttl_and_the_client_leaves_the_store_open(
    store: RedisStore, raw: aioredis.Redis, tmp_path: Path
) -> None:
    """After a harvest every key of the budget expires on its own; the store is still usable."""
    async with FakeGitHub(max_in_flight=3, secondary_retry_after=1) as fake:
        await _harvest(fake, store, tmp_path)
        keys = await raw.keys("gh-jobs:{*}:*")
        assert keys
        for key in keys:
            assert 0 < await raw.pttl(key) <= 1_000_000
        await _harvest(fake, store, tmp_path / "again", jobs=5)  # not closed by the client


async def test_state_lost_in_a_restart_is_seeded_again_from_headers(
    store: RedisStore, raw: aioredis.Redis, tmp_path: Path
) -> None:
    """After Redis loses its state, the next answer's spent primary budget is shared again."""
    async with FakeGitHub() as fake:
        await _harvest(fake, store, tmp_path, jobs=3)
        await raw.flushall()  # what a restart without persistence leaves
        fake.exhaust_primary(reset_in=3.0)
        run = fake.add_run(jobs=2)
        async with Client(fake.token, base_url=fake.api_url, limits=store) as gh:
            harvest = asyncio.create_task(
                gh.harvest("octo-org", "hello-world", run.run_id, tmp_path / "b")
            )
            seeded = 0.0
            async with asyncio.timeout(10):
                while not seeded:
                    await asyncio.sleep(0.05)
                    for key in await raw.keys("gh-jobs:{*}:state"):
                        seeded = float(await raw.hget(key, "primary_reset") or 0)
            assert seeded > time.time()
            summary = await harvest
            assert summary.counts[LogStatus.DOWNLOADED] == 2


def test_bad_store_arguments_are_refused() -> None:
    """Bad options raise InvalidArgumentError before any connection."""
    bad: list[Callable[[], object]] = [
        lambda: RedisStore("http://localhost"),
        lambda: RedisStore("redis://localhost", lease_ttl=0.5),
        lambda: RedisStore("redis://localhost", namespace="a{b}"),
        lambda: RedisStore("redis://localhost", budget=""),
        lambda: RedisStore("redis://localhost", max_wait=-1),
        lambda: RedisStore(42),  # type: ignore[arg-type]
        lambda: Client(limits=object()),  # type: ignore[arg-type]
    ]
    for make in bad:
        with pytest.raises(InvalidArgumentError):
            make()


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://:hunter2@db:6379/0?socket_timeout=abc", "'socket_timeout'"),
        ("redis://:hunter2@db:6379/0?db=one", "'db'"),
        ("unix:///run/redis.sock?password=hunter2&sockettimeout=1", "'sockettimeout'"),
        ("redis://:hunter2@db:6379/abc", "database number"),
    ],
)
def test_a_bad_url_query_or_db_is_refused_before_any_connection(url: str, named: str) -> None:
    """A query value or name redis-py refuses (it raised ValueError, or TypeError only at the
    first connection) and a db path that is no number raise InvalidArgumentError at once,
    naming the address without the password."""
    with pytest.raises(InvalidArgumentError, match=named) as info:
        RedisStore(url)
    assert "hunter2" not in str(info.value)
    assert info.value.__context__ is None


async def test_a_redis_cluster_client_is_refused_as_unsupported() -> None:
    """Redis Cluster is not supported: a RedisCluster client is refused, saying so."""
    cluster = aioredis.RedisCluster(host="127.0.0.1", port=7999)  # connects only when used
    try:
        with pytest.raises(InvalidArgumentError, match="Redis Cluster is not supported"):
            RedisStore(cluster)  # type: ignore[arg-type]
    finally:
        await cluster.aclose()


async def test_a_callers_client_is_not_closed(redis_url: str) -> None:
    """A redis.asyncio.Redis passed in stays open after the store closes."""
    require_redis_server()
    client = aioredis.Redis.from_url(redis_url)
    async with RedisStore(client, budget="octocat") as store:
        assert "octocat" in repr(store)
        assert store.address.startswith("unix://")
    assert await client.ping()
    await client.aclose()


async def test_closing_does_not_wait_max_wait_for_releases_while_redis_is_down() -> None:
    """A release left retrying in the background (Redis down) holds aclose for at most the
    store's timeout, not max_wait; its lease then expires on its own."""
    server = RedisServer(require_redis_server())
    server.start()
    try:
        async with RedisStore(server.url, max_wait=30.0, timeout=0.5) as store:
            budget = store.open_budget(_settings())
            grant = await budget.acquire()
            server.stop()
            releasing = asyncio.create_task(budget.release(grant))
            await asyncio.sleep(0.2)  # retrying: Redis is gone
            releasing.cancel()  # a fresh release goes on in the background
            with pytest.raises(asyncio.CancelledError):
                await releasing
            started = time.monotonic()
            await asyncio.wait_for(budget.aclose(), 10)
            assert time.monotonic() - started < 2.0
    finally:
        server.close()


async def test_restarted_server_serves_again(tmp_path: Path) -> None:
    """A RedisServer helper restart keeps the socket path (used by the process tests)."""
    server = RedisServer(require_redis_server())
    server.start()
    try:
        async with RedisStore(server.url, max_wait=10) as store:
            budget = store.open_budget(_settings())
            await budget.release(await budget.acquire())
            server.stop()
            server.start()
            await budget.release(await budget.acquire())
            await budget.aclose()
    finally:
        server.close()


async def test_a_callers_tls_client_is_named_rediss_without_its_password() -> None:
    """A caller's client over TLS shows as ``rediss://host:port/db`` (no connection made)."""
    client = aioredis.Redis(host="db.example", port=6380, ssl=True, password="hunter2")
    try:
        store = RedisStore(client)
        assert store.address == "rediss://db.example:6380/0"
        assert "hunter2" not in repr(store)
    finally:
        await client.aclose()
