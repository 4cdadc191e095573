"""``list_runs`` against the fake GitHub: every filter, every ``created`` form, both caps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from _support import serve

from gh_jobs_async import (
    Client,
    CreatedRange,
    InvalidArgumentError,
    NotFoundError,
    RunsCapError,
    WorkflowRun,
)
from gh_jobs_async.models import decode_run
from gh_jobs_async.testing import FakeConfig, FakeGitHub, Fault

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
END = datetime(2026, 3, 31, 23, 0, 0, tzinfo=UTC)


def ids(runs: list[WorkflowRun]) -> list[int]:
    return [run.id for run in runs]


def oracle(fake: FakeGitHub, workflow: str | int | None = None, **query: str) -> list[int]:
    return [int(run["id"]) for run in fake.runs_matching(OWNER, REPO, workflow=workflow, **query)]


async def plain_pager(fake: FakeGitHub, **query: str) -> list[int]:
    """What `gh run list` and friends do: follow pages until one is empty."""
    found: list[int] = []
    headers = {"Authorization": f"Bearer {fake.token}", "User-Agent": "plain"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for page in range(1, 1000):
            params = {**query, "per_page": "100", "page": str(page)}
            url = f"{fake.api_url}/repos/{OWNER}/{REPO}/actions/runs"
            async with http.get(url, params=params) as response:
                body = await response.json()
            if not body["workflow_runs"]:
                return found
            found.extend(run["id"] for run in body["workflow_runs"])
    return found


@pytest.mark.slow
async def test_1800_failed_runs_of_5000_are_listed_exactly_once() -> None:
    """5,000 runs over 90 days, 1,800 failed: all 1,800 once, newest first; a plain pager
    gets 1,000."""
    async with serve(FakeConfig(rate_limit=None)) as (fake, client):
        fake.add_runs(OWNER, REPO, count=5000, days=90, end=END, failed=1800)
        want = oracle(fake, status="failure")
        assert len(want) == 1800
        stream = client.list_runs(OWNER, REPO, status="failure")
        got = ids(await stream.collect())
        assert got == want  # every one, once, in GitHub's order
        assert stream.total_count == 1800
        assert stream.windows > 1
        assert stream.requests == client.requests_sent
        assert len(await plain_pager(fake, status="failure")) == 1000


@pytest_asyncio.fixture(name="shared", scope="module", loop_scope="module")
async def _shared() -> AsyncIterator[FakeGitHub]:
    """2,400 runs over 60 days: varied workflows, branches, events, actors and outcomes
    (slow to build: once for the module)."""
    async with FakeGitHub(FakeConfig(rate_limit=None)) as fake:
        fake.add_runs(
            OWNER, REPO, count=2400, days=60, end=END, failed=300, cancelled=100, in_progress=50
        )
        fake.add_run(OWNER, "other-repo", jobs=1)  # never listed for hello-world
        fake.runs_matching(OWNER, REPO)  # build the fake's run caches now
        yield fake


@pytest_asyncio.fixture(name="many", loop_scope="module")
async def _many(shared: FakeGitHub) -> AsyncIterator[tuple[FakeGitHub, Client]]:
    """The shared fake and a fresh client."""
    async with Client(shared.token, base_url=shared.api_url) as client:
        yield shared, client


FILTERS: dict[str, dict[str, Any]] = {
    "none": {},
    "branch": {"branch": "dev"},
    "event": {"event": "schedule"},
    "status-failure": {"status": "failure"},
    "status-success": {"status": "success"},  # over the cap
    "status-completed": {"status": "completed"},
    "status-in-progress": {"status": "in_progress"},
    "status-cancelled": {"status": "cancelled"},
    "actor": {"actor": "hubot"},
    "branch-event-status": {"branch": "main", "event": "push", "status": "success"},
    "nothing": {"branch": "no-such-branch"},
}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", sorted(FILTERS))
async def test_every_filter_equals_the_fakes_own_answer(
    many: tuple[FakeGitHub, Client], name: str
) -> None:
    """Each filter yields exactly the runs the fake says match, in its order."""
    fake, client = many
    query = FILTERS[name]
    got = ids(await client.list_runs(OWNER, REPO, **query).collect())
    assert got == oracle(fake, **query)
    assert len(set(got)) == len(got)


@pytest.mark.asyncio(loop_scope="module")
async def test_head_sha_and_workflow_by_name_or_id(many: tuple[FakeGitHub, Client]) -> None:
    """head_sha selects its run; workflow lists one workflow, by file name or numeric id."""
    fake, client = many
    sample = fake.runs_matching(OWNER, REPO)[123]
    by_sha = ids(await client.list_runs(OWNER, REPO, head_sha=sample["head_sha"]).collect())
    assert by_sha == oracle(fake, head_sha=sample["head_sha"]) == [sample["id"]]
    by_name = ids(await client.list_runs(OWNER, REPO, workflow="nightly.yml").collect())
    assert by_name == oracle(fake, workflow="nightly.yml")
    assert 400 < len(by_name) < 900
    workflow_id = next(
        run["workflow_id"] for run in fake.runs_matching(OWNER, REPO) if "nightly" in run["path"]
    )
    by_id = ids(await client.list_runs(OWNER, REPO, workflow=workflow_id).collect())
    assert by_id == by_name
    failed = ids(await client.list_runs(OWNER, REPO, workflow="ci.yml", status="failure").collect())
    assert failed == oracle(fake, workflow="ci.yml", status="failure")


@pytest_asyncio.fixture(name="varied", scope="module", loop_scope="module")
async def _varied() -> AsyncIterator[FakeGitHub]:
    """800 runs over 30 days ending every way the fake knows, a share of each."""
    async with FakeGitHub(FakeConfig(rate_limit=None)) as fake:
        fake.add_runs(
            OWNER,
            REPO,
            count=800,
            days=30,
            end=END,
            jobs=1,
            failed=60,
            cancelled=20,
            in_progress=20,
            timed_out=25,
            skipped=30,
            startup_failure=20,
            action_required=15,
            queued=25,
            waiting=15,
        )
        yield fake


STATUSES = (
    "startup_failure",  # a conclusion the spec's enum for the filter lacks
    "timed_out",
    "skipped",
    "action_required",
    "queued",
    "waiting",
    "completed",
    "failure",
    "in_progress",
)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("status", STATUSES)
async def test_every_status_equals_the_fakes_own_answer(varied: FakeGitHub, status: str) -> None:
    """status=X, sent as given (startup_failure too), yields exactly the runs the fake says
    match, in its order, and no run of another outcome."""
    fake = varied
    want = fake.runs_matching(OWNER, REPO, status=status)
    assert want
    assert all(status in (run["status"], run["conclusion"]) for run in want)
    fake.reset_stats()
    async with Client(fake.token, base_url=fake.api_url) as client:
        got = await client.list_runs(OWNER, REPO, status=status).collect()
    assert got == [decode_run(run) for run in want]
    sent = [record.path_qs for record in fake.stats.requests_log]
    assert any(f"status={status}&" in path for path in sent)


CREATED: dict[str, tuple[object, dict[str, str]]] = {
    "aware-datetime": (END - timedelta(days=20), {"created": ">=2026-03-11T23:00:00Z"}),
    "date": (date(2026, 3, 1), {"created": ">=2026-03-01"}),
    "pair": (
        (date(2026, 2, 10), date(2026, 3, 10)),
        {"created": "2026-02-10T00:00:00Z..2026-03-10T23:59:59Z"},
    ),
    "pair-open-since": ((None, date(2026, 2, 20)), {"created": "<=2026-02-20"}),
    "pair-open-until": ((date(2026, 3, 20), None), {"created": ">=2026-03-20"}),
    "pair-of-datetimes": (
        (datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 3, 2, 12, tzinfo=UTC)),
        {"created": "2026-03-01T12:00:00Z..2026-03-02T12:00:00Z"},
    ),
    "qualifier-day": ("2026-03-05", {"created": "2026-03-05"}),
    "qualifier-gt": (">2026-03-15", {"created": ">2026-03-15"}),
    "qualifier-ge": (">=2026-03-15", {"created": ">=2026-03-15"}),
    "qualifier-lt": ("<2026-02-15", {"created": "<2026-02-15"}),
    "qualifier-le": ("<=2026-02-15", {"created": "<=2026-02-15"}),
    "qualifier-range": ("2026-02-01..2026-03-15", {"created": "2026-02-01..2026-03-15"}),
    "qualifier-open-high": ("2026-03-01..*", {"created": "2026-03-01..*"}),
    "qualifier-open-low": ("*..2026-03-01", {"created": "*..2026-03-01"}),
    "qualifier-offset": (
        "2026-03-01T08:00:00+08:00..2026-03-03T00:00:00-02:00",
        {"created": "2026-03-01T08:00:00+08:00..2026-03-03T00:00:00-02:00"},
    ),
    "created-range": (
        CreatedRange(datetime(2026, 3, 1, tzinfo=UTC), None),
        {"created": ">=2026-03-01"},
    ),
}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", sorted(CREATED))
async def test_every_created_form_equals_the_fakes_own_answer(
    many: tuple[FakeGitHub, Client], name: str
) -> None:
    """Each created form selects what the fake's qualifier does, past the cap too."""
    fake, client = many
    created, query = CREATED[name]
    got = ids(await client.list_runs(OWNER, REPO, created=created).collect())  # type: ignore[arg-type]
    want = oracle(fake, **query)
    assert want
    assert got == want


