"""Crash and resume: a ``gh-jobs logs`` process killed with SIGKILL, again and again, resumes.

The harvest runs as a real process (``python -m gh_jobs_async logs ...``) against a fake
GitHub served from the test's event loop. It is killed four times, each time at a random
moment once it has recorded at least one more log and while a temporary file is on disk
(some large logs stall 2.5 s after their first 1.5 MB, so there always is one), and run
again. The fifth run finishes. Then:

* the directory holds exactly the logs a clean harvest into another directory holds, with
  the SHA-256 the fake serves, plus the manifest and the lock: no temporary file;
* no log that was complete before a kill (in the manifest, and on disk with the recorded
  SHA-256) was downloaded again afterwards, according to the fake's own count of bodies
  sent to their last byte; only logs interrupted by a kill were fetched more than once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

import gh_jobs_async
from gh_jobs_async._files import LOCK_NAME, MANIFEST_NAME, PART_SUFFIX
from gh_jobs_async._logs import CHUNK_SIZE
from gh_jobs_async.testing import FakeConfig, FakeGitHub, Fault

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

logger = logging.getLogger(__name__)

OWNER, REPO = "octo-org", "hello-world"
SEED = 11
JOBS = 400
KILLS = 4
DOWNLOADS_IN_FLIGHT = 30  # gh-jobs' default: 3 x --max-concurrency (10)
BIG = 3 * CHUNK_SIZE
SIZES = (BIG, 4_000, 60_000, 9_000, 200_000, 1_000, 30_000, 120_000, 15_000, 2_500)
STALL_AFTER = CHUNK_SIZE + CHUNK_SIZE // 2  # past the first batch: a temporary file exists
STALL = 2.5  # seconds: longer than the random delay before a kill, with room to spare
RUN_LIMIT = 60.0  # seconds any one process may take before the test fails
CONFIG = FakeConfig(seed=SEED, api_latency=0.005, blob_latency=0.4)


def manifest(dest: Path) -> dict[int, tuple[str, str]]:
    """The manifest's entries (job id -> path, SHA-256), a torn last line ignored."""
    entries: dict[int, tuple[str, str]] = {}
    path = dest / MANIFEST_NAME
    if not path.exists():
        return entries
    for line in path.read_text("utf-8").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        entries[int(data["job_id"])] = (str(data["path"]), str(data["sha256"]))
    return entries


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def complete(dest: Path) -> set[int]:
    """Jobs whose log is complete: in the manifest, and on disk with the recorded SHA-256."""
    return {
        job_id
        for job_id, (relative, digest) in manifest(dest).items()
        if (dest / relative).is_file() and sha256_of(dest / relative) == digest
    }


def log_requests(fake: FakeGitHub, job_ids: list[int]) -> Counter[int]:
    """Requests about each job's log so far: resolving its Location, or fetching the blob."""
    owner_of = {urlsplit(fake.log_url(job_id)).path: job_id for job_id in job_ids}
    for job_id in job_ids:
        owner_of[f"/repos/{OWNER}/{REPO}/actions/jobs/{job_id}/logs"] = job_id
    counts: Counter[int] = Counter()
    for record in fake.stats.requests_log:
        about = owner_of.get(urlsplit(record.path_qs).path)
        if about is not None:
            counts[about] += 1
    return counts


def parts(dest: Path) -> list[Path]:
    """Temporary files of a harvest below ``dest``."""
    return sorted(dest.rglob(f"*{PART_SUFFIX}"))


def logs(dest: Path) -> dict[str, str]:
    """Every ``*.log`` below ``dest`` -> its SHA-256."""
    return {p.relative_to(dest).as_posix(): sha256_of(p) for p in dest.rglob("*.log")}


