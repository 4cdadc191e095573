"""Listing runs past GitHub's 1,000-result cap: runs found and requests, against the minimum.

A repository of 5,000 runs over 90 days, 1,800 of them failed, served by a FakeGitHub in a
child process (50 ms per request, GitHub's caps: a search reaches 1,000 runs). Prints, for
``list_runs(status="failure")``, for a plain pager (what ``gh run list`` does: follow pages
until one is empty), for ``list_runs`` with halving only (no first cut at the first page's
density), and for the unfiltered listing of all 5,000: runs found, whether they are exactly
the fake's own answer, requests sent, the minimum (one request per 100 runs) and wall time.

    .venv/bin/python benchmarks/bench_list_runs.py
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from unittest import mock

import aiohttp
from _fakeproc import FakeProcess

from gh_jobs_async import Client, _created

OWNER, REPO = "octo-org", "hello-world"
RUNS, FAILED, DAYS = 5000, 1800, 90
LATENCY = 0.05


async def plain_pager(api_url: str, token: str, **query: str) -> tuple[list[int], int]:
    """Follow pages until one is empty: (run ids, requests)."""
    found: list[int] = []
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "bench"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for page in range(1, 10_000):
            url = f"{api_url}/repos/{OWNER}/{REPO}/actions/runs"
            params = {**query, "per_page": "100", "page": str(page)}
            async with http.get(url, params=params) as response:
                runs = (await response.json())["workflow_runs"]
            if not runs:
                return found, page
            found.extend(run["id"] for run in runs)
    return found, 10_000


async def timed(
    work: Callable[[], Awaitable[tuple[list[int], int]]],
) -> tuple[list[int], int, float]:
    started = time.perf_counter()
    ids, requests = await work()
    return ids, requests, time.perf_counter() - started


async def main() -> None:
    with FakeProcess(api_latency=LATENCY, rate_limit=None) as fake:
        end = datetime.now(UTC)
        fake.call("add_runs", owner=OWNER, repo=REPO, count=RUNS, days=DAYS, end=end, failed=FAILED)
        want_failed = fake.call("run_ids", owner=OWNER, repo=REPO, status="failure")
        want_all = fake.call("run_ids", owner=OWNER, repo=REPO)
        print(
            f"{RUNS} runs over {DAYS} days, {len(want_failed)} failed; "
            f"{LATENCY * 1000:.0f} ms a request"
        )
        print(
            f"{'listing':44} {'runs':>5} {'exact':>5} {'requests':>8} {'minimum':>7} {'seconds':>7}"
        )

        async def listed(**options: object) -> tuple[list[int], int]:
            async with Client(fake.token, base_url=fake.api_url, requests_per_minute=None) as gh:
                stream = gh.list_runs(OWNER, REPO, **options)  # type: ignore[arg-type]
                runs = [run.id async for run in stream]
                return runs, stream.requests

        async def halving_only() -> tuple[list[int], int]:
            def halves(
                window: _created.Window, total: int, _sample: object
            ) -> list[_created.Window]:
                return list(window.halves(total))

            with mock.patch("gh_jobs_async._runs.partition", halves):
                return await listed(status="failure")

        rows = [
            ('list_runs(status="failure")', lambda: listed(status="failure"), want_failed),
            (
                "plain pager, status=failure",
                lambda: plain_pager(fake.api_url, fake.token, status="failure"),
                want_failed,
            ),
            ('list_runs(status="failure"), halving only', halving_only, want_failed),
            ("list_runs() (unfiltered)", listed, want_all),
        ]
        for label, work, want in rows:
            ids, requests, seconds = await timed(work)
            minimum = math.ceil(len(want) / 100)
            exact = "yes" if ids == want else "no"
            print(f"{label:44} {len(ids):5} {exact:>5} {requests:8} {minimum:7} {seconds:7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
