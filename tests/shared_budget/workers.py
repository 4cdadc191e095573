"""Starting budget_worker.py processes against a fake GitHub, and reading what they did."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from gh_jobs_async._files import PART_SUFFIX
from gh_jobs_async.testing import FakeGitHub

WORKER = Path(__file__).with_name("budget_worker.py")


class Worker:
    """One worker process; ``result()`` waits for its JSON line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        """The process id (leases carry it)."""
        return self.process.pid

    async def result(self, timeout: float = 120.0) -> dict[str, Any]:
        """The worker's report once it exits (fails the test on a crash or a hang)."""
        async with asyncio.timeout(timeout):
            stdout, stderr = await self.process.communicate()
        assert self.process.returncode == 0, stderr.decode(errors="replace")[-2000:]
        report: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
        return report


async def start_worker(fake: FakeGitHub, runs: list[int], dest: Path, **options: Any) -> Worker:
    """A worker harvesting ``runs`` of ``fake`` into ``dest`` (``redis=URL`` to share)."""
    spec = {"api": fake.api_url, "token": fake.token, "runs": runs, "dest": str(dest), **options}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        json.dumps(spec),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Worker(process)


def add_runs(fake: FakeGitHub, count: int, jobs: int, log_size: int = 4096) -> list[int]:
    """``count`` runs of ``jobs`` jobs each; their ids."""
    return [fake.add_run(jobs=jobs, log_size=log_size).run_id for _ in range(count)]


def assert_logs_exact(fake: FakeGitHub, dest: Path, runs: list[int]) -> None:
    """Every job of ``runs`` has its log, byte-exact, and no partial file is left."""
    for run_id in runs:
        folder = dest / str(run_id)
        job_ids = fake.run(run_id).job_ids
        assert len(list(folder.glob("*.log"))) == len(job_ids)
        for job_id in job_ids:
            body = (folder / f"{job_id}.log").read_bytes()
            assert hashlib.sha256(body).hexdigest() == fake.log_sha256(job_id)
    assert_no_partial(dest)


def assert_no_partial(dest: Path) -> None:
    """No partial download left anywhere under ``dest``."""
    assert not list(dest.rglob(f"*{PART_SUFFIX}"))
