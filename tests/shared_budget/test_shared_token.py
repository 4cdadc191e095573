"""An App installation token shared on a real Redis, against the fake GitHub's App.

Real RS256 keys, real 2 s token lifetimes; "workers" are separate AppAuth objects in one
process here (each with its own in-process single flight) and separate processes in
test_shared_token_processes.py.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis

from gh_jobs_async import AppAuth, Client, InstallationAuth, RateLimitStoreError, SharedToken
from gh_jobs_async._sansio import parse_base_url
from gh_jobs_async.redis import RedisStore
from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"


def _installation(
    fake: FakeGitHub, installation: int, store: RedisStore | None
) -> InstallationAuth:
    """A fresh AppAuth (as another worker would have) and its installation."""
    app = AppAuth(fake.client_id, fake.app_private_key_pem)
    return app.installation(installation, permissions={"actions": "read"}, token_store=store)


async def _get_jobs(fake: FakeGitHub, inst: InstallationAuth, job_id: int, count: int) -> None:
    async with Client(auth=inst, base_url=fake.api_url, max_concurrency=count) as gh:
        await asyncio.gather(*(gh.get_job(OWNER, REPO, job_id) for _ in range(count)))


async def test_two_workers_mint_once_per_expiry(redis_url: str) -> None:
    """Two workers sharing the store mint one token per expiry between them, not one each."""
    async with FakeGitHub(app_token_lifetime=2.0) as fake, RedisStore(redis_url) as store:
        job_id = fake.add_run(OWNER, REPO, jobs=1).latest[0]["id"]
        installation = fake.add_installation(OWNER)
        one, two = (_installation(fake, installation, store) for _ in range(2))
        await asyncio.gather(_get_jobs(fake, one, job_id, 20), _get_jobs(fake, two, job_id, 20))
        assert fake.stats.app_mints == 1
        assert one.mints + two.mints == 1
        assert one.credential_id() == two.credential_id()
        assert one.renews_at is not None
        await asyncio.sleep(max(0.0, one.renews_at - time.time()) + 0.05)
        await asyncio.gather(_get_jobs(fake, one, job_id, 20), _get_jobs(fake, two, job_id, 20))
        assert fake.stats.app_mints == 2
        assert sum(fake.stats.app_unauthorized.values()) == 0


async def test_without_sharing_each_worker_mints(redis_url: str) -> None:
    """The control: the same two workers without token_store mint one token each."""
    async with FakeGitHub(app_token_lifetime=2.0) as fake:
        job_id = fake.add_run(OWNER, REPO, jobs=1).latest[0]["id"]
        installation = fake.add_installation(OWNER)
        one, two = (_installation(fake, installation, None) for _ in range(2))
        await asyncio.gather(_get_jobs(fake, one, job_id, 20), _get_jobs(fake, two, job_id, 20))
        assert fake.stats.app_mints == 2


async def test_the_token_key_is_namespaced_hash_tagged_and_expires_with_the_token(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One key, ``<namespace>:{installation-token:<hash>}:token``, with a TTL ending at the
    token's expiry; the token is in no key, no log line at DEBUG and no repr."""
    caplog.set_level(logging.DEBUG)
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    async with FakeGitHub(app_token_lifetime=2.0) as fake, RedisStore(redis_url) as store:
        job_id = fake.add_run(OWNER, REPO, jobs=1).latest[0]["id"]
        inst = _installation(fake, fake.add_installation(OWNER), store)
        await _get_jobs(fake, inst, job_id, 3)
        keys = await raw.keys("*token*")
        assert keys == [f"gh-jobs:{{{inst.share_key}}}:token"]
        assert 0 < await raw.pttl(keys[0]) <= 3000
        assert await raw.hget(keys[0], "token") in fake.app_secrets()
        shared = await store.load_token(inst.share_key)
        assert shared is not None
        shown = [caplog.text, repr(shared), repr(inst), repr(store), *keys, inst.share_key]
        for secret in fake.app_secrets():
            assert all(secret not in text for text in shown)
    await raw.aclose()


async def test_a_dead_lock_holder_blocks_the_others_only_for_the_lock_ttl(redis_url: str) -> None:
    """A lock whose holder died (never released) delays the mint by its TTL, no more."""
    raw = aioredis.Redis.from_url(redis_url)
    async with (
        FakeGitHub(app_token_lifetime=60.0) as fake,
        RedisStore(redis_url, token_lock_ttl=1.5) as store,
    ):
        job_id = fake.add_run(OWNER, REPO, jobs=1).latest[0]["id"]
        inst = _installation(fake, fake.add_installation(OWNER), store)
        inst.bind(parse_base_url(fake.api_url))  # the share key names the API origin
        await raw.set(store.token_keys(inst.share_key).lock, "dead-worker", px=1500)
        started = time.monotonic()
        await _get_jobs(fake, inst, job_id, 5)
        waited = time.monotonic() - started
        assert fake.stats.app_mints == 1
    await raw.aclose()
    assert 1.2 <= waited <= 1.5 + 3.0  # the lock TTL, plus generous slack for a busy machine


