"""examples/arq_harvest.py: a multi-run harvest over an arq queue, two worker processes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from workers import assert_logs_exact

from gh_jobs_async.testing import FakeGitHub

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).parents[2] / "examples" / "arq_harvest.py"


async def _example(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_two_queue_workers_harvest_every_log(redis_url: str, tmp_path: Path) -> None:
    """Runs queued on arq, two burst workers sharing one budget: every log, no violation."""
    pytest.importorskip("arq")
    async with FakeGitHub(max_in_flight=20, api_latency=0.01) as fake:
        runs = [fake.add_run(jobs=12).run_id for _ in range(4)]
        env = dict(
            os.environ,
            GH_TOKEN=fake.token,
            GITHUB_API_URL=fake.api_url,
            GH_JOBS_REDIS_URL=redis_url,
        )
        code, output = await _example(
            env, "enqueue", "octo-org/hello-world", *map(str, runs), "--out", str(tmp_path)
        )
        assert code == 0, output
        assert output.count("queued run") == 4
        workers = await asyncio.gather(
            _example(env, "worker", "--burst"), _example(env, "worker", "--burst")
        )
        assert all(code == 0 for code, _ in workers), workers
        code, output = await _example(env, "wait", *map(str, runs), "--timeout", "10")
        assert code == 0, output
        assert output.count("{'downloaded': 12} failed=[]") == 4
        assert fake.stats.secondary_violations == 0
        assert_logs_exact(fake, tmp_path, runs)
