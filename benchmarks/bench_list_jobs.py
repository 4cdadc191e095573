"""Benchmark: list a run of 3,000 jobs (``filter=all``, 30 pages of 100) from the fake GitHub.

Prints figures, asserts nothing. For each way of listing, the median (and the fastest and
slowest) of ``--repeat`` timed listings, after one untimed warm-up on the same connections:

* ``list_jobs`` with ``max_concurrency`` 10 and 20: wall time, the CPU seconds this
  process spent, requests the client sent (``Client.requests_sent``) and requests the fake
  received (``stats.api_requests``);
* plain sequential page-following with aiohttp, the way other clients do it: GET a page,
  json-decode it, follow ``Link: rel="next"``, one page at a time;
* plain aiohttp with ``max_concurrency`` requests in flight that only reads the bodies (no
  decoding): the transport's floor on this machine;

then the lower bound ``latency x (1 + ceil((pages - 1) / max_concurrency))``, the ratio of
each median wall time to it (goals for list_jobs: <= 1.3 at max_concurrency 10, <= 1.5 at
20), the speed-up over sequential (goal: >= 5x), and the median CPU time of decoding the
3,000 jobs with ``gh_jobs_async.models.decode_jobs_page`` (through orjson when installed).
On a busy machine the CPU column explains the wall times: a listing cannot finish before
this process got its CPU seconds.

The fake runs in a child process by default, like GitHub runs on other machines: in the
same event loop its own work (routing, serialising, aiohttp's server side) would be billed
to the client. ``--in-process`` runs it in the benchmark's loop instead.

    .venv/bin/python benchmarks/bench_list_jobs.py [--repeat 9] [--in-process]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from gh_jobs_async import Client, models
from gh_jobs_async.models import decode_jobs_page
from gh_jobs_async.testing import FakeGitHub

LATENCY = 0.05
MAX_IN_FLIGHT = 20
JOBS_PER_ATTEMPT = 1_000
ATTEMPTS = 3
PER_PAGE = 100
OWNER, REPO = "octo-org", "hello-world"
PAGES = math.ceil(JOBS_PER_ATTEMPT * ATTEMPTS / PER_PAGE)


# --------------------------------------------------------------------------- the fake


@dataclass(frozen=True)
class Target:
    """Where the fake listens and what it holds."""

    api_url: str
    token: str
    run_id: int


class FakeHandle:
    """Talks to the fake, in this loop or in a child process, through the same calls."""

    def __init__(
        self, target: Target, api_requests: Callable[[], Awaitable[tuple[int, int, int]]]
    ) -> None:
        self.target = target
        self._api_requests = api_requests

    async def counters(self) -> tuple[int, int, int]:
        """(api_requests, peak_api_in_flight, secondary_violations) so far."""
        return await self._api_requests()


def _fake() -> FakeGitHub:
    return FakeGitHub(api_latency=LATENCY, max_in_flight=MAX_IN_FLIGHT)


def _add_run(fake: FakeGitHub) -> Target:
    run = fake.add_run(OWNER, REPO, jobs=JOBS_PER_ATTEMPT, attempts=ATTEMPTS, log_size=10)
    return Target(fake.api_url, fake.token, run.run_id)


def _counters(fake: FakeGitHub) -> tuple[int, int, int]:
    stats = fake.stats
    return stats.api_requests, stats.peak_api_in_flight, stats.secondary_violations


def _child_main(conn: multiprocessing.connection.Connection) -> None:
    """Serve the fake in a child process; answer "stats" until "stop"."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        async with _fake() as fake:
            conn.send(_add_run(fake))
            while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
                assert command == "stats"
                conn.send(_counters(fake))

    asyncio.run(serve())


@asynccontextmanager
async def running_fake(*, in_process: bool) -> AsyncIterator[FakeHandle]:
    """A started fake with the 3,000-job run, here or in a child process."""
    if in_process:
        async with _fake() as fake:
            target = _add_run(fake)

            async def local() -> tuple[int, int, int]:
                return _counters(fake)

            yield FakeHandle(target, local)
        return
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_child_main, args=(child,))
    process.start()
    child.close()  # so that a child that dies shows up here as EOFError, not as a hang
    loop = asyncio.get_running_loop()
    try:
        target = await loop.run_in_executor(None, parent.recv)

        async def remote() -> tuple[int, int, int]:
            parent.send("stats")
            counters: tuple[int, int, int] = await loop.run_in_executor(None, parent.recv)
            return counters

        yield FakeHandle(target, remote)
    finally:
        with contextlib.suppress(OSError):
            parent.send("stop")
        await loop.run_in_executor(None, process.join, 10)
        if process.is_alive():
            process.terminate()


