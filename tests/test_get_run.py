"""`Client.get_run` over loopback against the fake GitHub's run endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gh_jobs_async import (
    Client,
    InvalidArgumentError,
    NotFoundError,
    RunConclusion,
    RunStatus,
)
from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as fake:
        yield fake


@pytest.fixture(name="client")
async def fixture_client(fake: FakeGitHub) -> AsyncIterator[Client]:
    async with Client(fake.token, base_url=fake.api_url, sleep=None) as client:
        yield client


async def test_get_run_equals_what_the_fake_serves(fake: FakeGitHub, client: Client) -> None:
    """The decoded run matches the fake's own dict, field by field."""
    run = fake.add_run(OWNER, REPO, jobs=4, attempts=2, event="pull_request", actor="hubot")
    got = await client.get_run(OWNER, REPO, run.run_id)
    served = fake.run_dict(run.run_id)
    assert got.id == served["id"] == run.run_id
    assert got.run_attempt == 2
    assert got.event == "pull_request"
    assert got.actor is not None
    assert got.actor.login == "hubot"
    assert got.head_sha == served["head_sha"] == run.latest[0]["head_sha"]
    assert got.to_dict()["created_at"] == served["created_at"]
    assert got.previous_attempt_url is not None
    assert got.previous_attempt_url.endswith(f"/runs/{run.run_id}/attempts/1")


async def test_attempt_selects_the_attempt(fake: FakeGitHub, client: Client) -> None:
    """attempt=N asks .../attempts/N: its number, its start time, no previous attempt for 1."""
    run = fake.add_run(OWNER, REPO, jobs=2, attempts=3)
    first = await client.get_run(OWNER, REPO, run.run_id, attempt=1)
    third = await client.get_run(OWNER, REPO, run.run_id, attempt=3)
    assert (first.run_attempt, third.run_attempt) == (1, 3)
    assert first.previous_attempt_url is None
    assert first.run_started_at is not None
    assert third.run_started_at is not None
    assert third.run_started_at > first.run_started_at
    assert first.created_at == third.created_at  # the run's creation, not the attempt's


async def test_status_follows_the_jobs(fake: FakeGitHub, client: Client) -> None:
    """The run is in progress while a job runs, and concludes failure when one failed."""
    run = fake.add_run(OWNER, REPO, jobs=3, statuses=["completed", "in_progress", "queued"])
    got = await client.get_run(OWNER, REPO, run.run_id)
    assert (got.status, got.conclusion) == (RunStatus.IN_PROGRESS, None)
    for job in run.latest[1:]:
        fake.update_job(job["id"], status="completed", conclusion="failure")
    got = await client.get_run(OWNER, REPO, run.run_id)
    assert (got.status, got.conclusion) == (RunStatus.COMPLETED, RunConclusion.FAILURE)
    assert got.completed


async def test_unknown_run_or_attempt_is_not_found(fake: FakeGitHub, client: Client) -> None:
    """404 for a run of another repository, an unknown run and an attempt past the last."""
    run = fake.add_run(OWNER, REPO, jobs=1)
    with pytest.raises(NotFoundError):
        await client.get_run(OWNER, "other", run.run_id)
    with pytest.raises(NotFoundError):
        await client.get_run(OWNER, REPO, run.run_id + 1000)
    with pytest.raises(NotFoundError):
        await client.get_run(OWNER, REPO, run.run_id, attempt=2)


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((OWNER, REPO, 0), {}, "run_id"),
        ((OWNER, REPO, "7"), {}, "run_id"),
        ((OWNER, REPO, 7), {"attempt": 0}, "attempt"),
        ((OWNER, REPO, 7), {"attempt": True}, "attempt"),
        (("", REPO, 7), {}, "owner"),
        ((OWNER, "a/b", 7), {}, "repo"),
    ],
)
async def test_bad_arguments_raise_before_any_request(
    fake: FakeGitHub, client: Client, args: tuple[object, ...], kwargs: dict[str, object], name: str
) -> None:
    """Each bad argument is named, and nothing reaches the fake."""
    with pytest.raises(InvalidArgumentError, match=name):
        await client.get_run(*args, **kwargs)  # type: ignore[arg-type]
    assert client.requests_sent == 0