@pytest.mark.asyncio(loop_scope="module")
async def test_created_and_status_over_the_cap(many: tuple[FakeGitHub, Client]) -> None:
    """A created range holding more than 1,000 successes is split and listed whole."""
    fake, client = many
    with pytest.raises(InvalidArgumentError):  # a string is not an end of a pair
        client.list_runs(OWNER, REPO, status="success", created=("2026-02-05", None))  # type: ignore[arg-type]
    stream = client.list_runs(OWNER, REPO, status="success", created=(date(2026, 2, 5), None))
    got = ids(await stream.collect())
    want = oracle(fake, status="success", created=">=2026-02-05")
    assert len(want) > 1000
    assert got == want


@pytest.mark.asyncio(loop_scope="module")
async def test_the_runs_decode_to_what_the_fake_serves(many: tuple[FakeGitHub, Client]) -> None:
    """Each run yielded equals the fake's run dict decoded."""
    fake, client = many
    got = await client.list_runs(OWNER, REPO, event="workflow_dispatch").collect()
    want = [decode_run(run) for run in fake.runs_matching(OWNER, REPO, event="workflow_dispatch")]
    assert got == want


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("query", [{"event": "pull_request"}, {}], ids=["event", "unfiltered"])
async def test_exclude_pull_requests_equals_the_fakes_own_answer(
    many: tuple[FakeGitHub, Client], query: dict[str, str]
) -> None:
    """exclude_pull_requests=True: the runs the fake serves with the flag (the same runs,
    their pull_requests empty); without it the pull requests come through."""
    fake, client = many
    served = fake.runs_matching(OWNER, REPO, **query)
    assert any(run["pull_requests"] for run in served)
    plain = await client.list_runs(OWNER, REPO, **query).collect()
    assert plain == [decode_run(run) for run in served]
    stream = client.list_runs(OWNER, REPO, exclude_pull_requests=True, **query)
    got = await stream.collect()
    want = fake.runs_matching(OWNER, REPO, exclude_pull_requests="true", **query)
    assert got == [decode_run(run) for run in want]
    assert ids(got) == ids(plain)
    assert all(run.pull_requests == () for run in got)


