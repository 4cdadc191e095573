"""list_jobs and get_jobs_page against the fake GitHub, over real loopback HTTP.

Every listing is compared with the fake's own oracle, ``fake.jobs_for(...)``: the same jobs,
in the same order, once each. Timing never decides a test: latency only makes concurrency
observable, and the assertions are about what the fake saw and which tasks exist.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio

from gh_jobs_async import (
    Client,
    Job,
    NotFoundError,
    PrimaryRateLimitError,
    UnauthorizedError,
    UnsafeURLError,
)
from gh_jobs_async.testing import FakeGitHub, Fault

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
JSONDict = dict[str, Any]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    """A fake GitHub with default settings (no latency, no secondary limits)."""
    async with FakeGitHub() as fake:
        yield fake


@pytest.fixture(name="client")
async def fixture_client(fake: FakeGitHub) -> AsyncIterator[Client]:
    """A client of ``fake`` with default settings."""
    async with connect(fake) as client:
        yield client


def connect(fake: FakeGitHub, **options: Any) -> Client:
    """A client pointed at the fake, with its token."""
    return Client(fake.token, base_url=fake.api_url, **options)


def ids(jobs: Iterable[Job | JSONDict]) -> list[int]:
    """The ids of models or of the fake's job dicts, in order."""
    return [job.id if isinstance(job, Job) else int(job["id"]) for job in jobs]


def assert_same_jobs(jobs: list[Job], expected: list[JSONDict]) -> None:
    """Same ids in the same order, each once; a few fields of every job; whole jobs at edges."""
    assert ids(jobs) == ids(expected)
    assert len(set(ids(jobs))) == len(jobs)
    got = [(job.run_id, job.run_attempt, job.name, job.head_sha) for job in jobs]
    want = [(e["run_id"], e["run_attempt"], e["name"], e["head_sha"]) for e in expected]
    assert got == want
    for index in {0, 99, 100, len(jobs) - 1} & set(range(len(jobs))):
        assert jobs[index].to_dict() == expected[index]


def page_of(url: str) -> int:
    """The ``page`` query parameter of a Link URL."""
    return int(parse_qs(urlsplit(url).query)["page"][0])


def _served_by_fake(task: asyncio.Task[Any]) -> bool:
    """Whether the task is the fake server's: accepting a connection, or aiohttp.web's handlers."""
    code = getattr(task.get_coro(), "cr_code", None)
    if code is None:
        return False
    return code.co_name == "_accept_connection2" or Path(code.co_filename).match("aiohttp/web_*.py")


def client_tasks() -> set[asyncio.Task[Any]]:
    """The loop's tasks except the fake server's own (it runs in the same loop as the client)."""
    return {task for task in asyncio.all_tasks() if not _served_by_fake(task)}


async def consume(stream: AsyncIterator[Job], into: list[Job], stop_at: int | None = None) -> None:
    """Append the stream's jobs to ``into``; raise KeyError on reaching job ``stop_at``."""
    async for job in stream:
        if job.id == stop_at:
            raise KeyError("stop here")
        into.append(job)


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds (a generous timeout guards against hangs)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


class Sleeps:
    """An injectable sleep that records every wait, and really waits only if ``real``."""

    def __init__(self, *, real: bool) -> None:
        self.real = real
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(seconds if self.real else 0)


# --------------------------------------------------------------------------- complete listings

LISTINGS = [
    pytest.param({"filter": "latest"}, id="latest"),
    pytest.param({"filter": "all"}, id="all"),
    pytest.param({"attempt": 1}, id="attempt1"),
    pytest.param({"attempt": 2}, id="attempt2"),
]


