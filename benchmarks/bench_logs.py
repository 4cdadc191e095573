"""Benchmarks of the log harvester against the fake GitHub, served by a child process.

    python benchmarks/bench_logs.py            # parts a and b
    python benchmarks/bench_logs.py a c        # chosen parts; "all" runs a, b and c
    python benchmarks/bench_logs.py --rate     # a, b and the minute-long part c

(a) 300 logs of 1 MiB, 50 ms latency on both origins, at most 20 API requests in flight:
    wall time, violations and the ratio to a pipelined client's lower bound, for
    max_concurrency=20 and for max_concurrency=32 (too high).
(b) one 512 MiB log: peak RSS and throughput of download_log beside a plain aiohttp
    download that neither hashes, verifies nor fsyncs, each in a fresh process, on disk
    and on tmpfs.
(c) 100 logs under a limit of 60 API requests per rolling minute, with
    requests_per_minute=60: violations and wall time against the bound the limit forces.

The script prints; it asserts nothing. Figures depend on the machine: compare columns of
one run, not runs of different machines.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fakeproc import FakeProcess

from gh_jobs_async import Client, LogStatus

OWNER, REPO = "octo-org", "hello-world"
MiB = 1024 * 1024
PLAIN_CHUNK = 256 * 1024


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """Print a small aligned table."""
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for number, row in enumerate(cells):
        print("  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("  " + "  ".join("-" * width for width in widths))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(MiB):
            digest.update(piece)
    return digest.hexdigest()


async def plain_download(url: str, sink: Path | None) -> tuple[int, float]:
    """GET a signed URL with plain aiohttp; (bytes, seconds from first header to last byte)."""
    size = 0
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        started = time.perf_counter()
        if sink is None:
            async for chunk in response.content.iter_chunked(PLAIN_CHUNK):
                size += len(chunk)
        else:
            with sink.open("wb") as handle:
                async for chunk in response.content.iter_chunked(PLAIN_CHUNK):
                    handle.write(chunk)
                    size += len(chunk)
        return size, time.perf_counter() - started


# --------------------------------------------------------------------------- (a)


async def harvest_ids(
    fake: FakeProcess, ids: list[int], dest: Path, max_concurrency: int
) -> tuple[float, list[Any]]:
    """download_logs over ``ids``; (seconds, results)."""
    started = time.perf_counter()
    async with (
        Client(fake.token, base_url=fake.api_url, max_concurrency=max_concurrency) as gh,
        gh.download_logs(OWNER, REPO, ids, dest) as batch,
    ):
        results = [result async for result in batch]
    return time.perf_counter() - started, results


def cpu_seconds() -> float:
    """User + system seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def part_a(work: Path, retry_after: int, repeat: int) -> None:
    """300 logs of 1 MiB through a secondary limit of 20 in flight."""
    jobs, size, api_latency, blob_latency, limit = 300, MiB, 0.05, 0.05, 20
    config = {
        "api_latency": api_latency,
        "blob_latency": blob_latency,
        "max_in_flight": limit,
        "secondary_retry_after": retry_after,
    }
    with FakeProcess(**config) as fake:
        run = fake.call("add_run", jobs=jobs, log_size=size)
        ids: list[int] = run["job_ids"]
        expected: dict[int, str] = fake.call("sha256", job_ids=ids)
        big = fake.call("add_run", jobs=1, log_size=256 * MiB)["job_ids"][0]
        speeds = []
        for _ in range(3):
            url = fake.call("log_url", job_id=big)
            nbytes, seconds = asyncio.run(plain_download(url, None))
            speeds.append(nbytes / seconds)
        bandwidth = max(speeds)
        total = jobs * size
        bound = math.ceil(jobs / limit) * api_latency + blob_latency + total / bandwidth
        print(
            f"\n(a) {jobs} logs of {size // MiB} MiB; API and blob latency {api_latency * 1000:.0f}"
            f" ms; fake: at most {limit} API requests in flight (retry-after {retry_after} s)"
        )
        print(
            f"    loopback bandwidth (plain aiohttp from the fake, best of 3): "
            f"{bandwidth / MiB:.0f} MiB/s; lower bound {bound:.2f} s = "
            f"ceil({jobs}/{limit})x{api_latency} + {blob_latency} + {total // MiB} MiB / bandwidth"
        )
        rows = []
        for max_concurrency in [20] * repeat + [32]:
            fake.call("reset")
            dest = work / f"a-{max_concurrency}"
            fake_cpu, client_cpu = fake.call("cpu"), cpu_seconds()
            seconds, results = asyncio.run(harvest_ids(fake, ids, dest, max_concurrency))
            fake_cpu, client_cpu = fake.call("cpu") - fake_cpu, cpu_seconds() - client_cpu
            stats = fake.call("stats")
            files = sorted(dest.glob("*.log"))
            good = sum(file_sha256(path) == expected[int(path.stem)] for path in files)
            downloaded = sum(r.status is LogStatus.DOWNLOADED for r in results)
            rows.append(
                [
                    max_concurrency,
                    f"{seconds:.2f}",
                    f"{seconds / bound:.2f}x",
                    f"{total / seconds / MiB:.0f}",
                    f"{client_cpu:.2f}",
                    f"{fake_cpu:.2f}",
                    stats["api_requests"],
                    stats["secondary_violations"],
                    stats["requests_during_penalty"],
                    stats["peak_api_in_flight"],
                    stats["peak_blob_in_flight"],
                    f"{downloaded}/{jobs}",
                    f"{good}/{jobs}",
                    stats["blob_authorization_headers"] + stats["non_api_token_leaks"],
                ]
            )
            shutil.rmtree(dest)
        table(
            "",
            [
                "max_conc",
                "wall s",
                "vs bound",
                "MiB/s",
                "client CPU s",
                "fake CPU s",
                "API req",
                "violations",
                "in penalty",
                "peak API",
                "peak blob",
                "downloaded",
                "SHA ok",
                "token leaks",
            ],
            rows,
        )
        print("    goal: violations 0 and <= 1.3x the bound at max_concurrency=20;")
        print("          every log, few violations at 32")