class _Refuses:
    """A converter stand-in that fails the test if it is asked to structure anything."""

    def __init__(self, name: str) -> None:
        self.name = name

    def structure(self, data: object, cls: type) -> object:
        raise AssertionError(f"the {self.name} decoder was used")


@pytest.mark.parametrize("decoder", ["fast", "detailed"])
async def test_a_run_from_a_deleted_fork_does_not_break_the_listing(
    monkeypatch: pytest.MonkeyPatch, decoder: str
) -> None:
    """``head_repository: null`` (a deleted fork) decodes with the fast decoder and with
    the detailed one it falls back to; the listing and get_run carry the run."""
    from gh_jobs_async import models

    if decoder == "fast":  # the detailed fallback would fail the test
        monkeypatch.setattr(models, "_CONVERTER", _Refuses("detailed"))
    else:  # the fast decoder refuses everything: every body takes the detailed path
        monkeypatch.setattr(models, "_FAST_CONVERTER", _Refuses("fast"))
        monkeypatch.setattr(models, "_orjson_loads", None)
    async with serve(FakeConfig(rate_limit=None)) as (fake, client):
        before = fake.add_run(OWNER, REPO, jobs=1).run_id
        forked = fake.add_run(OWNER, REPO, jobs=1, fork_deleted=True).run_id
        after = fake.add_run(OWNER, REPO, jobs=1).run_id
        assert fake.run_dict(forked)["head_repository"] is None
        runs = await client.list_runs(OWNER, REPO).collect()
        assert sorted(ids(runs)) == sorted([before, forked, after])
        by_id = {run.id: run for run in runs}
        assert by_id[forked].head_repository is None
        assert by_id[forked].repository.name == REPO
        assert by_id[before].head_repository is not None
        got = await client.get_run(OWNER, REPO, forked)
        assert got == by_id[forked]