# --------------------------------------------------------------------------- the contenders


@dataclass
class Figure:
    """Median wall time of one way of listing, its spread, and the requests one listing made."""

    name: str
    concurrency: int
    seconds: float  # median of the timed listings
    fastest: float
    slowest: float
    cpu: float  # median CPU seconds this process spent in a listing (not the fake's)
    sent: int | None  # requests the client says it sent (None: not counted by the client)
    received: int  # requests the fake received
    jobs: int


Listing = Callable[[], Awaitable[tuple[int, int | None]]]  # -> (jobs, requests sent)


async def median_of(
    fake: FakeHandle, name: str, concurrency: int, listing: Listing, repeat: int
) -> Figure:
    """Warm up once, then time ``repeat`` listings: their median, fastest and slowest."""
    await listing()
    walls: list[float] = []
    cpus: list[float] = []
    counts: set[tuple[int, int | None, int]] = set()
    for _ in range(repeat):
        before = (await fake.counters())[0]
        started, cpu_started = time.perf_counter(), time.process_time()
        jobs, sent = await listing()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
        counts.add((jobs, sent, (await fake.counters())[0] - before))
    assert len(counts) == 1, f"{name}: listings differ: {counts}"
    jobs, sent, received = counts.pop()
    median = statistics.median(walls)
    return Figure(
        name,
        concurrency,
        median,
        min(walls),
        max(walls),
        statistics.median(cpus),
        sent,
        received,
        jobs,
    )


async def ours(fake: FakeHandle, concurrency: int, repeat: int) -> Figure:
    """``list_jobs(filter="all")`` through the library."""
    target = fake.target
    async with Client(target.token, base_url=target.api_url, max_concurrency=concurrency) as client:

        async def listing() -> tuple[int, int | None]:
            before = client.requests_sent
            stream = client.list_jobs(OWNER, REPO, target.run_id, filter="all", per_page=PER_PAGE)
            jobs = await stream.collect()
            return len(jobs), client.requests_sent - before

        return await median_of(fake, "gh_jobs_async list_jobs", concurrency, listing, repeat)


def _first_url(target: Target) -> str:
    return (
        f"{target.api_url}/repos/{OWNER}/{REPO}/actions/runs/{target.run_id}/jobs"
        f"?filter=all&per_page={PER_PAGE}"
    )


def _session(target: Target) -> aiohttp.ClientSession:
    headers = {
        "Authorization": f"Bearer {target.token}",
        "Accept": "application/vnd.github+json",
        "User-Agent": "bench-baseline",
    }
    return aiohttp.ClientSession(headers=headers)


async def sequential(fake: FakeHandle, repeat: int) -> Figure:
    """Plain aiohttp: one page at a time, json-decoded, following ``rel="next"``."""
    target = fake.target
    async with _session(target) as http:

        async def listing() -> tuple[int, int | None]:
            url: str | None = _first_url(target)
            jobs: list[object] = []
            requests = 0
            while url is not None:
                async with http.get(url) as response:
                    response.raise_for_status()
                    jobs += json.loads(await response.read())["jobs"]
                    nxt = response.links.get("next")
                requests += 1
                url = str(nxt["url"]) if nxt is not None else None
            return len(jobs), requests

        return await median_of(fake, "aiohttp sequential + json", 1, listing, repeat)


async def raw_concurrent(fake: FakeHandle, concurrency: int, repeat: int) -> Figure:
    """Plain aiohttp, ``concurrency`` requests in flight, bodies read but not decoded."""
    target = fake.target
    limit = asyncio.Semaphore(concurrency)
    async with _session(target) as http:

        async def get(page: int) -> bytes:
            async with limit, http.get(f"{_first_url(target)}&page={page}") as response:
                response.raise_for_status()
                return await response.read()

        async def listing() -> tuple[int, int | None]:
            await get(1)  # like any client, learn the page count first
            async with asyncio.TaskGroup() as group:
                for page in range(2, PAGES + 1):
                    group.create_task(get(page))
            return JOBS_PER_ATTEMPT * ATTEMPTS, PAGES

        return await median_of(fake, "aiohttp raw bytes (floor)", concurrency, listing, repeat)