# --------------------------------------------------------------------------- (b)


async def child_ours(api_url: str, token: str, job_id: int, dest: Path) -> dict[str, Any]:
    """download_log in this (fresh) process."""
    started = time.perf_counter()
    async with Client(token, base_url=api_url) as client:
        result = await client.download_log(OWNER, REPO, job_id, dest)
    return {"seconds": time.perf_counter() - started, "bytes": result.size, "sha": result.sha256}


async def child_plain(api_url: str, token: str, job_id: int, dest: Path) -> dict[str, Any]:
    """Resolve the Location, then a plain streaming download into a file: no hash, no check."""
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "bench"}
    logs = f"{api_url}/repos/{OWNER}/{REPO}/actions/jobs/{job_id}/logs"
    async with (
        aiohttp.ClientSession() as session,
        session.get(logs, headers=headers, allow_redirects=False) as answer,
    ):
        location = answer.headers["Location"]
    nbytes, _ = await plain_download(location, dest)
    return {"seconds": time.perf_counter() - started, "bytes": nbytes, "sha": None}


def run_child(kind: str, fake: FakeProcess, job_id: int, dest: Path) -> dict[str, Any]:
    """Run one download in a fresh interpreter; its result, peak RSS and the fake's CPU."""
    command = [sys.executable, __file__, "--child", kind, fake.api_url, fake.token, str(job_id)]
    fake_cpu = fake.call("cpu")
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [*command, str(dest)], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["fake_cpu"] = fake.call("cpu") - fake_cpu
    return result


