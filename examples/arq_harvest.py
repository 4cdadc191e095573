"""Many workers, one token: a multi-run harvest spread over an arq queue on Redis.

Every worker process (on any machine) takes runs off one arq queue and harvests
them with a ``Client`` whose budget lives on the same Redis (``RedisStore``), so
however many workers run, GitHub sees one polite client: ``MAX_CONCURRENCY``
requests in flight and ``REQUESTS_PER_MINUTE`` per minute in total.

Needs ``pip install 'gh_jobs_async[redis]' arq``. Environment: ``GH_TOKEN``,
``GH_JOBS_REDIS_URL`` (default ``redis://localhost:6379/0``), optionally
``GITHUB_API_URL``, ``GH_JOBS_MAX_CONCURRENCY`` (20), ``GH_JOBS_REQUESTS_PER_MINUTE``
(900). Then::

    python examples/arq_harvest.py enqueue octo-org/hello-world 101 102 103 --out logs
    python examples/arq_harvest.py worker            # as many as you like, anywhere
    python examples/arq_harvest.py worker --burst    # ... or: stop when the queue is empty
    python examples/arq_harvest.py wait 101 102 103  # the outcome of each run

Each run is harvested into ``<out>/<run_id>/``; logs already complete there are
skipped. A run whose worker lost Redis for good fails with ``RateLimitStoreError``
and leaves nothing partial on disk.

Queueing again: arq refuses a job id while the job is queued, running, or its
result is kept (``keep_result``, an hour by default), so ``enqueue`` drops the kept
result of a finished run (failed or not) and queues it again. A run whose worker
was killed (SIGKILL, a lost machine) is still queued and marked in progress: arq
runs it again by itself once that mark expires, ``job_timeout`` + 10 s after it
started (an hour here); until then ``enqueue`` says it is queued or running. A
worker stopped with SIGINT or SIGTERM hands its runs back to the queue at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import result_key_prefix
from arq.jobs import Job, JobStatus
from arq.worker import Worker

from gh_jobs_async import Client
from gh_jobs_async.redis import RedisStore

QUEUE = "gh-jobs:harvest"


def redis_url() -> str:
    """Where both the queue and the budget live."""
    return os.environ.get("GH_JOBS_REDIS_URL", "redis://localhost:6379/0")


async def startup(ctx: dict[str, Any]) -> None:
    """One store and one client per worker process, shared by all its jobs."""
    ctx["store"] = store = RedisStore(redis_url())
    ctx["client"] = Client(
        os.environ["GH_TOKEN"],
        base_url=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        max_concurrency=int(os.environ.get("GH_JOBS_MAX_CONCURRENCY", "20")),
        requests_per_minute=int(os.environ.get("GH_JOBS_REQUESTS_PER_MINUTE", "900")),
        limits=store,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    """Close the client, then the store it borrowed."""
    await ctx["client"].close()
    await ctx["store"].aclose()


async def harvest_run(
    ctx: dict[str, Any], owner: str, repo: str, run_id: int, out: str
) -> dict[str, Any]:
    """The arq task: harvest one run; its counts per status and its failures."""
    client: Client = ctx["client"]
    summary = await client.harvest(owner, repo, run_id, Path(out) / str(run_id))
    return {
        "run_id": run_id,
        "counts": {status.value: count for status, count in summary.counts.items() if count},
        "failed": [result.job_id for result in summary.failures],
    }


class WorkerSettings:
    """``arq examples.arq_harvest.WorkerSettings`` works too."""

    functions = [harvest_run]  # noqa: RUF012 - arq reads class attributes
    on_startup = startup
    on_shutdown = shutdown
    queue_name = QUEUE
    max_jobs = 4  # runs at once per worker; the API budget is shared anyway
    job_timeout = 3600
    redis_settings = RedisSettings.from_dsn(redis_url())


async def enqueue(repository: str, run_ids: list[int], out: str) -> None:
    """Queue one job per run; a finished run is queued again, a queued or running one not.

    arq's job id makes queueing the same run twice a no-op, and it keeps counting a
    finished job as present while its result is kept: that result is dropped first.
    """
    owner, repo = repository.split("/", 1)
    pool = await create_pool(RedisSettings.from_dsn(redis_url()), default_queue_name=QUEUE)
    try:
        for run_id in run_ids:
            job_id = f"harvest:{run_id}"
            args = ("harvest_run", owner, repo, run_id, out)
            job = await pool.enqueue_job(*args, _job_id=job_id)
            if job is None and await Job(job_id, pool, _queue_name=QUEUE).status() == (
                JobStatus.complete
            ):
                await pool.delete(result_key_prefix + job_id)  # the last outcome
                job = await pool.enqueue_job(*args, _job_id=job_id)
            print(f"queued run {run_id}" if job else f"run {run_id} already queued or running")
    finally:
        await pool.aclose()


async def wait(run_ids: list[int], seconds: float) -> int:
    """Print each run's outcome once a worker has finished it; 1 if any failed."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url()), default_queue_name=QUEUE)
    status = 0
    try:
        for run_id in run_ids:
            job = Job(f"harvest:{run_id}", pool, _queue_name=QUEUE)
            try:
                result = await job.result(timeout=seconds)
            except Exception as exc:  # the task's own error, reported
                print(f"run {run_id}: {type(exc).__name__}: {exc}")
                status = 1
                continue
            print(f"run {run_id}: {result['counts']} failed={result['failed']}")
            status = status or int(bool(result["failed"]))
    finally:
        await pool.aclose()
    return status


def main() -> int:
    """``enqueue``, ``worker`` or ``wait``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    queue = commands.add_parser("enqueue")
    queue.add_argument("repository", metavar="OWNER/REPO")
    queue.add_argument("run_ids", type=int, nargs="+")
    queue.add_argument("--out", default="logs")
    work = commands.add_parser("worker")
    work.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    results = commands.add_parser("wait")
    results.add_argument("run_ids", type=int, nargs="+")
    results.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()
    if args.command == "enqueue":
        asyncio.run(enqueue(args.repository, args.run_ids, args.out))
        return 0
    if args.command == "wait":
        return asyncio.run(wait(args.run_ids, args.timeout))
    worker = Worker(
        functions=WorkerSettings.functions,
        on_startup=startup,
        on_shutdown=shutdown,
        queue_name=QUEUE,
        max_jobs=WorkerSettings.max_jobs,
        job_timeout=WorkerSettings.job_timeout,
        redis_settings=RedisSettings.from_dsn(redis_url()),
        burst=args.burst,
        poll_delay=0.2,
    )
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
