"""The fake's workflow runs as served: pull requests, ``exclude_pull_requests``, outcomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

Call = Callable[..., Awaitable[Any]]  # the `call` fixture (see conftest.py)
OWNER, REPO = "octo-org", "hello-world"
END = datetime(2026, 3, 31, 23, 0, 0, tzinfo=UTC)
RUNS = f"/repos/{OWNER}/{REPO}/actions/runs"


async def test_some_pull_request_runs_list_their_pull_request(fake: FakeGitHub) -> None:
    """pull_request runs carry a pull-request-minimal (head at the run's SHA) or none;
    runs of other events never do."""
    fake.add_runs(OWNER, REPO, count=200, days=10, end=END, jobs=0)
    runs = fake.runs_matching(OWNER, REPO)
    by_event = [run for run in runs if run["event"] == "pull_request"]
    listing = [run for run in by_event if run["pull_requests"]]
    assert 0 < len(listing) < len(by_event)
    assert all(not run["pull_requests"] for run in runs if run["event"] != "pull_request")
    for run in listing:
        (pull,) = run["pull_requests"]
        assert set(pull) == {"id", "number", "url", "head", "base"}
        assert pull["url"].endswith(f"/repos/{OWNER}/{REPO}/pulls/{pull['number']}")
        assert pull["head"]["sha"] == run["head_sha"]
        assert pull["head"]["ref"] == run["head_branch"] != pull["base"]["ref"]
        assert pull["head"]["repo"] == {
            "id": run["repository"]["id"],
            "url": run["repository"]["url"],
            "name": REPO,
        }


async def test_the_same_seed_gives_the_same_pull_requests() -> None:
    """Which runs list a pull request, and which one, follow the seed."""
    served = []
    for seed in (7, 7, 8):
        async with FakeGitHub(seed=seed) as fake:  # a new port each time: URLs differ
            fake.add_runs(OWNER, REPO, count=80, days=5, end=END, jobs=0)
            runs = fake.runs_matching(OWNER, REPO)
            served.append(
                [
                    (pull["id"], pull["number"], pull["head"]["sha"], pull["base"]["sha"])
                    for run in runs
                    for pull in run["pull_requests"]
                ]
            )
    assert served[0]
    assert served[0] == served[1] != served[2]


async def test_exclude_pull_requests_empties_the_arrays_and_keeps_the_runs(
    fake: FakeGitHub, call: Call
) -> None:
    """exclude_pull_requests=true: the same runs, in the same order, each with
    ``pull_requests: []``; the oracle answers the same; the run endpoints honour it too."""
    fake.add_runs(OWNER, REPO, count=60, days=5, end=END, jobs=0, events=["pull_request"])
    query = {"per_page": "100", "event": "pull_request"}
    plain = (await call(fake, RUNS, params=query)).json()["workflow_runs"]
    assert any(run["pull_requests"] for run in plain)
    excluded = await call(fake, RUNS, params={**query, "exclude_pull_requests": "true"})
    runs = excluded.json()["workflow_runs"]
    assert [run["id"] for run in runs] == [run["id"] for run in plain]
    assert [{**run, "pull_requests": []} for run in plain] == runs
    oracle = fake.runs_matching(OWNER, REPO, event="pull_request", exclude_pull_requests="true")
    assert oracle == runs
    assert fake.runs_matching(OWNER, REPO, event="pull_request") == plain
    with_pull = next(run for run in plain if run["pull_requests"])
    for path in (f"{RUNS}/{with_pull['id']}", f"{RUNS}/{with_pull['id']}/attempts/1"):
        assert (await call(fake, path)).json() == with_pull
        stripped = await call(fake, path, params={"exclude_pull_requests": "true"})
        assert stripped.json() == {**with_pull, "pull_requests": []}