def peak_rss_mib(ru_maxrss_mib: float) -> float:
    """Peak RSS of this process image: Linux's VmHWM, else ru_maxrss.

    ru_maxrss survives exec: a child forked from a big parent reports the parent's
    size. VmHWM belongs to the image after exec, so it is the client's own peak.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return ru_maxrss_mib
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return ru_maxrss_mib


def child_main(kind: str, api_url: str, token: str, job_id: int, dest: Path) -> None:
    """Entry point of the fresh process of part (b)."""
    cpu, main_thread = time.process_time(), time.thread_time()  # after the imports
    if kind == "idle":
        result: dict[str, Any] = {"seconds": 0.0, "bytes": 0, "sha": None}
    else:
        runner = child_ours if kind == "ours" else child_plain
        result = asyncio.run(runner(api_url, token, job_id, dest))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["maxrss_mib"] = peak_rss_mib(usage.ru_maxrss / 1024)
    result["cpu"] = time.process_time() - cpu
    result["loop_cpu"] = time.thread_time() - main_thread
    print(json.dumps(result))


def sha256_seconds(size: int) -> float:
    """CPU seconds hashlib needs for ``size`` bytes here, in 1 MiB pieces (best of 3)."""
    piece = os.urandom(MiB)
    best = math.inf
    for _ in range(3):
        digest, started = hashlib.sha256(), time.thread_time()
        for _ in range(size // MiB):
            digest.update(piece)
        best = min(best, time.thread_time() - started)
    return best


def part_b(work: Path, rounds: int) -> None:
    """One 512 MiB log: peak RSS and throughput beside a plain download."""
    size = 512 * MiB
    places = [("disk", work)]
    if Path("/dev/shm").is_dir():  # noqa: S108 - tmpfs, to see the client without the disk
        places.append(("tmpfs", Path(tempfile.mkdtemp(prefix="bench-logs-", dir="/dev/shm"))))
    with FakeProcess() as fake:
        job_id = fake.call("add_run", jobs=1, log_size=size)["job_ids"][0]
        expected = fake.call("sha256", job_ids=[job_id])[job_id]
        idle = run_child("idle", fake, job_id, work / "unused")["maxrss_mib"]
        print(f"\n(b) one {size // MiB} MiB log, each download in a fresh process")
        print(f"    RSS of a process that only imports the client: {idle:.1f} MiB")
        rows: list[list[object]] = []
        ceilings: list[str] = []
        hashing = sha256_seconds(size)
        for place, root in places:
            figures: dict[str, list[dict[str, Any]]] = {"plain": [], "ours": []}
            for _ in range(rounds):
                for kind in ("plain", "ours"):
                    dest = root / f"{kind}.log"
                    os.sync()  # start each run with no dirty pages of the one before
                    result = run_child(kind, fake, job_id, dest)
                    result["ok"] = result["bytes"] == size and (
                        result["sha"] is None or result["sha"] == expected == file_sha256(dest)
                    )
                    figures[kind].append(result)
                    dest.unlink()
            plain_median = statistics.median(r["seconds"] for r in figures["plain"])
            for kind in ("plain", "ours"):
                runs = figures[kind]
                median = statistics.median(r["seconds"] for r in runs)
                best = min(r["seconds"] for r in runs)
                rows.append(
                    [
                        place,
                        kind,
                        " ".join(f"{size / r['seconds'] / MiB:.0f}" for r in runs),
                        f"{size / median / MiB:.0f}",
                        f"{size / best / MiB:.0f}",
                        f"{plain_median / median:.0%}",
                        f"{statistics.median(r['cpu'] for r in runs):.2f}",
                        f"{statistics.median(r['loop_cpu'] for r in runs):.2f}",
                        f"{statistics.median(r['fake_cpu'] for r in runs):.2f}",
                        f"{max(r['maxrss_mib'] for r in runs):.1f}",
                        all(r["ok"] for r in runs),
                    ]
                )
            ceilings.extend(ceiling(place, figures, hashing))
        if len(places) > 1:
            shutil.rmtree(places[1][1])
    table(
        "",
        [
            "dest",
            "download",
            "MiB/s each run",
            "median",
            "best",
            "of plain (medians)",
            "CPU s",
            "loop CPU s",
            "fake CPU s",
            "peak RSS MiB",
            "ok",
        ],
        rows,
    )
    print("    CPU s: the downloading process's user + system time after its imports (median);")
    print("    loop CPU s: the event loop's thread alone; fake CPU s: the fake server's process.")
    print("    plain: aiohttp iter_chunked into a file, no hash, no length check, no fsync;")
    print("    ours: download_log (SHA-256, Content-Length check, fsync, atomic rename).")
    print(f"    SHA-256 of {size // MiB} MiB alone here: {hashing:.2f} CPU s")
    for line in ceilings:
        print(line)
    print("    goal: peak RSS < 64 MiB, ours >= 80% of plain")


def ceiling(
    place: str, figures: dict[str, list[dict[str, Any]]], hashing: float
) -> tuple[str, str]:
    """What the CPU that client and fake need allows on this machine's cores, beside plain.

    Both processes share the machine: a download cannot take less wall time than
    their CPU seconds together divided by the number of cores. A client that
    hashes needs at least plain's CPU and SHA-256's.
    """
    cores = os.cpu_count() or 1
    plain = statistics.median(r["seconds"] for r in figures["plain"])
    ours = statistics.median(r["cpu"] + r["fake_cpu"] for r in figures["ours"])
    ideal = statistics.median(r["cpu"] + r["fake_cpu"] for r in figures["plain"]) + hashing
    return (
        f"    {place}: ours + fake need {ours:.2f} CPU s per log; on {cores} cores no run of"
        f" ours can beat {ours / cores:.2f} s, {plain * cores / ours:.0%} of plain's speed",
        f"    {place}: any client that hashes needs plain's + fake's + SHA-256's {ideal:.2f} CPU s;"
        f" at best {plain * cores / ideal:.0%} of plain's speed on {cores} cores",
    )


# --------------------------------------------------------------------------- (c)


async def harvest_run(fake: FakeProcess, run_id: int, dest: Path) -> tuple[float, Any]:
    """harvest() of a run with requests_per_minute=60; (seconds, summary)."""
    started = time.perf_counter()
    async with Client(fake.token, base_url=fake.api_url, requests_per_minute=60) as client:
        summary = await client.harvest(OWNER, REPO, run_id, dest)
    return time.perf_counter() - started, summary


def part_c(work: Path) -> None:
    """100 logs under 60 API requests per rolling minute."""
    with FakeProcess(max_per_window=60, secondary_window=60.0) as fake:
        run = fake.call("add_run", jobs=100, log_size=64 * 1024)
        seconds, summary = asyncio.run(harvest_run(fake, run["run_id"], work / "c"))
        stats = fake.call("stats")
    requests = stats["api_requests"]
    bound = (requests - 1) // 60 * 60
    print("\n(c) 100 logs; the fake refuses the 61st API request in any rolling 60 s;")
    print("    client requests_per_minute=60 (harvest: one listing page, then the logs)")
    table(
        "",
        [
            "wall s",
            "API req",
            "bound s",
            "vs bound",
            "violations",
            "peak per 60 s",
            "downloaded",
        ],
        [
            [
                f"{seconds:.1f}",
                requests,
                bound,
                f"{seconds / bound:.3f}x" if bound else "-",
                stats["secondary_violations"],
                stats["peak_api_per_window"],
                summary.counts[LogStatus.DOWNLOADED],
            ]
        ],
    )
    print("    goal: violations 0, wall time <= 1.1x floor((API requests - 1) / 60) x 60 s")


# --------------------------------------------------------------------------- main


def main() -> None:
    """Parse the command line and run the chosen parts."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, api_url, token, job_id, dest = sys.argv[2:7]
        child_main(kind, api_url, token, int(job_id), Path(dest))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", help="a, b, c or all (default: a b)")
    parser.add_argument("--rate", action="store_true", help="also run part c (over a minute)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each download in b")
    parser.add_argument(
        "--retry-after", type=int, default=60, help="retry-after of the fake's limit in a"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs at max_concurrency=20 in a")
    args = parser.parse_args()
    parts = set(args.parts) or {"a", "b"}
    if parts - {"a", "b", "c", "all"}:
        parser.error(f"unknown part(s) {sorted(parts - {'a', 'b', 'c', 'all'})}")
    if "all" in parts or args.rate:
        parts |= {"a", "b", "c"}
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        work = Path(tmp)
        if "a" in parts:
            part_a(work, args.retry_after, args.repeat)
        if "b" in parts:
            part_b(work, args.rounds)
        if "c" in parts:
            part_c(work)
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