# --------------------------------------------------------------------------- decoding


async def page_bodies(target: Target) -> list[bytes]:
    """The 30 page bodies, fetched once."""
    async with _session(target) as http:
        bodies = []
        for page in range(1, PAGES + 1):
            async with http.get(f"{_first_url(target)}&page={page}") as response:
                bodies.append(await response.read())
        return bodies


def decode_cpu(bodies: list[bytes], repeat: int) -> tuple[float, float, int]:
    """Median CPU seconds of (decode_jobs_page, json.loads alone) over every body; jobs."""
    decodes: list[float] = []
    loads: list[float] = []
    jobs = 0
    for _ in range(repeat):
        started = time.process_time()
        jobs = sum(len(decode_jobs_page(body).jobs) for body in bodies)
        decodes.append(time.process_time() - started)
        started = time.process_time()
        for body in bodies:
            json.loads(body)
        loads.append(time.process_time() - started)
    return statistics.median(decodes), statistics.median(loads), jobs


# --------------------------------------------------------------------------- report


def bound(concurrency: int) -> float:
    """latency x (1 + ceil((pages - 1) / concurrency)): page 1, then full rounds."""
    return LATENCY * (1 + math.ceil((PAGES - 1) / concurrency))


def report(figures: list[Figure], baseline: Figure, decode: tuple[float, float, int]) -> None:
    """Print the table and the decoding cost."""
    head = f"{'how':<27}{'conc':>5}{'jobs':>6}{'wall s':>8}{'min-max s':>13}{'cpu s':>7}"
    print(head + f"{'sent':>5}{'recv':>5}{'bound s':>9}{'/bound':>8}{'vs seq':>8}")
    for fig in figures:
        low = bound(fig.concurrency)
        sent = "-" if fig.sent is None else str(fig.sent)
        spread = f"{fig.fastest:.3f}-{fig.slowest:.3f}"
        print(
            f"{fig.name:<27}{fig.concurrency:>5}{fig.jobs:>6}{fig.seconds:>8.3f}{spread:>13}"
            f"{fig.cpu:>7.3f}{sent:>5}{fig.received:>5}{low:>9.3f}{fig.seconds / low:>8.2f}"
            f"{baseline.seconds / fig.seconds:>7.1f}x"
        )
    seconds, json_only, jobs = decode
    print(
        f"\ndecode_jobs_page CPU for {jobs} jobs ({PAGES} pages): {seconds:.3f} s "
        f"({seconds / PAGES * 1000:.1f} ms a page; json.loads alone {json_only:.3f} s)"
    )
    print(
        "goals: list_jobs median within 1.3x of the bound at max_concurrency 10 and 1.5x at 20, "
        "at least 5x faster than sequential"
    )
    load = os.getloadavg()
    orjson = "orjson" if getattr(models, "_orjson_loads", None) else "json (orjson not installed)"
    print(f"decoder parses with {orjson}")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")


async def main(repeat: int, *, in_process: bool) -> None:
    """Run every measurement against one fake."""
    async with running_fake(in_process=in_process) as fake:
        figures = [await ours(fake, concurrency, repeat) for concurrency in (10, 20)]
        baseline = await sequential(fake, repeat)
        figures.append(baseline)
        figures += [await raw_concurrent(fake, c, repeat) for c in (10, 20)]
        bodies = await page_bodies(fake.target)
        _, peak, violations = await fake.counters()
    where = "in this process" if in_process else "in a child process"
    print(
        f"fake GitHub {where}: api_latency={LATENCY} s, max_in_flight={MAX_IN_FLIGHT}; "
        f"{JOBS_PER_ATTEMPT} jobs x {ATTEMPTS} attempts = {PAGES} pages of {PER_PAGE}; "
        f"medians of {repeat}; Python {platform.python_version()} on {sys.platform}"
    )
    print(f"fake saw peak {peak} requests in flight, {violations} secondary violations\n")
    report(figures, baseline, decode_cpu(bodies, repeat))


def cli() -> None:
    """Parse options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=9, help="timed listings each (default 9)")
    parser.add_argument("--in-process", action="store_true", help="run the fake in this loop")
    args = parser.parse_args()
    asyncio.run(main(args.repeat, in_process=args.in_process))


if __name__ == "__main__":
    cli()