async def launch(fake: FakeGitHub, run_id: int, dest: Path) -> asyncio.subprocess.Process:
    """Start ``gh-jobs logs`` (this very package) against ``fake``, output to files."""
    env = dict(os.environ, GH_TOKEN=fake.token)
    env.pop("GITHUB_API_URL", None)
    package_root = str(Path(gh_jobs_async.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (dest.parent / f"{dest.name}.out").open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gh_jobs_async",
            "logs",
            f"{OWNER}/{REPO}",
            str(run_id),
            "--out",
            str(dest),
            "--api-url",
            fake.api_url,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            env=env,
        )


def progressed(dest: Path, before: set[int], stale: set[Path]) -> Callable[[], bool]:
    """A cheap check: a log beyond ``before`` was recorded, and a temporary file other than
    the ``stale`` ones (left by the last kill, until the new process removes them) exists."""
    return lambda: bool(set(manifest(dest)) - before) and bool(set(parts(dest)) - stale)


async def wait_until(condition: Callable[[], bool], process: asyncio.subprocess.Process) -> None:
    """Poll ``condition`` until it holds; fail if the process ends or time runs out first."""
    deadline = time.monotonic() + RUN_LIMIT
    while not condition():
        assert process.returncode is None, "the harvest ended before it could be killed"
        assert time.monotonic() < deadline, "the harvest made no progress"
        await asyncio.sleep(0.02)


async def finish(process: asyncio.subprocess.Process) -> int:
    """Wait for the process to end (killing it after RUN_LIMIT); its exit status."""
    try:
        async with asyncio.timeout(RUN_LIMIT):
            return await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise


@attrs.define
class Kills:
    """What the kills left: for each log first seen complete after a kill, the fake's count
    of its downloads and of the requests about it then; the logs asked for but not complete
    when a kill struck; the temporary files on disk after each kill."""

    frozen: dict[int, int] = attrs.Factory(dict)
    asked: dict[int, int] = attrs.Factory(dict)
    interrupted: set[int] = attrs.Factory(set)
    parts_at_kill: list[int] = attrs.Factory(list)


async def kill_repeatedly(
    fake: FakeGitHub, run_id: int, job_ids: list[int], dest: Path, rng: random.Random
) -> Kills:
    """Start the harvest into ``dest`` and SIGKILL it mid-way, KILLS times over."""
    kills = Kills()
    for _ in range(KILLS):
        before, stale = complete(dest), set(parts(dest))
        process = await launch(fake, run_id, dest)
        try:
            await wait_until(progressed(dest, before, stale), process)
            await asyncio.sleep(rng.uniform(0.0, 0.8))
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
            status = await finish(process)
        assert status == -signal.SIGKILL
        # requests the killed process had already written may still sit in the fake's
        # sockets: let the fake see them before taking stock, or they would be counted later
        await asyncio.sleep(0.5)
        kills.parts_at_kill.append(len(parts(dest)))
        done = complete(dest)
        assert before <= done < set(job_ids)
        requests = log_requests(fake, job_ids)
        for job_id in done - before:
            kills.frozen[job_id] = fake.stats.log_downloads[job_id]
            kills.asked[job_id] = requests[job_id]
        kills.interrupted |= set(requests) - done
    return kills


async def test_a_harvest_killed_four_times_ends_like_a_clean_one(
    tmp_path: Path, record_property: Any
) -> None:
    """SIGKILLed harvests resume: same files as a clean run, no complete log fetched twice."""
    started = time.monotonic()
    dest, clean = tmp_path / "resumed", tmp_path / "clean"
    async with FakeGitHub(CONFIG) as fake:
        run = fake.add_run(OWNER, REPO, jobs=JOBS, log_size=SIZES)
        for job_id in run.job_ids[:: len(SIZES)]:  # the big ones
            fake.inject(
                Fault(
                    target="blob",
                    kind="stall",
                    job_id=job_id,
                    partial_bytes=STALL_AFTER,
                    stall_seconds=STALL,
                    times=KILLS + 2,
                )
            )
        kills = await kill_repeatedly(fake, run.run_id, run.job_ids, dest, random.Random(SEED))
        assert await finish(await launch(fake, run.run_id, dest)) == 0
        downloads = Counter(fake.stats.log_downloads)
        requests = log_requests(fake, run.job_ids)
        wall = time.monotonic() - started
        assert await finish(await launch(fake, run.run_id, clean)) == 0
        expected = {f"{job_id}.log": fake.log_sha256(job_id) for job_id in run.job_ids}

    # the resumed directory is what a clean harvest makes, and what the fake serves
    assert logs(dest) == logs(clean) == expected
    assert parts(dest) == []
    names = {path.relative_to(dest).as_posix() for path in dest.rglob("*")}
    assert names == set(expected) | {MANIFEST_NAME, LOCK_NAME}
    # a log complete before a kill was never downloaded again, nor even asked for
    assert kills.frozen
    assert {job_id: downloads[job_id] for job_id in kills.frozen} == kills.frozen
    assert {job_id: requests[job_id] for job_id in kills.asked} == kills.asked
    # every log arrived; more than once only when a kill interrupted it (at most the
    # downloads in flight at each kill)
    assert set(downloads) == set(run.job_ids)
    again = {job_id: count - 1 for job_id, count in downloads.items() if count > 1}
    assert sum(again.values()) <= KILLS * DOWNLOADS_IN_FLIGHT
    refetched = {job_id for job_id, count in requests.items() if count > 2}  # resolve + fetch
    assert refetched <= kills.interrupted
    # the kills did interrupt downloads: temporary files were left, then cleaned up
    assert all(count > 0 for count in kills.parts_at_kill)
    figures = {
        "jobs": JOBS,
        "kills": KILLS,
        "complete_before_a_kill": len(kills.frozen),
        "temporary_files_at_kills": kills.parts_at_kill,
        "logs_downloaded_again": len(again),
        "interrupted_by_a_kill": len(kills.interrupted),
        "logs_fetched_again": len(refetched),
        "complete_logs_downloaded_again": 0,
        "wall_seconds": round(wall, 1),
    }
    logger.warning("crash-resume: %s", json.dumps(figures, sort_keys=True))
    record_property("crash_resume", json.dumps(figures, sort_keys=True))
