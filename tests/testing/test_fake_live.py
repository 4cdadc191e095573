"""The fake's conditional requests (ETag, Last-Modified, 304) and its live runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gh_jobs_async.testing import FakeConfig, FakeGitHub
from gh_jobs_async.testing._live import JobTimes, LiveSpec, job_at, observed, schedule

pytestmark = pytest.mark.integration

REPO = "/repos/octo-org/hello-world/actions"
Call = Callable[..., Awaitable[Any]]


async def test_etag_changes_exactly_when_the_content_changes(fake: FakeGitHub, call: Call) -> None:
    """Same content, same weak tag; a change, a new tag; back to the old content, the old tag."""
    run = fake.add_run(jobs=2)
    path = f"{REPO}/jobs/{run.job_ids[0]}"
    first = (await call(fake, path)).headers["ETag"]
    assert first.startswith('W/"')
    assert first.endswith('"')
    assert (await call(fake, path)).headers["ETag"] == first
    name = fake.job(run.job_ids[0])["name"]
    fake.update_job(run.job_ids[0], name="other")
    changed = (await call(fake, path)).headers["ETag"]
    assert changed != first
    fake.update_job(run.job_ids[0], name=name)
    assert (await call(fake, path)).headers["ETag"] == first


async def test_304_has_no_body_no_link_and_spends_no_primary_point(
    fake: FakeGitHub, call: Call
) -> None:
    """If-None-Match with the tag as issued: 304, no Link, x-ratelimit-used unchanged."""
    run = fake.add_run(jobs=50)
    path = f"{REPO}/runs/{run.run_id}/jobs?per_page=10"
    full = await call(fake, path)
    assert "Link" in full.headers
    assert full.headers["Cache-Control"].startswith("private, max-age=60")
    tag = full.headers["ETag"]
    again = await call(fake, path, headers={"If-None-Match": tag})
    assert again.status == 304
    assert again.body == b""
    assert "Link" not in again.headers
    assert again.headers["ETag"] == tag
    assert again.headers["x-ratelimit-used"] == full.headers["x-ratelimit-used"]
    assert fake.stats.primary_spent == 1
    assert (fake.stats.answers_200["list"], fake.stats.answers_304["list"]) == (1, 1)


async def test_a_tag_must_come_back_exactly(fake: FakeGitHub, call: Call) -> None:
    """Stripping W/ or the quotes, or another credential, gets a full answer."""
    run = fake.add_run(jobs=1)
    path = f"{REPO}/jobs/{run.job_ids[0]}"
    tag = (await call(fake, path)).headers["ETag"]
    for wrong in (tag[2:], tag[3:-1]):
        assert (await call(fake, path, headers={"If-None-Match": wrong})).status == 200
    assert (await call(fake, path, headers={"If-None-Match": f'"x", {tag}'})).status == 304


async def test_other_credential_gets_other_tags() -> None:
    """A tag issued to one token does not validate for an anonymous caller."""
    async with FakeGitHub(require_token=False) as fake:
        import aiohttp

        run = fake.add_run(jobs=1)
        url = f"{fake.api_url}{REPO}/jobs/{run.job_ids[0]}"
        async with aiohttp.ClientSession() as session:
            auth = {"Authorization": f"Bearer {fake.token}"}
            async with session.get(url, headers=auth) as resp:
                tag = resp.headers["ETag"]
            async with session.get(url, headers={"If-None-Match": tag}) as resp:
                assert resp.status == 200
                assert resp.headers["ETag"] != tag


async def test_if_modified_since(call: Call) -> None:
    """With Last-Modified only, If-Modified-Since of that date answers 304."""
    async with FakeGitHub(FakeConfig(conditional="last_modified")) as fake:
        run = fake.add_run(jobs=1)
        path = f"{REPO}/jobs/{run.job_ids[0]}"
        full = await call(fake, path)
        assert "ETag" not in full.headers
        since = full.headers["Last-Modified"]
        assert (await call(fake, path, headers={"If-Modified-Since": since})).status == 304
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert (await call(fake, path, headers={"If-Modified-Since": old})).status == 200


def test_schedule_is_seeded_and_fits_the_duration() -> None:
    """Same seed, same schedule; every job within [0, duration]; never-run jobs have no log."""
    spec = LiveSpec(duration=20.0, resolution=1.0, log_lag=0.5)
    conclusions: list[str | None] = ["success", "failure", "skipped", "cancelled"] * 10
    one = schedule(0, 7, 1, conclusions, spec)
    assert one == schedule(0, 7, 1, conclusions, spec)
    assert one != schedule(1, 7, 1, conclusions, spec)
    assert max(t.end for t in one) == pytest.approx(20.0)
    assert all(0 <= t.start <= t.end <= 20.0 + 1e-9 for t in one)
    assert [t.has_log for t in one[:4]] == [True, True, False, False]
    assert one[0].log_at(spec) == pytest.approx(observed(one[0].end + 0.999, 1.0) + 0.5)


def test_job_at_moves_forward_through_the_states() -> None:
    """queued, then in_progress with steps completing one by one, then completed."""
    final: dict[str, Any] = {
        "status": "completed",
        "conclusion": "success",
        "runner_id": 3,
        "runner_name": "r",
        "runner_group_id": 0,
        "runner_group_name": "g",
        "steps": [
            {"name": f"s{i}", "status": "completed", "conclusion": "success", "number": i}
            for i in (1, 2, 3, 4)
        ],
    }
    times = JobTimes(start=2.0, end=6.0, has_log=True)
    states = [job_at(final, times, t, 1_700_000_000.0) for t in (0.0, 2.0, 3.0, 5.5, 6.0)]
    assert [s["status"] for s in states] == [
        "queued",
        "in_progress",
        "in_progress",
        "in_progress",
        "completed",
    ]
    done = [sum(st["status"] == "completed" for st in s["steps"]) for s in states]
    assert done == [0, 0, 1, 3, 4]
    assert states[0]["runner_id"] is None
    assert states[1]["conclusion"] is None
    assert states[-1]["conclusion"] == "success"
    assert states[-1]["completed_at"] is not None


async def test_live_run_completes_on_schedule_with_logs_after_the_lag(call: Call) -> None:
    """A live run moves on by itself; a log is 404 until log_lag after its completion."""
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=6, live=True, duration=1.0, resolution=0.1, log_lag=0.3)
        assert {j["status"] for j in fake.run(run.run_id).latest} <= {"queued", "in_progress"}
        plan = fake.schedule(run.run_id)
        first = min(plan, key=lambda s: s.completed)
        assert first.log_at is not None
        await asyncio.sleep(max(0.0, first.completed - time.monotonic()) + 0.02)
        if time.monotonic() < first.log_at - 0.05:
            reply = await call(fake, f"{REPO}/jobs/{first.job_id}/logs")
            assert reply.status == 404
        await asyncio.sleep(max(0.0, max(s.completed for s in plan) - time.monotonic()) + 0.35)
        jobs = fake.run(run.run_id).latest
        assert {j["status"] for j in jobs} == {"completed"}
        assert fake.run_dict(run.run_id)["status"] == "completed"
        reply = await call(fake, f"{REPO}/jobs/{first.job_id}/logs")
        assert reply.status == 302


async def test_live_attempts_follow_one_another_and_rerun_adds_one() -> None:
    """attempts=2: the second attempt appears once the first has completed; rerun adds a third."""
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=3, live=True, duration=0.4, resolution=0.1, attempts=2)
        assert len(fake.run(run.run_id).attempts) == 1
        await asyncio.sleep(0.5)
        assert len(fake.run(run.run_id).attempts) == 2
        assert fake.run_dict(run.run_id)["run_attempt"] == 2
        await asyncio.sleep(0.5)
        assert fake.run_dict(run.run_id)["status"] == "completed"
        assert fake.rerun(run.run_id) == 3
        assert fake.run_dict(run.run_id)["status"] != "completed"
        assert {s.attempt for s in fake.schedule(run.run_id)} == {1, 2, 3}
