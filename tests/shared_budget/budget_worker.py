"""A worker process of the shared-budget tests: harvests its runs, prints one JSON line.

Run as ``python budget_worker.py '<json>'`` with keys ``api``, ``token``, ``runs``,
``dest``, ``redis`` (URL or null: in-process limits), ``max_concurrency``, ``rpm``,
``lease_ttl``, ``max_wait``, ``start_at`` (epoch seconds: wait until then, so that workers
started one after another harvest at the same time). It prints
``{"counts": ..., "failed": n, "error": ...}``.

With ``app`` (``{"issuer", "pem", "installation", "share"}``) it authenticates as that App
installation instead of ``token``, sharing the installation token through the store when
``share`` is true; with ``until`` (epoch seconds) it harvests its runs again and again, into
``dest/round<N>/<run>``, until then, and reports its ``mints`` and ``rounds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from gh_jobs_async import AppAuth, Auth, Client, GhJobsError
from gh_jobs_async.redis import RedisStore


async def _harvest(gh: Client, spec: dict[str, Any], out: dict[str, Any]) -> None:
    for run_id in spec["runs"]:
        summary = await gh.harvest(
            "octo-org", "hello-world", run_id, Path(spec["dest"]) / str(run_id)
        )
        for status, count in summary.counts.items():
            out["counts"][status.value] = out["counts"].get(status.value, 0) + count
        out["failed"] += len(summary.failures)


async def _rounds(gh: Client, spec: dict[str, Any], out: dict[str, Any]) -> None:
    """Harvest the runs into ``dest/round<N>`` until ``until``."""
    while time.time() < spec["until"]:
        await _harvest(gh, {**spec, "dest": str(Path(spec["dest"]) / f"round{out['rounds']}")}, out)
        out["rounds"] += 1


def _auth(spec: dict[str, Any], store: RedisStore | None) -> str | Auth:
    app = spec.get("app")
    if not app:
        return str(spec["token"])
    tokens = store if app["share"] else None
    return AppAuth(app["issuer"], app["pem"]).installation(app["installation"], token_store=tokens)


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    """Harvest every run of ``spec``; errors are reported, not raised."""
    out: dict[str, Any] = {"counts": {}, "failed": 0, "error": None, "rounds": 0, "mints": 0}
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
        auth = _auth(spec, store)
        gh = await stack.enter_async_context(
            Client(
                auth if isinstance(auth, str) else None,
                auth=None if isinstance(auth, str) else auth,
                base_url=spec["api"],
                max_concurrency=spec.get("max_concurrency", 20),
                requests_per_minute=spec.get("rpm"),
                limits=store,
            )
        )
        await asyncio.sleep(max(0.0, spec.get("start_at", 0.0) - time.time()))
        try:
            await (_rounds if spec.get("until") else _harvest)(gh, spec, out)
        except GhJobsError as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
        out["mints"] = getattr(auth, "mints", 0)
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)  # noqa: T201
