"""Benchmarks of the shared budget on Redis (needs redis-server on PATH and the redis extra).

    python benchmarks/bench_redis.py          # parts a and b
    python benchmarks/bench_redis.py a        # one part

(a) per-request overhead on loopback: p50 and p99 of one budget acquire + release
    (no HTTP), and of a whole sequential ``get_job`` against the fake, in-process
    budget against RedisStore on a unix socket.
(b) 300 logs of 1 MiB, 50 ms latency on both origins, at most 20 API requests in
    flight at the fake: one process (max_concurrency=20) against 4 processes of one
    run each (75 logs) sharing one RedisStore (max_concurrency=20 in total), and the
    same 4 processes without the store: wall time (from the moment every process has
    started and imported) and violations.

The script prints; it asserts nothing. Figures depend on the machine (and its load).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fakeproc import FakeProcess

from gh_jobs_async import Client, LogStatus
from gh_jobs_async._limits import BudgetSettings, LimitStore, LocalLimits
from gh_jobs_async.redis import RedisStore

OWNER, REPO = "octo-org", "hello-world"
MiB = 1024 * 1024


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """Print a small aligned table."""
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for number, row in enumerate(cells):
        print("  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("  " + "  ".join("-" * width for width in widths))


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a unix socket, persistence off; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    folder = Path(tempfile.mkdtemp(prefix="ghj-bench-redis-", dir="/tmp"))
    sock = folder / "redis.sock"
    args = ["--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(  # noqa: S603
        [binary, *args, "--dir", str(folder)], stdout=subprocess.DEVNULL
    )
    try:
        while not sock.exists():
            time.sleep(0.02)
        yield f"unix://{sock}"
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _ms(samples: list[float], quantile: float) -> str:
    ordered = sorted(samples)
    return f"{ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000:.3f}"


def _settings(identity: str) -> BudgetSettings:
    return BudgetSettings(
        identity=identity,
        api_url="https://api.github.com",
        max_concurrency=20,
        requests_per_minute=900,
        max_rate_limit_wait=300.0,
        clock=time.time,
        monotonic=time.monotonic,
        sleep=asyncio.sleep,
    )


async def _interleaved(
    fake: FakeProcess, job_id: int, store: RedisStore, count: int
) -> dict[str, list[float]]:
    """Samples of both kinds taken in turn, so that the machine's load hits both alike."""
    samples: dict[str, list[float]] = {"local": [], "redis": [], "local get": [], "redis get": []}
    stores: dict[str, LimitStore] = {"local": LocalLimits(), "redis": store}
    async with (
        Client(fake.token, base_url=fake.api_url) as local,
        Client(fake.token, base_url=fake.api_url, limits=store) as shared,
    ):
        clients = {"local": local, "redis": shared}
        for number in range(count):
            if number % 800 == 0:  # a fresh budget: stay under 900 a minute
                budgets = {
                    k: s.open_budget(_settings(f"bench-{number}")) for k, s in stores.items()
                }
            for kind, budget in budgets.items():
                started = time.perf_counter()
                await budget.release(await budget.acquire())
                await budget.succeeded()
                samples[kind].append(time.perf_counter() - started)
            if number < 800:
                for kind, client in clients.items():
                    started = time.perf_counter()
                    await client.get_job(OWNER, REPO, job_id)
                    samples[f"{kind} get"].append(time.perf_counter() - started)
    return samples


async def _pings(url: str, count: int) -> list[float]:
    import redis.asyncio as aioredis  # noqa: PLC0415

    client = aioredis.Redis.from_url(url)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await client.ping()
        samples.append(time.perf_counter() - started)
    await client.aclose()
    return samples