async def assert_lists_exactly(
    fake: FakeGitHub, run_id: int, listing: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A complete listing equals the fake's oracle, with one request a page and no warning."""
    expected = fake.jobs_for(OWNER, REPO, run_id, **listing)
    with caplog.at_level(logging.WARNING, logger="gh_jobs_async"):
        async with connect(fake) as client:
            jobs = await client.list_jobs(OWNER, REPO, run_id, **listing).collect()
            sent = client.requests_sent
    assert_same_jobs(jobs, expected)
    assert fake.stats.api_requests == sent == max(1, math.ceil(len(expected) / 100))
    assert not caplog.records


@pytest.mark.parametrize("listing", LISTINGS)
@pytest.mark.parametrize("size", [0, 1, 30, 100, 101])
async def test_listing_yields_exactly_the_fakes_jobs(
    fake: FakeGitHub, caplog: pytest.LogCaptureFixture, size: int, listing: dict[str, Any]
) -> None:
    """Every job of the run (or attempt) comes out once, in GitHub's order, one request a page."""
    run = fake.add_run(OWNER, REPO, jobs=size, attempts=3, log_size=1)
    await assert_lists_exactly(fake, run.run_id, listing, caplog)


@pytest_asyncio.fixture(name="big", scope="module", loop_scope="module")
async def fixture_big() -> AsyncIterator[tuple[FakeGitHub, int]]:
    """One fake for the module with a run of 2 attempts x 2,500 jobs (slow to build: once)."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=2500, attempts=2, log_size=1)
        yield fake, run.run_id


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("listing", LISTINGS[:3])
async def test_listing_of_2500_jobs_yields_exactly_the_fakes_jobs(
    big: tuple[FakeGitHub, int], caplog: pytest.LogCaptureFixture, listing: dict[str, Any]
) -> None:
    """A run of 2,500 jobs per attempt (5,000 with filter=all) is listed exactly too."""
    fake, run_id = big
    fake.reset_stats()
    await assert_lists_exactly(fake, run_id, listing, caplog)


async def test_async_for_yields_what_collect_returns(fake: FakeGitHub, client: Client) -> None:
    """Iterating with ``async for`` gives the same jobs as ``collect()``, which returns a list."""
    run = fake.add_run(OWNER, REPO, jobs=250, attempts=2, log_size=1)
    streamed = [job async for job in client.list_jobs(OWNER, REPO, run.run_id, filter="all")]
    collected = await client.list_jobs(OWNER, REPO, run.run_id, filter="all").collect()
    assert isinstance(collected, list)
    assert streamed == collected
    assert_same_jobs(collected, fake.jobs_for(OWNER, REPO, run.run_id, "all"))


async def test_nothing_is_requested_before_iteration(fake: FakeGitHub, client: Client) -> None:
    """list_jobs returns at once; the first request goes out with the first ``__anext__``."""
    run = fake.add_run(OWNER, REPO, jobs=150, log_size=1)
    stream = client.list_jobs(OWNER, REPO, run.run_id)
    await asyncio.sleep(0.05)
    assert (fake.stats.api_requests, stream.total_count) == (0, None)
    first = await anext(stream)
    assert first.id == run.job_ids[0]
    assert (fake.stats.api_requests, stream.total_count) == (1, 150)


@pytest.mark.parametrize("per_page", [1, 7, 30, 100])
async def test_per_page_sets_the_page_size(fake: FakeGitHub, client: Client, per_page: int) -> None:
    """Any per_page lists every job once; each page request carries it; ceil(n / per_page) pages."""
    run = fake.add_run(OWNER, REPO, jobs=101 if per_page > 1 else 12, log_size=1)
    expected = fake.jobs_for(OWNER, REPO, run.run_id)
    jobs = await client.list_jobs(OWNER, REPO, run.run_id, per_page=per_page).collect()
    assert_same_jobs(jobs, expected)
    assert fake.stats.api_requests == math.ceil(len(expected) / per_page)
    assert all(f"per_page={per_page}" in rec.path_qs for rec in fake.stats.requests_log)


@pytest.mark.parametrize(
    ("max_items", "pages"), [(1, 1), (100, 1), (101, 2), (150, 2), (250, 3), (10_000, 3)]
)
async def test_max_items_yields_the_first_jobs_and_stops(
    fake: FakeGitHub, client: Client, max_items: int, pages: int
) -> None:
    """max_items yields the first N jobs in order and requests only the pages they are on."""
    run = fake.add_run(OWNER, REPO, jobs=250, log_size=1)
    expected = fake.jobs_for(OWNER, REPO, run.run_id)[:max_items]
    jobs = await client.list_jobs(OWNER, REPO, run.run_id, max_items=max_items).collect()
    assert_same_jobs(jobs, expected)
    assert fake.stats.api_requests == pages


# --------------------------------------------------------------------------- get_jobs_page


@pytest.mark.parametrize(
    ("page", "rels"),
    [
        (1, {"next": 2, "last": 5}),
        (2, {"prev": 1, "next": 3, "last": 5, "first": 1}),
        (5, {"prev": 4, "first": 1}),
    ],
)
async def test_get_jobs_page_returns_the_page_and_its_links(
    fake: FakeGitHub, client: Client, page: int, rels: dict[str, int]
) -> None:
    """get_jobs_page gives total_count, that page's jobs, and each Link rel with GitHub's URL."""
    run = fake.add_run(OWNER, REPO, jobs=50, attempts=3, log_size=1)
    expected = fake.jobs_for(OWNER, REPO, run.run_id, "all")
    got = await client.get_jobs_page(OWNER, REPO, run.run_id, page=page, per_page=30, filter="all")
    assert got.total_count == 150
    assert [job.to_dict() for job in got.jobs] == expected[(page - 1) * 30 : page * 30]
    assert {rel: page_of(url) for rel, url in got.links.items()} == rels
    for url in got.links.values():
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(
            f"{fake.api_url}/repos/{OWNER}/{REPO}/actions/runs/{run.run_id}/jobs?"
        )
        assert (query["per_page"], query["filter"]) == (["30"], ["all"])
    assert fake.stats.api_requests == 1


async def test_get_jobs_page_of_an_attempt(fake: FakeGitHub, client: Client) -> None:
    """get_jobs_page with attempt=N reads that attempt's jobs; its links stay on that endpoint."""
    run = fake.add_run(OWNER, REPO, jobs=45, attempts=3, log_size=1)
    got = await client.get_jobs_page(OWNER, REPO, run.run_id, page=2, per_page=20, attempt=2)
    assert got.total_count == 45
    assert ids(got.jobs) == ids(fake.jobs_for(OWNER, REPO, run.run_id, attempt=2)[20:40])
    assert {rel: page_of(url) for rel, url in got.links.items()} == {
        "prev": 1,
        "next": 3,
        "last": 3,
        "first": 1,
    }
    assert all(f"/runs/{run.run_id}/attempts/2/jobs?" in url for url in got.links.values())


async def test_get_jobs_page_of_a_single_page_has_no_links(
    fake: FakeGitHub, client: Client
) -> None:
    """A listing that fits on one page comes without a Link header, so ``links`` is empty."""
    run = fake.add_run(OWNER, REPO, jobs=3, log_size=1)
    got = await client.get_jobs_page(OWNER, REPO, run.run_id)
    assert got.total_count == 3
    assert ids(got.jobs) == run.job_ids
    assert dict(got.links) == {}


# --------------------------------------------------------------------------- concurrency


async def test_pages_after_the_first_are_fetched_concurrently() -> None:
    """Page 1 goes alone; the other 29 pages then overlap, never above max_concurrency."""
    async with FakeGitHub(api_latency=0.05) as fake:
        run = fake.add_run(OWNER, REPO, jobs=300, log_size=1)
        async with connect(fake, max_concurrency=5) as client:
            jobs = await client.list_jobs(OWNER, REPO, run.run_id, per_page=10).collect()
        assert_same_jobs(jobs, fake.jobs_for(OWNER, REPO, run.run_id))
        stats = fake.stats
        assert stats.api_requests == 30
        assert 1 < stats.peak_api_in_flight <= 5
        arrivals = sorted(rec.time for rec in stats.requests_log)
        # page 2 needs page 1's Link header, which came after the fake's 50 ms latency
        assert arrivals[1] - arrivals[0] >= 0.04
        assert stats.secondary_violations == 0


async def test_max_concurrency_one_fetches_one_page_at_a_time() -> None:
    """With max_concurrency=1 the fake never sees two requests at once, and every job comes."""
    async with FakeGitHub(api_latency=0.01) as fake:
        run = fake.add_run(OWNER, REPO, jobs=60, log_size=1)
        async with connect(fake, max_concurrency=1) as client:
            jobs = await client.list_jobs(OWNER, REPO, run.run_id, per_page=10).collect()
        assert_same_jobs(jobs, fake.jobs_for(OWNER, REPO, run.run_id))
        assert fake.stats.peak_api_in_flight == 1


# --------------------------------------------------------------------------- leaving early


@pytest.mark.parametrize("stop_after", [1, 50, 51, 260, 499])
async def test_break_leaves_no_task_behind(stop_after: int) -> None:
    """Leaving ``async for`` with break, at any point, leaves no task and sends nothing more."""
    async with FakeGitHub(api_latency=0.01) as fake:
        run = fake.add_run(OWNER, REPO, jobs=500, log_size=1)
        async with connect(fake, max_concurrency=2) as client:
            before = client_tasks()
            seen: list[Job] = []
            async for job in client.list_jobs(OWNER, REPO, run.run_id, per_page=50):
                seen.append(job)
                if len(seen) == stop_after:
                    break
            assert client_tasks() == before  # right after the break, without sleeping
            sent = client.requests_sent
            await asyncio.sleep(0.05)
            assert client.requests_sent == sent
        assert ids(seen) == run.job_ids[:stop_after]


async def test_exception_in_the_loop_body_leaves_no_task_behind() -> None:
    """An exception raised while consuming propagates as is and leaves no task of the stream."""
    async with FakeGitHub(api_latency=0.01) as fake:
        run = fake.add_run(OWNER, REPO, jobs=300, log_size=1)
        async with connect(fake, max_concurrency=3) as client:
            before = client_tasks()
            stream = client.list_jobs(OWNER, REPO, run.run_id, per_page=20)
            with pytest.raises(KeyError, match="stop here"):
                await consume(stream, [], stop_at=run.job_ids[45])
            assert client_tasks() == before


async def test_cancelling_the_consumer_mid_window_leaves_no_task() -> None:
    """Cancelling a task that consumes the stream while a window is in flight ends every request."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=100, log_size=1)
        fake.inject(Fault("api", "stall", path_contains="&page=3", stall_seconds=30))
        async with connect(fake, max_concurrency=4) as client:
            before = client_tasks()
            stream = client.list_jobs(OWNER, REPO, run.run_id, per_page=10)
            consumer = asyncio.create_task(stream.collect())
            await wait_until(lambda: not fake.pending_faults)  # page 3 is stalled at the fake
            assert not consumer.done()
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer
            assert client_tasks() == before


async def test_cancelling_during_the_first_page_leaves_no_task() -> None:
    """Cancellation while page 1 is awaited leaves nothing behind either."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=10, log_size=1)
        fake.inject(Fault("api", "stall", stall_seconds=30))
        async with connect(fake) as client:
            before = client_tasks()
            consumer = asyncio.create_task(client.list_jobs(OWNER, REPO, run.run_id).collect())
            await wait_until(lambda: not fake.pending_faults)
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer
            assert client_tasks() == before


# --------------------------------------------------------------------------- Link safety


@pytest.mark.parametrize("link_origin", ["https://api.github.com", "http://127.0.0.1:9"])
async def test_link_to_another_origin_is_refused(link_origin: str) -> None:
    """A Link header pointing elsewhere raises UnsafeURLError; no request (or token) goes there."""
    async with FakeGitHub(link_origin=link_origin) as fake:
        run = fake.add_run(OWNER, REPO, jobs=101, log_size=1)
        async with connect(fake) as client:
            with pytest.raises(UnsafeURLError) as info:
                await client.list_jobs(OWNER, REPO, run.run_id).collect()
            # every request the client sent is counted here: only page 1, to the fake's API
            assert client.requests_sent == 1
        stats = fake.stats
    assert type(info.value) is UnsafeURLError
    assert info.value.origin == link_origin
    assert (stats.requests, stats.api_requests, stats.blob_requests) == (1, 1, 0)
    assert stats.non_api_token_leaks == stats.blob_token_leaks == 0


async def test_links_under_a_ghes_prefix_are_followed() -> None:
    """On GitHub Enterprise Server (``/api/v3``) the Link URLs are followed to every job."""
    async with FakeGitHub(ghes=True) as fake:
        run = fake.add_run(OWNER, REPO, jobs=120, attempts=2, log_size=1)
        async with connect(fake) as client:
            jobs = await client.list_jobs(OWNER, REPO, run.run_id, filter="all").collect()
        assert_same_jobs(jobs, fake.jobs_for(OWNER, REPO, run.run_id, "all"))
        assert fake.stats.api_requests == 3


# --------------------------------------------------------------------------- rate limits, faults


async def test_secondary_limit_mid_listing_pauses_then_yields_every_job() -> None:
    """A secondary limit on page 2 pauses all requests for its retry-after; every job comes."""
    async with FakeGitHub(api_latency=0.02) as fake:
        run = fake.add_run(OWNER, REPO, jobs=100, log_size=1)
        fake.inject(Fault("api", "secondary", path_contains="&page=2", retry_after=1))
        sleeps = Sleeps(real=True)
        async with connect(fake, max_concurrency=4, sleep=sleeps) as client:
            jobs = await client.list_jobs(OWNER, REPO, run.run_id, per_page=10).collect()
            assert client.requests_sent == 11
        assert_same_jobs(jobs, fake.jobs_for(OWNER, REPO, run.run_id))
        stats = fake.stats
        assert stats.faults_injected["secondary"] == 1
        assert stats.requests_during_penalty == 0
        assert max(sleeps.calls) > 0.9


async def test_fake_in_flight_limit_below_max_concurrency() -> None:
    """A server allowing fewer requests in flight than max_concurrency still yields every job."""
    async with FakeGitHub(api_latency=0.02, max_in_flight=3, secondary_retry_after=1) as fake:
        run = fake.add_run(OWNER, REPO, jobs=100, log_size=1)
        async with connect(fake, max_concurrency=8) as client:
            jobs = await client.list_jobs(OWNER, REPO, run.run_id, per_page=10).collect()
        assert_same_jobs(jobs, fake.jobs_for(OWNER, REPO, run.run_id))
        stats = fake.stats
        assert stats.secondary_violations >= 1  # the scenario did happen
        assert stats.requests_during_penalty == 0


@pytest.mark.parametrize(
    ("fault", "backoffs"),
    [
        pytest.param(Fault("api", "status", status=502, times=2, path_contains="&page=3"), 2),
        pytest.param(Fault("api", "status", status=503, times=2, path_contains="&page=2"), 2),
        # aiohttp itself resends once when a reused keep-alive connection drops: 1 or 2 are ours
        pytest.param(Fault("api", "reset", times=2, path_contains="&page=4"), None),
    ],
    ids=["502", "503", "reset"],
)
async def test_server_errors_mid_listing_are_retried(fault: Fault, backoffs: int | None) -> None:
    """5xx answers and dropped connections on a page are retried; every job still comes once."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=100, log_size=1)
        fake.inject(fault)
        sleeps = Sleeps(real=False)
        async with connect(fake, max_concurrency=3, sleep=sleeps) as client:
            jobs = await client.list_jobs(OWNER, REPO, run.run_id, per_page=20).collect()
        assert_same_jobs(jobs, fake.jobs_for(OWNER, REPO, run.run_id))
        assert sum(fake.stats.faults_injected.values()) == 2
        assert fake.stats.api_requests == 5 + 2
        if backoffs is None:
            assert 1 <= len(sleeps.calls) <= 2
        else:
            assert len(sleeps.calls) == backoffs  # one backoff per retry


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("where", "listing"),
    [
        pytest.param("other-run", {}, id="unknown-run"),
        pytest.param("other-repo", {}, id="run-of-another-repo"),
        pytest.param("run", {"attempt": 3}, id="unknown-attempt"),
    ],
)
async def test_unknown_run_or_attempt_raises_not_found(
    fake: FakeGitHub, client: Client, where: str, listing: dict[str, Any]
) -> None:
    """An unknown run, a run of another repository, or an unknown attempt raises NotFoundError."""
    run = fake.add_run(OWNER, REPO, jobs=5, attempts=2, log_size=1)
    repo = "other-repo" if where == "other-repo" else REPO
    run_id = run.run_id + 1000 if where == "other-run" else run.run_id
    with pytest.raises(NotFoundError) as listed:
        await client.list_jobs(OWNER, repo, run_id, **listing).collect()
    with pytest.raises(NotFoundError) as paged:
        await client.get_jobs_page(OWNER, repo, run_id, **listing)
    for error in (listed.value, paged.value):
        assert type(error) is NotFoundError
        assert error.status == 404
        assert f"/{repo}/actions/runs/{run_id}/" in error.url


async def test_bad_token_raises_unauthorized_unchanged(fake: FakeGitHub) -> None:
    """The session's UnauthorizedError for a bad token comes out as is, from both calls."""
    run = fake.add_run(OWNER, REPO, jobs=150, log_size=1)
    async with Client("not-the-token", base_url=fake.api_url) as client:
        with pytest.raises(UnauthorizedError) as listed:
            await client.list_jobs(OWNER, REPO, run.run_id).collect()
        with pytest.raises(UnauthorizedError) as paged:
            await client.get_jobs_page(OWNER, REPO, run.run_id)
    for error in (listed.value, paged.value):
        assert type(error) is UnauthorizedError
        assert (error.status, error.message) == (401, "Bad credentials")
        assert error.request_id is not None
        assert "not-the-token" not in str(error)


async def test_error_mid_listing_is_raised_unchanged_and_ends_the_window() -> None:
    """A 404 on page 3 reaches the consumer as NotFoundError for that URL and ends the stream."""
    async with FakeGitHub(api_latency=0.01) as fake:
        run = fake.add_run(OWNER, REPO, jobs=200, log_size=1)
        fake.inject(Fault("api", "status", status=404, path_contains="&page=3"))
        async with connect(fake, max_concurrency=4) as client:
            before = client_tasks()
            seen: list[Job] = []
            stream = client.list_jobs(OWNER, REPO, run.run_id, per_page=20)
            with pytest.raises(NotFoundError) as info:
                await consume(stream, seen)
            assert client_tasks() == before
            sent = client.requests_sent
            with pytest.raises(StopAsyncIteration):  # a stream that raised is over
                await anext(stream)
            assert client.requests_sent == sent
    assert type(info.value) is NotFoundError
    assert info.value.url.endswith("&page=3")
    assert ids(seen) == run.job_ids[: len(seen)]
    assert len(seen) <= 40  # nothing from page 3 on


async def test_primary_limit_mid_listing_is_raised_unchanged() -> None:
    """A primary budget spent after two pages raises PrimaryRateLimitError; nothing more is sent."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=100, log_size=1)
        async with connect(fake, max_concurrency=2, max_rate_limit_wait=5) as client:
            fake.exhaust_primary(reset_in=3600, remaining=2)
            with pytest.raises(PrimaryRateLimitError) as info:
                await client.list_jobs(OWNER, REPO, run.run_id, per_page=10).collect()
    assert type(info.value) is PrimaryRateLimitError
    reset_at = info.value.reset_at
    assert reset_at is not None
    assert reset_at > datetime.now(UTC) + timedelta(minutes=50)
    assert fake.stats.api_requests <= 3  # pages 1 and 2, and at most page 3 sent alongside


# --------------------------------------------------------------------------- a changing run


@pytest.mark.parametrize(
    ("original", "repeat"),
    [pytest.param(10, 150, id="page1-again-on-page2"), pytest.param(120, 230, id="within-window")],
)
async def test_job_repeated_across_pages_is_yielded_once(
    fake: FakeGitHub,
    client: Client,
    caplog: pytest.LogCaptureFixture,
    original: int,
    repeat: int,
) -> None:
    """A job id served again on a later page is dropped, and the shortfall is logged."""
    run = fake.add_run(OWNER, REPO, jobs=300, log_size=1)
    listed = fake.jobs_for(OWNER, REPO, run.run_id)
    first, second = listed[original], listed[repeat]
    fake.update_job(second["id"], id=first["id"])  # the fake now serves that id twice
    with caplog.at_level(logging.WARNING, logger="gh_jobs_async"):
        jobs = await client.list_jobs(OWNER, REPO, run.run_id, per_page=50).collect()
    assert ids(jobs) == [job["id"] for job in listed if job is not second]
    assert jobs[original].to_dict() == first  # the first copy wins
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "299 jobs" in warnings[0].getMessage()
    assert "total_count=300" in warnings[0].getMessage()