async def test_a_refused_shared_token_is_dropped_and_renewed_once(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 on the shared token: dropped from Redis (it was still the same), one mint, and
    the new token is what Redis holds; no UnauthorizedError reaches the caller."""
    caplog.set_level(logging.INFO)
    async with FakeGitHub(app_token_lifetime=60.0) as fake, RedisStore(redis_url) as store:
        job_id = fake.add_run(OWNER, REPO, jobs=1).latest[0]["id"]
        inst = _installation(fake, fake.add_installation(OWNER), store)
        inst.bind(parse_base_url(fake.api_url))  # the share key names the API origin
        now = time.time()
        stale = SharedToken(token="ghs_" + "x" * 36, expires_at=now + 3600, minted_at=now - 60)
        await store.lock_token(inst.share_key, "me", 5.0)
        await store.publish_token(inst.share_key, stale, 3600.0, "me")
        await _get_jobs(fake, inst, job_id, 5)
        now_shared = await store.load_token(inst.share_key)
        assert fake.stats.app_mints == 1
        assert now_shared is not None
        assert now_shared.id != stale.id
        assert now_shared.token in fake.app_secrets()
        assert "401: renewing the credential" in caplog.text  # GitHub did refuse the stale one


async def test_compare_and_delete_never_drops_a_newer_token(redis_url: str) -> None:
    """discard_token with the refused token's id leaves a newer token in place; the lock is
    released only by its owner."""
    async with RedisStore(redis_url) as store:
        key = "installation-token:" + "0" * 32
        old = SharedToken(token="ghs_old", expires_at=time.time() + 60, minted_at=time.time())
        new = SharedToken(token="ghs_new", expires_at=time.time() + 60, minted_at=time.time())
        assert await store.lock_token(key, "a", 5.0)
        assert not await store.lock_token(key, "b", 5.0)
        await store.unlock_token(key, "b")  # not b's: stays
        assert not await store.lock_token(key, "c", 5.0)
        await store.publish_token(key, new, 60.0, "a")  # releases a's lock
        assert await store.lock_token(key, "c", 5.0)
        assert not await store.discard_token(key, old.id)
        found = await store.load_token(key)
        assert found is not None
        assert found.id == new.id
        assert await store.discard_token(key, new.id)
        assert await store.load_token(key) is None


async def test_redis_down_while_sharing_raises_and_mints_nothing() -> None:
    """Sharing with an unreachable Redis: RateLimitStoreError after max_wait, no silent mint."""
    async with (
        FakeGitHub(app_token_lifetime=60.0) as fake,
        RedisStore("unix:///nonexistent/redis.sock", max_wait=0.5, timeout=0.2) as store,
    ):
        job_id = fake.add_run(OWNER, REPO, jobs=1).latest[0]["id"]
        inst = _installation(fake, fake.add_installation(OWNER), store)
        with pytest.raises(RateLimitStoreError) as caught:
            await _get_jobs(fake, inst, job_id, 1)
        assert fake.stats.app_mints == 0
        assert "unix:///nonexistent/redis.sock" in str(caught.value)


async def test_one_installation_named_three_ways_shares_one_budget(redis_url: str) -> None:
    """By id, and by two of its repositories: once the lookups found the id, the three
    clients on one store share the installation's budget (3 in flight in all, not 3 each)."""
    async with FakeGitHub(api_latency=0.05) as fake, RedisStore(redis_url) as store:
        job_id = fake.add_run(OWNER, REPO, jobs=1).latest[0]["id"]
        installation = fake.add_installation(OWNER)
        app = AppAuth(fake.client_id, fake.app_private_key_pem)
        auths = [
            app.installation(installation),
            app.installation(owner=OWNER, repo=REPO),
            app.installation(owner=OWNER, repo="other-repo"),
        ]
        clients = [
            Client(auth=auth, base_url=fake.api_url, limits=store, max_concurrency=3)
            for auth in auths
        ]
        try:
            for gh in clients:  # the lookups and the mint, one client after another
                await gh.get_job(OWNER, REPO, job_id)
            names = {gh._session.budget.name for gh in clients}  # type: ignore[attr-defined]
            assert len(names) == 1
            assert {gh.budget_key for gh in clients} == {
                f"installation:{fake.api_url}:{installation}"
            }
            fake.reset_stats()
            await asyncio.gather(
                *(gh.get_job(OWNER, REPO, job_id) for gh in clients for _ in range(15))
            )
            assert fake.stats.api_requests == 45
            assert fake.stats.peak_api_in_flight <= 3
        finally:
            for gh in clients:
                await gh.close()