def part_a() -> None:
    """Per-request overhead of the store."""
    cycles, requests = 4000, 800
    with redis_server() as url, FakeProcess(rate_limit=None) as fake:
        job_id = fake.call("add_run", jobs=1)["job_ids"][0]

        async def measure() -> list[list[object]]:
            pings = await _pings(url, cycles)
            rows: list[list[object]] = [["(Redis PING)", _ms(pings, 0.5), _ms(pings, 0.99), "", ""]]
            async with RedisStore(url) as store:
                got = await _interleaved(fake, job_id, store, cycles)
            for name, kind in (("in-process", "local"), ("RedisStore", "redis")):
                quantiles = [_ms(got[k], q) for k in (kind, f"{kind} get") for q in (0.5, 0.99)]
                rows.append([name, *quantiles])
            return rows

        rows = asyncio.run(measure())
    table(
        f"(a) per request, ms: budget acquire+release ({cycles}x), whole get_job ({requests}x)",
        ["limits", "budget p50", "budget p99", "get_job p50", "get_job p99"],
        rows,
    )


def _worker(spec: dict[str, Any], ready: Any, results: Any) -> None:
    """A harvesting process: imports done, it waits at the barrier, so startup is not timed."""
    ready.wait()
    results.put(asyncio.run(_harvest(spec)))


async def _harvest(spec: dict[str, Any]) -> dict[str, Any]:
    store = RedisStore(spec["redis"]) if spec["redis"] else None
    try:
        async with Client(
            spec["token"], base_url=spec["api"], max_concurrency=20, limits=store
        ) as gh:
            summaries = await asyncio.gather(
                *(
                    gh.harvest(OWNER, REPO, run_id, Path(spec["dest"]) / str(run_id))
                    for run_id in spec["runs"]
                )
            )
    finally:
        if store is not None:
            await store.aclose()
    return {"downloaded": sum(s.counts[LogStatus.DOWNLOADED] for s in summaries)}


def part_b() -> None:
    """300 x 1 MiB over 4 processes sharing one budget, against one process."""
    config = {
        "api_latency": 0.05,
        "blob_latency": 0.05,
        "max_in_flight": 20,
        "secondary_retry_after": 1,
        "rate_limit": None,
    }
    rows: list[list[object]] = []
    context = multiprocessing.get_context("spawn")
    with redis_server() as url, FakeProcess(**config) as fake:
        for name, processes, shared in (
            ("1 process", 1, False),
            ("4 processes, RedisStore", 4, True),
            ("4 processes, no store", 4, False),
        ):
            fake.call("reset")
            runs = [fake.call("add_run", jobs=75, log_size=MiB)["run_id"] for _ in range(4)]
            with tempfile.TemporaryDirectory() as dest:
                groups = [runs] if processes == 1 else [[run] for run in runs]
                specs = [
                    {
                        "api": fake.api_url,
                        "token": fake.token,
                        "runs": group,
                        "dest": dest,
                        "redis": url if shared else None,
                    }
                    for group in groups
                ]
                barrier, queue = context.Barrier(len(specs) + 1), context.Queue()
                workers = [
                    context.Process(target=_worker, args=(spec, barrier, queue)) for spec in specs
                ]
                for worker in workers:
                    worker.start()
                barrier.wait()
                started = time.perf_counter()
                results = [queue.get() for _ in workers]
                wall = time.perf_counter() - started
                for worker in workers:
                    worker.join()
            stats = fake.call("stats")
            rows.append(
                [
                    name,
                    f"{wall:.2f}",
                    sum(r["downloaded"] for r in results),
                    stats["secondary_violations"],
                    stats["peak_api_in_flight"],
                    stats["requests_during_penalty"],
                ]
            )
    table(
        "(b) 300 logs of 1 MiB, 50 ms latency, fake allows 20 API requests in flight",
        ["setup", "wall s", "logs", "violations", "peak in flight", "during penalty"],
        rows,
    )


def main() -> None:
    """Run the chosen parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["a", "b"], choices=["a", "b"])
    args = parser.parse_args()
    for part in args.parts:
        {"a": part_a, "b": part_b}[part]()


if __name__ == "__main__":
    main()
