"""Benchmarks of reading logs without writing them, against the fake GitHub in a child process.

    python benchmarks/bench_log_reading.py              # both parts, 512 MiB
    python benchmarks/bench_log_reading.py --size-mib 64 --rounds 1

(a) tail_log(lines=100) of one log: the entries returned, the blob bytes the fake served
    for that job, requests, wall time; checked against the last 100 lines of the log
    as fetched whole with a plain request.
(b) open_log(...).lines() over the same log, in a fresh process each: peak RSS and
    throughput, beside a plain aiohttp loop (``async for line in response.content``)
    over the same body, which neither decodes nor resumes.

The script prints; it asserts nothing. Compare columns of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fakeproc import FakeProcess

from gh_jobs_async import Client

OWNER, REPO = "octo-org", "hello-world"
MiB = 1024 * 1024


async def _tail(fake: FakeProcess, job_id: int) -> tuple[list[str], float]:
    async with Client(fake.token, base_url=fake.api_url) as client:
        started = time.perf_counter()
        tail = await client.tail_log(OWNER, REPO, job_id, lines=100)
        return [entry.text for entry in tail], time.perf_counter() - started


async def _last_lines_plain(url: str, size: int) -> list[str]:
    """The log's last 100 timestamped entries, from a plain range request of its end."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Range": f"bytes={max(0, size - 4 * MiB)}-"}) as answer,
    ):
        data = await answer.read()
    entries: list[str] = []
    for line in data.decode("utf-8", "replace").split("\n")[1:]:
        if len(line) > 29 and line[28] == " " and line[27] == "Z":
            entries.append(line[29:])
        elif entries and line:
            entries[-1] += "\n" + line
    return entries[-100:]


def part_a(fake: FakeProcess, job_id: int, size: int) -> None:
    """tail_log of a big log: right lines, bounded bytes."""
    fake.call("reset")
    lines, seconds = asyncio.run(_tail(fake, job_id))
    stats = fake.call("stats")
    served = stats["blob_bytes_by_job"].get(job_id, 0)
    expected = asyncio.run(_last_lines_plain(fake.call("log_url", job_id=job_id), size))
    print(
        f"\n(a) tail_log(lines=100) of a {size // MiB} MiB log\n"
        f"    entries returned          {len(lines)}  (equal to the log's last 100: "
        f"{lines == expected})\n"
        f"    blob bytes served         {served:,} ({served / MiB:.3f} MiB)\n"
        f"    blob requests             {stats['blob_requests']}\n"
        f"    wall time                 {seconds * 1000:.0f} ms"
    )


async def child_ours(api_url: str, token: str, job_id: int) -> dict[str, Any]:
    """lines() over the log."""
    count = chars = 0
    async with Client(token, base_url=api_url) as client:
        started = time.perf_counter()
        async with client.open_log(OWNER, REPO, job_id) as log:
            async for line in log.lines():
                count += 1
                chars += len(line)
        return {"seconds": time.perf_counter() - started, "lines": count, "chars": chars}


async def child_plain(api_url: str, token: str, job_id: int) -> dict[str, Any]:
    """A plain aiohttp line loop over the same body (bytes lines, no decoding)."""
    headers = {"Authorization": f"Bearer {token}"}
    logs = f"{api_url}/repos/{OWNER}/{REPO}/actions/jobs/{job_id}/logs"
    count = 0
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.get(logs, headers=headers, allow_redirects=False) as answer:
            location = answer.headers["Location"]
        async with session.get(location) as response:
            async for _line in response.content:
                count += 1
        return {"seconds": time.perf_counter() - started, "lines": count, "chars": None}


def _peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(kind: str, api_url: str, token: str, job_id: int) -> None:
    """Entry point of a fresh process of part (b)."""
    runner = child_ours if kind == "ours" else child_plain
    cpu = time.process_time()
    result = asyncio.run(runner(api_url, token, job_id))
    result["cpu"] = time.process_time() - cpu
    result["maxrss_mib"] = _peak_rss_mib()
    print(json.dumps(result))


def _run_child(kind: str, fake: FakeProcess, job_id: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, fake.api_url, fake.token, str(job_id)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def part_b(fake: FakeProcess, job_id: int, size: int, rounds: int) -> None:
    """lines() beside a plain aiohttp line loop: memory and throughput."""
    print(f"\n(b) every line of a {size // MiB} MiB log, {rounds} round(s), fresh process each")
    print(f"    {'reader':<28}{'MiB/s':>8}{'lines':>12}{'CPU s':>8}{'peak RSS MiB':>14}")
    for kind, label in (("plain", "aiohttp `async for line`"), ("ours", "open_log().lines()")):
        results = [_run_child(kind, fake, job_id) for _ in range(rounds)]
        seconds = statistics.median(r["seconds"] for r in results)
        print(
            f"    {label:<28}{size / MiB / seconds:>8.1f}{results[0]['lines']:>12,}"
            f"{statistics.median(r['cpu'] for r in results):>8.1f}"
            f"{max(r['maxrss_mib'] for r in results):>14.1f}"
        )


def main() -> None:
    """Parse the command line and run both parts."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, api_url, token, job_id = sys.argv[2:6]
        child_main(kind, api_url, token, int(job_id))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", help="a, b (default: both)")
    parser.add_argument("--size-mib", type=int, default=512, help="log size (default: 512)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each reader in b")
    args = parser.parse_args()
    parts = set(args.parts) or {"a", "b"}
    size = args.size_mib * MiB
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    with FakeProcess(chunk_size=256 * 1024) as fake:
        run = fake.call("add_run", jobs=1, log_size=size, conclusions=["failure"])
        job_id = run["job_ids"][0]
        if "a" in parts:
            part_a(fake, job_id, size)
        if "b" in parts:
            part_b(fake, job_id, size, args.rounds)
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
