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


async def test_a_failed_run_can_be_queued_again(redis_url: str, tmp_path: Path) -> None:
    """A run that failed (a wrong token here) is queued again and harvested by the next
    worker: arq keeps a finished job's result for an hour, which made `enqueue` a no-op."""
    pytest.importorskip("arq")
    async with FakeGitHub(api_latency=0.01) as fake:
        run = fake.add_run(jobs=5).run_id
        env = dict(
            os.environ,
            GH_TOKEN=fake.token,
            GITHUB_API_URL=fake.api_url,
            GH_JOBS_REDIS_URL=redis_url,
        )
        enqueue = ("enqueue", "octo-org/hello-world", str(run), "--out", str(tmp_path))
        code, output = await _example(env, *enqueue)
        assert (code, output.strip()) == (0, f"queued run {run}"), output
        code, output = await _example(env, *enqueue)  # still queued: not twice
        assert (code, output.strip()) == (0, f"run {run} already queued or running"), output
        code, output = await _example(dict(env, GH_TOKEN="ghp_wrongToken"), "worker", "--burst")
        assert code == 0, output
        code, output = await _example(env, "wait", str(run), "--timeout", "10")
        assert code == 1, output  # the run failed
        code, output = await _example(env, *enqueue)
        assert (code, output.strip()) == (0, f"queued run {run}"), output
        code, output = await _example(env, "worker", "--burst")
        assert code == 0, output
        code, output = await _example(env, "wait", str(run), "--timeout", "10")
        assert code == 0, output
        assert f"run {run}: {{'downloaded': 5}} failed=[]" in output
        assert_logs_exact(fake, tmp_path, [run])
