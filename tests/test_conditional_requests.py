"""Conditional requests over loopback: ETags, 304s and the primary budget, against the fake."""

from __future__ import annotations

import pytest
from _support import serve

from gh_jobs_async import Client
from gh_jobs_async.testing import FakeConfig, FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"


async def test_second_pass_over_an_unchanged_run_costs_no_primary_budget() -> None:
    """A plain list_jobs loop: the second pass is all 304s, same jobs, no primary point."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=250)
        first = await client.list_jobs(OWNER, REPO, run.run_id).collect()
        spent = fake.stats.primary_spent
        remaining = client.rate_limit.remaining if client.rate_limit else None
        sent = client.requests_sent
        second = await client.list_jobs(OWNER, REPO, run.run_id).collect()
        assert second == first
        assert len(second) == 250  # the pages' Link relations came from the cache
        assert fake.stats.primary_spent == spent == 3
        assert fake.stats.answers_304["list"] == 3
        assert client.rate_limit is not None
        assert client.rate_limit.remaining == remaining
        assert client.requests_sent == sent + 3  # a 304 is a request like any other
        stats = client.cache_stats
        assert stats is not None
        assert (stats.hits, stats.misses, stats.entries) == (3, 3, 3)


async def test_a_change_is_never_hidden_by_max_age() -> None:
    """Cache-Control: max-age=60 is ignored: the next GET asks and sees the change."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=1)
        job_id = run.job_ids[0]
        assert (await client.get_job(OWNER, REPO, job_id)).name == run.latest[0]["name"]
        fake.update_job(job_id, name="renamed")
        assert (await client.get_job(OWNER, REPO, job_id)).name == "renamed"
        assert (await client.get_job(OWNER, REPO, job_id)).name == "renamed"
        assert fake.stats.answers_200["job"] == 2
        assert fake.stats.answers_304["job"] == 1
        assert fake.stats.primary_spent == 2


async def test_if_modified_since_when_there_is_no_etag() -> None:
    """With Last-Modified alone, the second GET is a 304 too."""
    async with serve(FakeConfig(conditional="last_modified")) as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=1)
        one = await client.get_job(OWNER, REPO, run.job_ids[0])
        two = await client.get_job(OWNER, REPO, run.job_ids[0])
        assert one == two
        assert fake.stats.answers_304["job"] == 1


async def test_the_tag_sent_is_kept_when_a_304_omits_it() -> None:
    """A 304 without ETag: the next request still revalidates with the tag sent."""
    async with serve(FakeConfig(etag_on_304=False)) as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=1)
        for _ in range(3):
            await client.get_job(OWNER, REPO, run.job_ids[0])
        assert fake.stats.answers_304["job"] == 2


async def test_etag_cache_false_sends_no_validators() -> None:
    """Turned off: every GET is a full answer that spends primary budget."""
    async with serve(etag_cache=False) as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=1)
        for _ in range(3):
            await client.get_job(OWNER, REPO, run.job_ids[0])
        assert fake.stats.answers_304["job"] == 0
        assert fake.stats.primary_spent == 3
        assert client.cache_stats is None


async def test_run_endpoint_answers_304_while_the_run_is_unchanged() -> None:
    """get_run twice: one 200, one 304, the same run."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=3)
        assert await client.get_run(OWNER, REPO, run.run_id) == await client.get_run(
            OWNER, REPO, run.run_id
        )
        assert (fake.stats.answers_200["run"], fake.stats.answers_304["run"]) == (1, 1)


class _Clock:
    """Epoch-like seconds that move only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


async def test_304s_are_paced_like_any_request() -> None:
    """requests_per_minute=3: the fourth GET waits for the window although three were 304s."""
    clock = _Clock()
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        async with Client(
            fake.token,
            base_url=fake.api_url,
            requests_per_minute=3,
            clock=clock.clock,
            sleep=clock.sleep,
        ) as client:
            for _ in range(3):
                await client.get_job(OWNER, REPO, run.job_ids[0])
            assert clock.slept == []
            await client.get_job(OWNER, REPO, run.job_ids[0])
        assert fake.stats.answers_304["job"] == 3
        assert clock.slept
        assert sum(clock.slept) >= 60.0


async def test_the_cache_holds_no_token() -> None:
    """Neither the cache's repr nor its keys hold the token."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=1)
        await client.get_job(OWNER, REPO, run.job_ids[0])
        cache = client._session.cache
        assert cache is not None
        assert fake.token not in repr(cache)
        assert all(fake.token not in repr(key) for key in cache._entries)
        assert all(
            fake.token not in value
            for entry in cache._entries.values()
            for value in entry.headers.values()
        )
