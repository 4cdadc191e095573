"""The fake's logs follow the job's steps, and its blob host answers ranges like Azure Blob."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import aiohttp
import pytest

from gh_jobs_async.testing import FakeConfig, FakeGitHub

pytestmark = pytest.mark.integration

STAMP = re.compile(rb"^(?:\xef\xbb\xbf)?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{7})Z ")
BOUNDARY = {
    "Set up job": b"Current runner version:",
    "Complete job": b"Cleaning up orphan processes",
}


def _when(line: bytes) -> datetime | None:
    match = STAMP.match(line)
    if match is None:
        return None
    day = datetime.strptime(match.group(1).decode(), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return day.replace(microsecond=int(match.group(2)) // 10)


def _json_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


async def test_steps_that_ran_write_their_lines_in_order_with_their_boundary(
    fake: FakeGitHub,
) -> None:
    """Each ran step opens with its boundary line, in number order; skipped steps own no line."""
    run = fake.add_run(jobs=30, log_size=50_000, conclusions=("success", "failure", "timed_out"))
    for job_id in run.job_ids:
        job = fake.job(job_id)
        lines = fake.log_bytes(job_id).split(b"\n")[:-1]
        owners = fake.log_steps(job_id)
        assert len(owners) == len(lines)
        ran = [s for s in job["steps"] if s["conclusion"] != "skipped"]
        firsts = [owners.index(s["number"]) for s in ran]
        assert firsts == sorted(firsts)
        assert owners == sorted(owners)  # contiguous, in order
        skipped = {s["number"] for s in job["steps"]} - {s["number"] for s in ran}
        assert not skipped & set(owners)
        for step, first in zip(ran, firsts, strict=True):
            text = STAMP.sub(b"", lines[first])
            name = step["name"]
            expected = BOUNDARY.get(
                name, b"Post job cleanup." if name.startswith("Post ") else b"##[group]Run "
            )
            assert text.startswith(expected), (name, text)
            when = _when(lines[first])
            assert when is not None
            offset = (_json_time(step["started_at"]) - when).total_seconds()
            assert -2.6 <= offset <= 3.6, (name, offset)  # whole seconds, a few seconds off


@pytest.mark.parametrize("skew", [6.0, -6.0])
async def test_runner_clock_skew_moves_the_step_times_not_the_log(
    fake: FakeGitHub, skew: float
) -> None:
    """runner_clock_skew=S: a step's JSON start is S s (and the usual few) after its first line."""
    run = fake.add_run(
        jobs=6, log_size=20_000, conclusions=("success", "failure"), runner_clock_skew=skew
    )
    for job_id in run.job_ids:
        lines = fake.log_bytes(job_id).split(b"\n")[:-1]
        owners = fake.log_steps(job_id)
        assert len(owners) == len(lines)
        for step in fake.job(job_id)["steps"]:
            if step["conclusion"] == "skipped":
                continue
            when = _when(lines[owners.index(step["number"])])
            assert when is not None
            offset = (_json_time(step["started_at"]) - when).total_seconds() - skew
            assert -2.6 <= offset <= 3.6, (step["name"], offset)


async def test_composite_jobs_print_inner_run_groups(fake: FakeGitHub) -> None:
    """With composite=True one step prints extra ##[group]Run lines: more boundaries than steps."""
    run = fake.add_run(jobs=4, log_size=50_000, composite=True)
    for job_id in run.job_ids:
        body = fake.log_bytes(job_id)
        ran = [s for s in fake.job(job_id)["steps"] if s["conclusion"] != "skipped"]
        runs = [s for s in ran if s["name"] not in BOUNDARY and not s["name"].startswith("Post ")]
        assert body.count(b"##[group]Run ") > len(runs)


async def test_ranges_answer_like_azure(session: aiohttp.ClientSession) -> None:
    """bytes=0- is 200, bytes=N- 206 with Content-Range, If-Match on another ETag 412."""
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=1, log_size=10_000)
        job_id = run.job_ids[0]
        url = fake.log_url(job_id)
        async with session.get(url, headers={"Range": "bytes=0-"}) as resp:
            assert resp.status == 200
            assert "Content-Range" not in resp.headers
            etag = resp.headers["ETag"]
            await resp.read()
        async with session.get(url, headers={"Range": "bytes=0-0"}) as resp:
            assert resp.status == 206
            assert resp.headers["Content-Range"] == "bytes 0-0/10000"
            assert len(await resp.read()) == 1
        async with session.get(url, headers={"Range": "bytes=100-", "If-Match": etag}) as resp:
            assert resp.status == 206
        async with session.get(url, headers={"Range": "bytes=10000-"}) as resp:
            assert resp.status == 416
            assert resp.headers["Content-Range"] == "bytes */10000"
        fake.replace_log(job_id)
        async with session.get(url, headers={"Range": "bytes=100-", "If-Match": etag}) as resp:
            assert resp.status == 412
            assert resp.headers["ETag"] != etag
        assert fake.stats.blob_bytes_by_job[job_id] == 10_000 + 1 + 9_900


async def test_ranges_can_be_ignored(session: aiohttp.ClientSession) -> None:
    """blob_ignore_ranges answers every Range with the whole body and 200."""
    async with FakeGitHub(FakeConfig(blob_ignore_ranges=True)) as fake:
        run = fake.add_run(jobs=1, log_size=5_000)
        async with session.get(fake.log_url(run.job_ids[0]), headers={"Range": "bytes=9-"}) as resp:
            assert resp.status == 200
            assert await resp.read() == fake.log_bytes(run.job_ids[0])