async def test_an_unfiltered_listing_past_its_limit_continues_by_date() -> None:
    """Past the unfiltered limit GitHub answers 422; the older runs are listed by date."""
    async with serve(FakeConfig(rate_limit=None, runs_unfiltered_limit=300)) as (fake, client):
        fake.add_runs(OWNER, REPO, count=700, days=10, end=END)
        stream = client.list_runs(OWNER, REPO)
        got = ids(await stream.collect())
        assert got == oracle(fake)
        assert len(got) == 700
        statuses = [record.status for record in fake.stats.requests_log]
        assert 422 in statuses
        assert stream.total_count == 300  # GitHub clamps it at the limit


async def test_an_unfiltered_listing_exactly_at_its_limit_asks_one_page_more() -> None:
    """total_count is clamped at the limit: a listing that size asks once more, and stops."""
    async with serve(FakeConfig(rate_limit=None, runs_unfiltered_limit=300)) as (fake, client):
        fake.add_runs(OWNER, REPO, count=300, days=10, end=END)
        got = ids(await client.list_runs(OWNER, REPO).collect())
        assert got == oracle(fake)


async def test_more_than_the_cap_in_one_second_is_a_clear_error() -> None:
    """1,001 runs created in the same second cannot all be reached: RunsCapError says so."""
    async with serve(FakeConfig(rate_limit=None)) as (fake, client):
        fake.add_runs(OWNER, REPO, count=1001, days=1 / 86_400, end=END, jobs=0)
        fake.add_runs(OWNER, REPO, count=50, days=30, end=END - timedelta(days=1), jobs=0)
        with pytest.raises(RunsCapError) as info:
            await client.list_runs(OWNER, REPO, status="success").collect()
        assert info.value.total_count == 1001
        assert info.value.window == "2026-03-31T23:00:00Z..2026-03-31T23:00:00Z"


