"""Worker processes sharing one App installation token on a real Redis.

4 processes (budget_worker.py) authenticate as the same installation of the fake GitHub's
App (real RS256 keys), with 2 s tokens, and harvest again and again for about 10 s, sharing
one RedisStore for their limits; with ``share`` they also share the installation token.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from workers import assert_logs_exact, start_worker

from gh_jobs_async.testing import FakeGitHub

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OWNER, REPO = "octo-org", "hello-world"
WORKERS = 4
LIFETIME = 2.0
HARVEST = 10.0
#: Workers harvest together from this long after the first one is started (see
#: test_shared_budget_processes.py: starting 4 interpreters on 2 busy cores takes a while).
START_DELAY = 4.0


async def _fleet(redis_url: str, dest: Path, *, share: bool) -> tuple[int, float, FakeGitHub]:
    """Run the fleet; the fake's mint count, the harvest's duration, and the fake (closed)."""
    async with FakeGitHub(app_token_lifetime=LIFETIME, api_latency=0.02) as fake:
        runs = [fake.add_run(OWNER, REPO, jobs=10, log_size=2048).run_id for _ in range(WORKERS)]
        app = {
            "issuer": fake.client_id,
            "pem": fake.app_private_key_pem,
            "installation": fake.add_installation(OWNER),
            "share": share,
        }
        start_at = time.time() + START_DELAY
        workers = [
            await start_worker(
                fake,
                [run],
                dest / f"worker{index}",
                redis=redis_url,
                app=app,
                start_at=start_at,
                until=start_at + HARVEST,
                max_concurrency=4,
            )
            for index, run in enumerate(runs)
        ]
        reports: list[dict[str, Any]] = [await worker.result() for worker in workers]
        duration = time.time() - start_at
        assert all(report["error"] is None for report in reports), reports
        assert all(report["failed"] == 0 for report in reports), reports  # no UnauthorizedError
        for index, (run, report) in enumerate(zip(runs, reports, strict=True)):
            assert report["rounds"] >= 1
            for round_ in range(report["rounds"]):
                assert_logs_exact(fake, dest / f"worker{index}" / f"round{round_}", [run])
        assert sum(report["mints"] for report in reports) == fake.stats.app_mints
        assert fake.stats.app_unauthorized["expired"] == 0
        return fake.stats.app_mints, duration, fake


def _bound(duration: float) -> float:
    """At most one mint per renewal interval (lifetime minus the quarter-lifetime margin)."""
    return duration / (LIFETIME - LIFETIME / 4) + 2


async def test_four_workers_sharing_the_token_mint_once_per_expiry(
    redis_url: str, tmp_path: Path
) -> None:
    """4 workers x ~10 s of 2 s tokens, sharing: mints within duration / (2 - 0.5) + 2 in
    total, every log byte-exact, no UnauthorizedError."""
    mints, duration, _fake = await _fleet(redis_url, tmp_path, share=True)
    print(f"sharing: {mints} mints in {duration:.1f} s")  # noqa: T201 - the figure, with -s
    assert duration >= HARVEST
    assert mints <= _bound(duration)
    assert mints >= HARVEST / 3.0 - 1  # it did renew, again and again


async def test_four_workers_without_sharing_mint_about_four_times_as_often(
    redis_url: str, tmp_path: Path
) -> None:
    """The control: the same fleet without sharing exceeds that bound (the test can fail)."""
    mints, duration, _fake = await _fleet(redis_url, tmp_path, share=False)
    print(f"not sharing: {mints} mints in {duration:.1f} s")  # noqa: T201 - the figure, with -s
    assert mints > _bound(duration)
