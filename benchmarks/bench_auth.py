"""GitHub App installations under pressure: how many mints, and whose 401s.

Harvests 300 logs through an installation whose tokens last 2 s, with and without a
replication lag, and mints against a fake whose clock is 5 minutes ahead or behind. Prints
the mints against the bound duration / (lifetime - margin) + 2, the 401s the fake answered
(by reason) and those that reached the caller. Run: ``.venv/bin/python benchmarks/bench_auth.py``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from gh_jobs_async import AppAuth, Client, LogStatus, UnauthorizedError
from gh_jobs_async.testing import FakeGitHub

OWNER, REPO = "octo-org", "hello-world"
LIFETIME = 2.0


async def harvest(lag: float) -> None:
    """300 logs across many 2 s tokens."""
    async with FakeGitHub(
        app_token_lifetime=LIFETIME, app_replication_lag=lag, api_latency=0.1
    ) as fake:
        run = fake.add_run(OWNER, REPO, jobs=300, log_size=1024)
        fake.add_installation(OWNER)
        app = AppAuth(fake.client_id, fake.app_private_key_pem)
        inst = app.installation(owner=OWNER, repo=REPO, permissions={"actions": "read"})
        with tempfile.TemporaryDirectory() as out:
            started = time.monotonic()
            async with Client(auth=inst, base_url=fake.api_url, max_concurrency=3) as gh:
                summary = await gh.harvest(OWNER, REPO, run.run_id, Path(out))
            duration = time.monotonic() - started
        stats = fake.stats
        caller_401 = sum(isinstance(r.error, UnauthorizedError) for r in summary.failures)
        bound = duration / (LIFETIME - LIFETIME / 4) + 2
        print(
            f"harvest lag={lag:.1f}s: {summary.counts.get(LogStatus.DOWNLOADED, 0)}/300 logs "
            f"in {duration:.1f} s; mints {stats.app_mints} (bound {bound:.1f}); "
            f"401/403 at the fake {dict(stats.app_unauthorized) or 0}; "
            f"401s reaching the caller {caller_401}; API requests {stats.api_requests}"
        )


async def skew(offset: float) -> None:
    """Minting against a fake clock ``offset`` seconds away."""
    async with FakeGitHub(app_clock_offset=offset) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        fake.add_installation(OWNER)
        app = AppAuth(fake.app_id, fake.app_private_key_pem)
        async with Client(
            auth=app.installation(owner=OWNER, repo=REPO), base_url=fake.api_url
        ) as gh:
            await gh.get_job(OWNER, REPO, run.latest[0]["id"])
        stats = fake.stats
        print(
            f"clock {offset:+.0f}s: mints {stats.app_mints}, JWTs refused "
            f"{dict(stats.jwt_refusals) or 0}, offset learned {app.clock_offset:+.1f} s"
        )


async def main() -> None:
    """Every scenario, one line each."""
    await harvest(0.0)
    await harvest(0.5)
    await skew(300.0)
    await skew(-300.0)


if __name__ == "__main__":
    asyncio.run(main())
