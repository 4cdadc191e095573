"""Benchmark: watch and follow-harvest a live run of 40 jobs finishing over about 20 s.

Prints figures, asserts nothing. Against the in-process fake GitHub (its live run shows new
state every ``--resolution`` seconds), three ways of following the same run:

* ``watch_run`` with conditional requests (the default): polls, 200s, 304s, the share of
  304s, and the primary budget the fake saw used;
* ``watch_run`` with ``etag_cache=False``: the same polls, every one a charged 200;
* ``harvest(follow=True)``: how long after its job completed (by the fake's schedule) each
  log arrived, p50 and max, and the requests it cost.

    .venv/bin/python benchmarks/bench_watch.py [--jobs 40] [--duration 20] [--interval 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

from gh_jobs_async import Client, LogEvent, LogStatus
from gh_jobs_async.testing import FakeGitHub

OWNER, REPO = "octo-org", "hello-world"
CONCLUSIONS = ("success", "success", "failure", "success", "skipped", "cancelled", "success")


def _run(fake: FakeGitHub, args: argparse.Namespace) -> int:
    return fake.add_run(
        OWNER,
        REPO,
        jobs=args.jobs,
        conclusions=CONCLUSIONS,
        live=True,
        duration=args.duration,
        resolution=args.resolution,
        log_lag=args.log_lag,
        log_size=[1000, 50_000, 7_777],
    ).run_id


def _answers(fake: FakeGitHub) -> tuple[int, int]:
    return sum(fake.stats.answers_200.values()), sum(fake.stats.answers_304.values())


async def watch(args: argparse.Namespace, *, etag_cache: bool) -> dict[str, Any]:
    async with FakeGitHub() as fake:
        run_id = _run(fake, args)
        started = time.monotonic()
        async with Client(fake.token, base_url=fake.api_url, etag_cache=etag_cache) as client:
            updates = 0
            async for _ in client.watch_run(OWNER, REPO, run_id, interval=args.interval):
                updates += 1
        full, not_modified = _answers(fake)
        return {
            "updates": updates,
            "polls": full + not_modified,
            "200": full,
            "304": not_modified,
            "share": not_modified / max(1, full + not_modified),
            "primary": fake.stats.primary_spent,
            "seconds": time.monotonic() - started,
        }


async def follow(args: argparse.Namespace) -> dict[str, Any]:
    async with FakeGitHub() as fake:
        run_id = _run(fake, args)
        async with Client(fake.token, base_url=fake.api_url) as client:
            arrivals: dict[int, float] = {}

            def finished(event: LogEvent) -> None:  # the moment each log is on disk
                result = event.result
                if event.kind == "finished" and result and result.status is LogStatus.DOWNLOADED:
                    arrivals[result.job_id] = time.monotonic()

            with tempfile.TemporaryDirectory() as out:
                await client.harvest(
                    OWNER, REPO, run_id, out, follow=True, interval=args.interval,
                    progress=finished,
                )  # fmt: skip
        plan = {s.job_id: s.completed for s in fake.schedule(run_id)}
        delays = [arrivals[job_id] - plan[job_id] for job_id in arrivals]
        return {
            "logs": len(arrivals),
            "p50": statistics.median(delays),
            "max": max(delays),
            "api": fake.stats.api_requests,
            "primary": fake.stats.primary_spent,
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--resolution", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--log-lag", type=float, default=0.3)
    args = parser.parse_args()
    print(
        f"live run: {args.jobs} jobs over {args.duration:g} s, state every "
        f"{args.resolution:g} s, logs {args.log_lag:g} s after completion; "
        f"interval {args.interval:g} s"
    )
    for label, cache in (("watch_run, conditional", True), ("watch_run, etag_cache=False", False)):
        r = await watch(args, etag_cache=cache)
        print(
            f"{label:<28} {r['updates']:4d} updates  {r['polls']:4d} polls  "
            f"{r['200']:4d} x 200  {r['304']:4d} x 304 ({r['share']:.0%})  "
            f"primary used {r['primary']:4d}  {r['seconds']:.1f} s"
        )
    f = await follow(args)
    print(
        f"{'harvest(follow=True)':<28} {f['logs']:4d} logs  after completion: "
        f"p50 {f['p50']:.2f} s, max {f['max']:.2f} s  "
        f"({f['api']} API requests, primary used {f['primary']})"
    )


if __name__ == "__main__":
    asyncio.run(main())
