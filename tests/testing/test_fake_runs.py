"""The fake's workflow runs as served: pull requests, ``exclude_pull_requests``, outcomes."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from gh_jobs_async.testing import FakeGitHub
from gh_jobs_async.testing._runplan import plan_runs

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


NEW_OUTCOMES = {
    "timed_out": 6,
    "skipped": 5,
    "startup_failure": 4,
    "action_required": 3,
    "queued": 7,
    "waiting": 2,
}


async def test_add_runs_makes_exactly_each_new_outcome(fake: FakeGitHub) -> None:
    """Each outcome asked for, exactly that many times, with GitHub's status and conclusion;
    startup_failure and action_required runs have no jobs, the others their jobs."""
    fake.add_runs(OWNER, REPO, count=60, days=5, end=END, jobs=3, failed=4, **NEW_OUTCOMES)
    runs = fake.runs_matching(OWNER, REPO)
    seen: dict[tuple[str, str | None], int] = {}
    for run in runs:
        key = (run["status"], run["conclusion"])
        seen[key] = seen.get(key, 0) + 1
    assert seen == {
        ("completed", "timed_out"): 6,
        ("completed", "skipped"): 5,
        ("completed", "startup_failure"): 4,
        ("completed", "action_required"): 3,
        ("queued", None): 7,
        ("waiting", None): 2,
        ("completed", "failure"): 4,
        ("completed", "success"): 60 - 4 - sum(NEW_OUTCOMES.values()),
    }
    for run in runs:
        jobs = fake.jobs_for(OWNER, REPO, run["id"])
        outcome = run["conclusion"] or run["status"]
        assert len(jobs) == (0 if outcome in ("startup_failure", "action_required") else 3)
        if outcome in ("queued", "waiting"):
            assert {(job["status"], job["conclusion"]) for job in jobs} == {(outcome, None)}
        if outcome == "skipped":
            assert {job["conclusion"] for job in jobs} == {"skipped"}
        if outcome == "timed_out":
            assert "timed_out" in {job["conclusion"] for job in jobs}


async def test_new_outcomes_follow_the_seed_and_leave_the_others_alone() -> None:
    """The same calls give the same outcomes; asking for none of the new ones gives the
    runs an older call gave (the same seconds, events and failures)."""
    served = []
    for extra in ({}, {}, NEW_OUTCOMES):
        async with FakeGitHub(seed=3) as fake:
            fake.add_runs(OWNER, REPO, count=90, days=5, end=END, failed=9, **extra)
            served.append(
                [
                    (run["created_at"], run["event"], run["status"], run["conclusion"])
                    for run in fake.runs_matching(OWNER, REPO)
                ]
            )
    assert served[0] == served[1]
    assert [run[:2] for run in served[2]] == [run[:2] for run in served[0]]  # same draws
    assert served[2] != served[0]


@pytest.mark.parametrize(
    ("counts", "jobs", "match"),
    [
        ({"timed_out": -1}, 2, "negative"),
        ({"queued": 6, "waiting": 5}, 2, "more than count"),  # 11 of 10
        ({"skipped": 1}, 0, r"jobs >= 1 for \['skipped'\]"),
        ({"waiting": 1, "startup_failure": 1}, 0, r"jobs >= 1 for \['waiting'\]"),
    ],
)
async def test_add_runs_refuses_counts_that_do_not_fit(
    fake: FakeGitHub, counts: dict[str, int], jobs: int, match: str
) -> None:
    """Negative counts, more outcomes than runs, or jobs=0 for an outcome that needs jobs."""
    with pytest.raises(ValueError, match=match):
        fake.add_runs(OWNER, REPO, count=10, jobs=jobs, **counts)
    assert fake.runs_matching(OWNER, REPO) == []


async def test_jobless_outcomes_need_no_jobs(fake: FakeGitHub) -> None:
    """startup_failure and action_required runs can be made with jobs=0."""
    fake.add_runs(OWNER, REPO, count=4, jobs=0, startup_failure=2, action_required=1)
    conclusions = sorted(run["conclusion"] for run in fake.runs_matching(OWNER, REPO))
    assert conclusions == ["action_required", "startup_failure", "startup_failure", "success"]


async def test_add_run_conclusion_shows_once_the_run_is_completed(fake: FakeGitHub) -> None:
    """A run's own conclusion replaces its jobs' once they are completed, not before."""
    startup = fake.add_run(OWNER, REPO, jobs=0, conclusion="startup_failure").run_id
    running = fake.add_run(
        OWNER, REPO, jobs=2, statuses=["in_progress"], conclusion="timed_out"
    ).run_id
    done = fake.add_run(OWNER, REPO, jobs=2, conclusions=["timed_out"], conclusion="timed_out")
    shown = [fake.run_dict(run_id) for run_id in (startup, running, done.run_id)]
    assert [(run["status"], run["conclusion"]) for run in shown] == [
        ("completed", "startup_failure"),
        ("in_progress", None),
        ("completed", "timed_out"),
    ]
    plain = fake.add_run(OWNER, REPO, jobs=2, conclusions=["timed_out"]).run_id
    assert fake.run_dict(plain)["conclusion"] == "failure"  # the jobs decide without it


def test_the_planner_refuses_an_unknown_outcome() -> None:
    """An outcome the planner does not know is a ValueError naming it, not a KeyError."""
    with pytest.raises(ValueError, match="bogus"):
        plan_runs(
            random.Random(0),
            count=3,
            end=END,
            days=1,
            outcomes={"bogus": 1},
            workflows=["ci.yml"],
            branches=["main"],
            events=["push"],
            actors=["octocat"],
        )