def _stream_tasks() -> list[asyncio.Task[Any]]:
    """The tasks of a RunStream still alive (its probes and pages)."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and task.get_coro().__qualname__.startswith("RunStream.")  # type: ignore[union-attr]
    ]


@pytest.mark.parametrize(
    ("failing", "stalled", "after"),
    [
        ("created=", "created=", 0),  # the probes of the first cut past the cap
        ("&page=3", "&page=", 1),  # a batch of pages of the plain listing, after page 1
        ("per_page=1&", "per_page=1&", 0),  # the one-run probes of the halves of a slice
    ],
    ids=["probes", "pages", "halves"],
)
async def test_a_failed_request_cancels_the_others_before_its_error(
    failing: str, stalled: str, after: int
) -> None:
    """One request of a concurrent batch answered 404: the others (stalled) are cancelled
    and gone when NotFoundError itself, not an ExceptionGroup, leaves the stream."""
    async with serve(FakeConfig(rate_limit=None)) as (fake, client):
        if failing == "per_page=1&":  # a sparse newest day, then a slice over the cap
            fake.add_runs(OWNER, REPO, count=100, days=1, end=END, jobs=0)
            fake.add_runs(OWNER, REPO, count=2000, days=1, end=END - timedelta(days=3), jobs=0)
        else:
            fake.add_runs(OWNER, REPO, count=2500, days=30, end=END, jobs=0)
        fake.inject(
            Fault("api", "status", status=404, path_contains=failing),
            Fault("api", "stall", path_contains=stalled, stall_seconds=30, times=999, after=after),
        )
        stream = client.list_runs(OWNER, REPO, status=None if failing == "&page=3" else "success")
        with pytest.raises(NotFoundError):
            async with asyncio.timeout(10):
                await stream.collect()
        assert _stream_tasks() == []


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"status": "failed"}, "status"),
        ({"workflow": "../ci.yml"}, "workflow"),
        ({"workflow": 0}, "workflow"),
        ({"workflow": True}, "workflow"),
        ({"branch": ""}, "branch"),
        ({"branch": "a b"}, "branch"),
        ({"event": 3}, "event"),
        ({"actor": "x\n"}, "actor"),
        ({"head_sha": "xyz"}, "head_sha"),
        ({"created": datetime(2026, 1, 1)}, "created"),  # noqa: DTZ001 - naive on purpose
        ({"created": "last week"}, "created"),
        ({"created": CreatedRange(datetime(2026, 1, 1), None)}, "created"),  # noqa: DTZ001
        ({"created": CreatedRange("2026-01-01", None)}, "created"),
        ({"exclude_pull_requests": "yes"}, "exclude_pull_requests"),
        ({"per_page": 101}, "per_page"),
        ({"per_page": 0}, "per_page"),
    ],
)
async def test_bad_arguments_raise_before_any_request(options: dict[str, Any], name: str) -> None:
    """Every bad filter raises InvalidArgumentError naming it, and nothing is sent."""
    async with serve() as (fake, client):
        with pytest.raises(InvalidArgumentError) as info:
            client.list_runs(OWNER, REPO, **options)
        assert info.value.name == name
        assert fake.stats.api_requests == 0


@pytest.mark.asyncio(loop_scope="module")
async def test_the_query_carries_every_filter(many: tuple[FakeGitHub, Client]) -> None:
    """Filters, exclude_pull_requests and per_page go into the query string as GitHub names
    them; the workflow goes into the path."""
    fake, client = many
    await client.list_runs(
        OWNER,
        REPO,
        workflow="ci.yml",
        branch="main",
        event="push",
        status="success",
        actor="octocat",
        created=">=2026-03-30",
        exclude_pull_requests=True,
        per_page=50,
    ).collect()
    last = fake.stats.requests_log[-1].path_qs
    assert last.startswith(f"/repos/{OWNER}/{REPO}/actions/workflows/ci.yml/runs?")
    for part in (
        "actor=octocat",
        "branch=main",
        "event=push",
        "status=success",
        "created=%3E%3D2026-03-30T00:00:00Z",
        "exclude_pull_requests=true",
        "per_page=50",
    ):
        assert part in last


@pytest.mark.asyncio(loop_scope="module")
async def test_an_unknown_workflow_is_not_found(many: tuple[FakeGitHub, Client]) -> None:
    """A workflow with no runs answers 404, raised from the iteration."""
    _fake, client = many
    with pytest.raises(NotFoundError):
        await client.list_runs(OWNER, REPO, workflow="nope.yml").collect()
