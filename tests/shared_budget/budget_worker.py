"""A worker process of the shared-budget tests: harvests its runs, prints one JSON line.

Run as ``python budget_worker.py '<json>'`` with keys ``api``, ``token``, ``runs``,
``dest``, ``redis`` (URL or null: in-process limits), ``max_concurrency``, ``rpm``,
``lease_ttl``, ``max_wait``. It prints ``{"counts": ..., "failed": n, "error": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from gh_jobs_async import Client, GhJobsError
from gh_jobs_async.redis import RedisStore


async def _harvest(gh: Client, spec: dict[str, Any], out: dict[str, Any]) -> None:
    for run_id in spec["runs"]:
        summary = await gh.harvest(
            "octo-org", "hello-world", run_id, Path(spec["dest"]) / str(run_id)
        )
        for status, count in summary.counts.items():
            out["counts"][status.value] = out["counts"].get(status.value, 0) + count
        out["failed"] += len(summary.failures)


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    """Harvest every run of ``spec``; errors are reported, not raised."""
    out: dict[str, Any] = {"counts": {}, "failed": 0, "error": None}
    async with contextlib.AsyncExitStack() as stack:
        store = None
        if spec.get("redis"):
            store = await stack.enter_async_context(
                RedisStore(
                    spec["redis"],
                    lease_ttl=spec.get("lease_ttl", 30.0),
                    max_wait=spec.get("max_wait", 30.0),
                    timeout=spec.get("timeout", 5.0),
                )
            )
        gh = await stack.enter_async_context(
            Client(
                spec["token"],
                base_url=spec["api"],
                max_concurrency=spec.get("max_concurrency", 20),
                requests_per_minute=spec.get("rpm"),
                limits=store,
            )
        )
        try:
            await _harvest(gh, spec, out)
        except GhJobsError as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)  # noqa: T201
