"""Job logs against the fake GitHub over loopback: resolve, download, harvest, resume, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import sys
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _support import file_sha256, logs_asked_for, quick_sleep, serve

from gh_jobs_async import (
    Client,
    InvalidArgumentError,
    LogDownloadError,
    LogEvent,
    LogResult,
    LogsGoneError,
    LogsNotAvailableError,
    LogStatus,
    LogUrlExpiredError,
    UnauthorizedError,
)
from gh_jobs_async._files import LOCK_NAME, MANIFEST_NAME, PART_SUFFIX, PartFile
from gh_jobs_async._harvest import LogBatch
from gh_jobs_async._logs import CHUNK_SIZE
from gh_jobs_async.testing import FakeConfig, FakeGitHub, Fault

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
BOM = b"\xef\xbb\xbf"
DOWNLOADED, SKIPPED = LogStatus.DOWNLOADED, LogStatus.SKIPPED


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    """A fake GitHub with default settings (302 to a separate blob host)."""
    async with FakeGitHub() as fake:
        yield fake


@pytest.fixture(name="client")
async def fixture_client(fake: FakeGitHub) -> AsyncIterator[Client]:
    """A client for ``fake``."""
    async with Client(fake.token, base_url=fake.api_url, sleep=quick_sleep) as client:
        yield client


async def collect(batch: LogBatch) -> list[LogResult]:
    """Every result of a batch, the batch closed afterwards."""
    async with batch:
        return [result async for result in batch]


def leftovers(root: Path) -> list[Path]:
    """Temporary or hidden files under ``root`` other than the manifest and the lock."""
    return [
        path
        for path in root.rglob("*")
        if path.name.endswith(PART_SUFFIX)
        or (path.name.startswith(".") and path.name not in {MANIFEST_NAME, LOCK_NAME})
    ]


def assert_logs_match(fake: FakeGitHub, results: list[LogResult]) -> None:
    """Every downloaded or skipped result names a file whose bytes are the fake's log."""
    for result in results:
        if result.ok:
            assert result.path is not None
            expected = fake.log_sha256(result.job_id)
            assert result.sha256 == expected
            assert result.size == fake.log_size(result.job_id)
            assert file_sha256(result.path) == expected, result


def assert_no_token_left_loopback(fake: FakeGitHub) -> None:
    """Neither the Authorization header nor the token ever reached a log download."""
    assert fake.stats.blob_authorization_headers == 0
    assert fake.stats.blob_token_leaks == 0
    assert fake.stats.non_api_token_leaks == 0


def logs_requests(fake: FakeGitHub, job_id: int) -> list[int]:
    """Statuses of the API's logs-endpoint requests for one job, in order."""
    suffix = f"/jobs/{job_id}/logs"
    return [
        r.status
        for r in fake.stats.requests_log
        if r.origin == "api" and r.path_qs.endswith(suffix)
    ]


def blob_statuses(fake: FakeGitHub) -> list[int]:
    """Statuses of the requests to signed log URLs, in order."""
    return [r.status for r in fake.stats.requests_log if r.path_qs.startswith("/actions-results/")]


# --------------------------------------------------------------------------- get_log_url


async def test_get_log_url_returns_the_location_without_following_it(
    fake: FakeGitHub, client: Client
) -> None:
    """The Location points at the blob origin; nothing is downloaded; resolved_at is aware."""
    job_id = fake.add_run(jobs=1).job_ids[0]
    before = datetime.now(UTC)
    location = await client.get_log_url(OWNER, REPO, job_id)
    assert location.url.startswith(fake.blob_url + "/actions-results/")
    assert "sig=" in location.url
    assert not location.inline
    assert location.resolved_at.tzinfo is not None
    assert before.timestamp() - 1 <= location.resolved_at.timestamp() <= time.time() + 1
    assert fake.stats.blob_requests == 0
    assert location.origin == fake.blob_url


async def test_log_location_repr_hides_the_signed_url(fake: FakeGitHub, client: Client) -> None:
    """repr() and str() show the origin, never the path or the signature."""
    job_id = fake.add_run(jobs=1).job_ids[0]
    location = await client.get_log_url(OWNER, REPO, job_id)
    path_and_query = location.url[len(fake.blob_url) :]
    for text in (repr(location), str(location), f"{location!r}"):
        assert fake.blob_url in text
        assert path_and_query not in text
        assert "sig=" not in text
        assert "actions-results" not in text


@pytest.mark.parametrize(
    ("state", "error"), [("not_available", LogsNotAvailableError), ("gone", LogsGoneError)]
)
async def test_get_log_url_maps_404_and_410(
    fake: FakeGitHub, client: Client, state: Any, error: type[Exception]
) -> None:
    """404 raises LogsNotAvailableError and 410 LogsGoneError, with the status on them."""
    job_id = fake.add_run(jobs=1).job_ids[0]
    fake.set_log_state(job_id, state)
    with pytest.raises(error) as caught:
        await client.get_log_url(OWNER, REPO, job_id)
    assert getattr(caught.value, "status", None) == (404 if state == "not_available" else 410)


async def test_get_log_url_handles_same_origin_and_inline() -> None:
    """A same-origin redirect gives a URL on the API host; a 200 with the log gives inline."""
    async with serve(FakeConfig(logs_mode="same_origin")) as (fake, client):
        job_id = fake.add_run(jobs=1).job_ids[0]
        location = await client.get_log_url(OWNER, REPO, job_id)
        assert location.url.startswith(fake.api_url + "/actions-results/")
        assert not location.inline
    async with serve(FakeConfig(logs_mode="inline")) as (fake, client):
        job_id = fake.add_run(jobs=1).job_ids[0]
        location = await client.get_log_url(OWNER, REPO, job_id)
        assert location.inline
        assert location.url == f"{fake.api_url}/repos/{OWNER}/{REPO}/actions/jobs/{job_id}/logs"


# --------------------------------------------------------------------------- download_log


async def test_download_log_to_a_file_path_creates_parents(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """The log lands at the given path, folders created, bytes and SHA-256 the fake's."""
    job_id = fake.add_run(jobs=1, log_size=300_000).job_ids[0]
    dest = tmp_path / "a" / "b" / "c" / "job.txt"
    result = await client.download_log(OWNER, REPO, job_id, str(dest))
    assert result.status is DOWNLOADED
    assert result.path == dest
    assert result.attempts == 1
    assert dest.read_bytes() == fake.log_bytes(job_id)
    assert dest.read_bytes().startswith(BOM)
    assert result.sha256 == file_sha256(dest) == fake.log_sha256(job_id)
    assert [p.name for p in dest.parent.iterdir()] == ["job.txt"]
    assert_no_token_left_loopback(fake)


async def test_download_log_into_a_directory(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """An existing directory (or a path ending in a slash) receives ``{job_id}.log``."""
    first, second = fake.add_run(jobs=2, log_size=5000).job_ids
    result = await client.download_log(OWNER, REPO, first, tmp_path)
    assert result.path == tmp_path / f"{first}.log"
    result = await client.download_log(OWNER, REPO, second, f"{tmp_path}/new/")
    assert result.path == tmp_path / "new" / f"{second}.log"
    for job_id, path in ((first, tmp_path / f"{first}.log"), (second, result.path)):
        assert file_sha256(path) == fake.log_sha256(job_id)


@pytest.mark.parametrize("mode", ["redirect", "same_origin", "inline"])
async def test_download_log_in_every_logs_mode(mode: Any, tmp_path: Path) -> None:
    """Redirect to another host, to the API host, or the body inline: same file, no token."""
    async with serve(FakeConfig(logs_mode=mode)) as (fake, client):
        job_id = fake.add_run(jobs=1, log_size=150_000).job_ids[0]
        result = await client.download_log(OWNER, REPO, job_id, tmp_path / "x.log")
        assert file_sha256(tmp_path / "x.log") == fake.log_sha256(job_id) == result.sha256
        assert fake.stats.log_downloads[job_id] == 1
        assert_no_token_left_loopback(fake)


@pytest.mark.parametrize(
    ("state", "error"), [("not_available", LogsNotAvailableError), ("gone", LogsGoneError)]
)
async def test_download_log_raises_for_missing_logs(
    fake: FakeGitHub, client: Client, tmp_path: Path, state: Any, error: type[Exception]
) -> None:
    """A job without logs raises and leaves nothing on disk."""
    job_id = fake.add_run(jobs=1).job_ids[0]
    fake.set_log_state(job_id, state)
    with pytest.raises(error):
        await client.download_log(OWNER, REPO, job_id, tmp_path / "x.log")
    assert list(tmp_path.rglob("*")) == []
    assert fake.stats.blob_requests == 0


async def test_expired_location_is_resolved_again(tmp_path: Path) -> None:
    """A Location that expired before its download is refused (403), resolved anew, and used."""
    delayed: list[str] = []

    async def hold_first_blob_request(
        _session: aiohttp.ClientSession, _ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        if params.url.path.startswith("/actions-results/") and not delayed:
            delayed.append(params.url.path)
            await asyncio.sleep(2.1)  # the URL lives 1-2 s (its expiry is rounded up)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(hold_first_blob_request)
    async with (
        FakeGitHub(FakeConfig(log_url_ttl=1.0)) as fake,
        aiohttp.ClientSession(trace_configs=[trace]) as http,
        Client(fake.token, base_url=fake.api_url, session=http, sleep=quick_sleep) as client,
    ):
        job_id = fake.add_run(jobs=1, log_size=100_000).job_ids[0]
        result = await client.download_log(OWNER, REPO, job_id, tmp_path / "x.log")
    assert delayed
    assert result.attempts == 2
    assert blob_statuses(fake) == [403, 200]
    assert logs_requests(fake, job_id) == [302, 302]
    assert file_sha256(tmp_path / "x.log") == fake.log_sha256(job_id)
    assert_no_token_left_loopback(fake)


async def test_always_expired_location_fails_after_max_attempts(tmp_path: Path) -> None:
    """Each attempt resolves a fresh Location; when all are refused the error says expired."""
    async with serve(FakeConfig(log_url_ttl=-10)) as (fake, client):
        job_id = fake.add_run(jobs=1).job_ids[0]
        with pytest.raises(LogUrlExpiredError) as caught:
            await client.download_log(OWNER, REPO, job_id, tmp_path / "x.log", max_attempts=3)
    assert logs_requests(fake, job_id) == [302, 302, 302]
    assert blob_statuses(fake) == [403, 403, 403]
    assert caught.value.origin == fake.blob_url
    assert "sig=" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- download_logs


async def test_download_logs_many_jobs(tmp_path: Path) -> None:
    """150 logs of mixed sizes: one result per job, every file the fake's bytes, no token."""
    async with serve() as (fake, client):
        sizes = [0, 1, 3, 4096, 65_536, 65_537, 200_000]
        run = fake.add_run(jobs=150, log_size=sizes)
        results = await collect(client.download_logs(OWNER, REPO, run.job_ids, tmp_path))
    assert sorted(r.job_id for r in results) == sorted(run.job_ids)
    assert {r.status for r in results} == {DOWNLOADED}
    assert_logs_match(fake, results)
    assert {r.path for r in results} == {tmp_path / f"{i}.log" for i in run.job_ids}
    assert all(count == 1 for count in fake.stats.log_downloads.values())
    assert_no_token_left_loopback(fake)
    assert leftovers(tmp_path) == []
    real_sized = [r for r in results if (r.size or 0) >= 4096]  # the fake trims tiny logs
    assert all(r.path is not None and r.path.read_bytes()[:3] == BOM for r in real_sized)


async def test_duplicate_jobs_give_one_result_each(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """A job listed twice is downloaded once; jobs named alike get distinct files."""
    run = fake.add_run(jobs=4, names=["same"], log_size=1000)
    ids = run.job_ids
    jobs = [await client.get_job(OWNER, REPO, job_id) for job_id in ids]
    batch = client.download_logs(
        OWNER, REPO, [*jobs, jobs[0], *jobs], tmp_path, naming="{name}.log"
    )
    results = await collect(batch)
    assert sorted(r.job_id for r in results) == sorted(ids)
    assert len({r.path for r in results}) == 4
    assert_logs_match(fake, results)


@pytest.mark.parametrize("kind", ["reset", "truncate"])
async def test_broken_bodies_are_retried_without_leftovers(kind: Any, tmp_path: Path) -> None:
    """A body cut mid-way (reset or clean close) is fetched again; no partial file remains."""
    async with serve(FakeConfig(chunk_size=8192)) as (fake, client):
        run = fake.add_run(jobs=8, log_size=300_000)
        victim = run.job_ids[3]
        fake.inject(Fault("blob", kind, job_id=victim, times=2))
        results = await collect(client.download_logs(OWNER, REPO, run.job_ids, tmp_path))
    by_id = {r.job_id: r for r in results}
    assert fake.stats.faults_injected[kind] == 2
    assert by_id[victim].status is DOWNLOADED
    assert by_id[victim].attempts == 3
    assert len(logs_requests(fake, victim)) == 3  # a fresh Location for every attempt
    assert {r.status for r in results} == {DOWNLOADED}
    assert fake.stats.log_downloads[victim] == 1
    assert_logs_match(fake, results)
    assert leftovers(tmp_path) == []


async def test_truncated_single_download_is_retried(tmp_path: Path) -> None:
    """download_log retries a truncated body too, and the file is complete."""
    async with serve() as (fake, client):
        job_id = fake.add_run(jobs=1, log_size=200_000).job_ids[0]
        fake.inject(Fault("blob", "truncate", job_id=job_id, partial_bytes=1000))
        result = await client.download_log(OWNER, REPO, job_id, tmp_path / "x.log")
    assert result.attempts == 2
    assert file_sha256(tmp_path / "x.log") == fake.log_sha256(job_id)
    assert [p.name for p in tmp_path.iterdir()] == ["x.log"]


async def test_stalled_and_refused_blobs_are_retried(tmp_path: Path) -> None:
    """A blob host that stalls past the read timeout or answers 503 is retried."""
    async with serve(read_timeout=0.3) as (fake, client):
        run = fake.add_run(jobs=4, log_size=100_000)
        stalled, busy = run.job_ids[0], run.job_ids[1]
        fake.inject(
            Fault("blob", "stall", job_id=stalled, stall_seconds=3, partial_bytes=10_000),
            Fault("blob", "status", status=503, job_id=busy, times=2),
        )
        results = await collect(client.download_logs(OWNER, REPO, run.job_ids, tmp_path))
    by_id = {r.job_id: r for r in results}
    assert by_id[stalled].attempts == 2
    assert by_id[busy].attempts == 3
    assert {r.status for r in results} == {DOWNLOADED}
    assert_logs_match(fake, results)
    assert leftovers(tmp_path) == []


async def test_missing_logs_are_per_job_outcomes(tmp_path: Path) -> None:
    """404, 410 and a persistently failing blob are reported per job; the rest complete."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=30, log_size=20_000)
        ids = run.job_ids
        missing, gone, broken = set(ids[0:3]), set(ids[10:12]), ids[20]
        for job_id in missing:
            fake.set_log_state(job_id, "not_available")
        for job_id in gone:
            fake.set_log_state(job_id, "gone")
        fake.inject(Fault("blob", "status", status=500, job_id=broken, times=100))
        results = await collect(client.download_logs(OWNER, REPO, ids, tmp_path, max_attempts=3))
    by_id = {r.job_id: r for r in results}
    assert len(results) == len(by_id) == 30
    for job_id, result in by_id.items():
        if job_id in missing:
            assert result.status is LogStatus.NOT_AVAILABLE
            assert isinstance(result.error, LogsNotAvailableError)
        elif job_id in gone:
            assert result.status is LogStatus.GONE
            assert isinstance(result.error, LogsGoneError)
        elif job_id == broken:
            assert result.status is LogStatus.FAILED
            assert isinstance(result.error, LogDownloadError)
            assert result.error.status == 500
            assert len(logs_requests(fake, broken)) == 3
        else:
            assert result.status is DOWNLOADED
        if not result.ok:
            assert result.path is None
            assert not (tmp_path / f"{job_id}.log").exists()
    assert_logs_match(fake, results)
    assert leftovers(tmp_path) == []


async def test_second_run_downloads_nothing_and_repairs_damage(tmp_path: Path) -> None:
    """A re-run skips intact logs without any request; changed, cut or lost files come back."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=40, log_size=[10_000, 70_000])
        ids = run.job_ids
        first = await collect(client.download_logs(OWNER, REPO, ids, tmp_path))
        assert {r.status for r in first} == {DOWNLOADED}
        before = fake.stats.snapshot()

        second = await collect(client.download_logs(OWNER, REPO, ids, tmp_path))
        assert {r.status for r in second} == {SKIPPED}
        assert len(second) == 40
        assert fake.stats.requests == before.requests  # not even a Location was resolved
        assert fake.stats.log_downloads == before.log_downloads
        assert_logs_match(fake, second)

        tampered, cut, lost = ids[5], ids[6], ids[7]
        data = bytearray((tmp_path / f"{tampered}.log").read_bytes())
        data[len(data) // 2] ^= 0x01  # same size, one bit changed
        (tmp_path / f"{tampered}.log").write_bytes(bytes(data))
        with (tmp_path / f"{cut}.log").open("r+b") as handle:
            handle.truncate(100)
        (tmp_path / f"{lost}.log").unlink()
        # what a killed harvest leaves behind: a temporary file holding the right bytes
        stale = tmp_path / f".{lost}.log.0123abcd{PART_SUFFIX}"
        stale.write_bytes(fake.log_bytes(lost))

        third = await collect(client.download_logs(OWNER, REPO, ids, tmp_path))
    statuses = {r.job_id: r.status for r in third}
    assert {j for j, s in statuses.items() if s is DOWNLOADED} == {tampered, cut, lost}
    assert Counter(statuses.values())[SKIPPED] == 37
    assert fake.stats.log_downloads[tampered] == 2
    assert_logs_match(fake, third)
    assert not stale.exists()
    assert leftovers(tmp_path) == []


async def test_file_without_manifest_entry_is_not_trusted(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """A file already at the target, but unknown to the manifest, is downloaded again."""
    job_id = fake.add_run(jobs=1, log_size=5000).job_ids[0]
    (tmp_path / f"{job_id}.log").write_bytes(fake.log_bytes(job_id))
    (result,) = await collect(client.download_logs(OWNER, REPO, [job_id], tmp_path))
    assert result.status is DOWNLOADED
    assert fake.stats.log_downloads[job_id] == 1


async def test_cancelling_a_harvest_leaves_only_complete_files(tmp_path: Path) -> None:
    """Cancelled mid-body, a harvest leaves complete, correct logs and no temporary file."""
    async with serve(FakeConfig(chunk_size=16 * 1024)) as (fake, client):
        run = fake.add_run(jobs=40, log_size=1_000_000)
        finished: set[int] = set()
        mid_body = asyncio.Event()

        def progress(event: LogEvent) -> None:
            if event.kind == "finished":
                finished.add(event.job_id)
            elif event.kind == "bytes" and len(finished) >= 6 and event.job_id not in finished:
                mid_body.set()  # some logs complete, another one half-way

        task = asyncio.create_task(
            client.harvest(OWNER, REPO, run.run_id, tmp_path, concurrency=8, progress=progress)
        )
        await asyncio.wait_for(mid_body.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        logs = sorted(tmp_path.glob("*.log"))
        assert 6 <= len(logs) < 40
        for path in logs:
            assert file_sha256(path) == fake.log_sha256(int(path.stem))
        assert leftovers(tmp_path) == []

        summary = await client.harvest(OWNER, REPO, run.run_id, tmp_path)
    assert summary.counts[SKIPPED] == len(logs)
    assert summary.counts[DOWNLOADED] == 40 - len(logs)
    assert all(file_sha256(tmp_path / f"{i}.log") == fake.log_sha256(i) for i in run.job_ids)


async def test_cancelling_the_consumer_stops_the_workers(tmp_path: Path) -> None:
    """When the task iterating a batch is cancelled, no download goes on in the background."""
    async with serve(FakeConfig(chunk_size=16 * 1024, blob_latency=0.02)) as (fake, client):
        run = fake.add_run(jobs=40, log_size=500_000)
        batch = client.download_logs(OWNER, REPO, run.job_ids, tmp_path, concurrency=6)
        got: list[LogResult] = []
        five = asyncio.Event()

        async def consume() -> None:
            async for result in batch:
                got.append(result)
                if len(got) == 5:
                    five.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(five.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        requests = fake.stats.requests
        await asyncio.sleep(0.3)
        assert fake.stats.requests == requests
        assert fake.stats.blob_in_flight == 0
    assert len(list(tmp_path.glob("*.log"))) < 40
    assert leftovers(tmp_path) == []
    for path in tmp_path.glob("*.log"):
        assert file_sha256(path) == fake.log_sha256(int(path.stem))


async def test_cancel_while_a_slow_disk_creates_the_file_leaves_nothing(
    fake: FakeGitHub, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while a thread still creates the temporary file, nothing is left behind."""
    creating, created = threading.Event(), threading.Event()
    create = PartFile.open

    def slow_open(self: PartFile) -> None:
        creating.set()
        time.sleep(1.0)  # a slow disk: the cancellation arrives meanwhile
        try:
            create(self)
        finally:
            created.set()

    monkeypatch.setattr(PartFile, "open", slow_open)
    job_id = fake.add_run(jobs=1, log_size=5_000_000).job_ids[0]  # several batches
    task = asyncio.create_task(client.download_log(OWNER, REPO, job_id, tmp_path / "x.log"))
    while not creating.is_set():
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.3)  # the next batch has arrived: the download waits for the disk
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(created.wait, 5)  # the thread is done with the file
    await asyncio.sleep(0.1)  # and has written its batch
    assert list(tmp_path.iterdir()) == []


async def test_a_second_harvest_into_the_same_directory_is_refused(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """Two batches writing one directory at once: the second raises InvalidArgumentError."""
    ids = fake.add_run(jobs=3).job_ids
    # the last log stalls, so the first batch is surely still running (and locking)
    fake.inject(Fault(target="blob", kind="stall", job_id=ids[-1], stall_seconds=10))
    async with client.download_logs(OWNER, REPO, ids, tmp_path) as first:
        await anext(first)
        with pytest.raises(InvalidArgumentError, match="another harvest"):
            await collect(client.download_logs(OWNER, REPO, ids, tmp_path))


# --------------------------------------------------------------------------- names


async def test_hostile_job_names_land_inside_dest_dir(tmp_path: Path) -> None:
    """Names with ``..``, slashes, NUL, controls or the manifest's name stay inside dest_dir."""
    names = [
        "../../etc/passwd",
        "a/b\x00c",
        "..",
        "/abs/path",
        MANIFEST_NAME,
        "x.log" + PART_SUFFIX,
        "bidi\u202etxt.exe",
        "lone\ud800surrogate",
        "n" * 400,
    ]
    dest = tmp_path / "out"
    async with serve() as (fake, client):
        run = fake.add_run(jobs=len(names), names=names, log_size=2000)
        for _ in range(2):  # the second run finds every file intact, the manifest unharmed
            summary = await client.harvest(
                OWNER, REPO, run.run_id, dest, naming="{run_id}/{job_id}-{name}.log"
            )
            assert summary.ok
        assert summary.counts[SKIPPED] == len(names)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    files = [p for p in dest.rglob("*") if p.is_file() and p.name not in {MANIFEST_NAME, LOCK_NAME}]
    assert len(files) == len(names)
    for path in files:
        assert path.resolve().is_relative_to(dest.resolve())
        assert path.parent == dest / str(run.run_id)
        assert not path.name.startswith(".")
        job_id = int(path.name.split("-", 1)[0])
        assert file_sha256(path) == fake.log_sha256(job_id)


async def test_callable_naming_cannot_escape(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """A naming callable returning ``../..`` paths still writes inside dest_dir."""
    ids = fake.add_run(jobs=2, log_size=100).job_ids
    dest = tmp_path / "out"
    batch = client.download_logs(OWNER, REPO, ids, dest, naming=lambda job: f"../../{job}.log")
    results = await collect(batch)
    assert {r.status for r in results} == {DOWNLOADED}
    assert all(r.path and r.path.resolve().is_relative_to(dest.resolve()) for r in results)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


async def test_naming_that_needs_a_job_is_rejected_before_any_request(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """Job fields in ``naming`` with bare ids raise InvalidArgumentError, with zero requests."""
    ids = fake.add_run(jobs=3).job_ids
    naming = "{run_id}/{job_id}-{name}.log"
    with pytest.raises(InvalidArgumentError, match="need Job objects"):
        client.download_logs(OWNER, REPO, ids, tmp_path, naming=naming)
    with pytest.raises(InvalidArgumentError, match="unknown field"):
        client.download_logs(OWNER, REPO, ids, tmp_path, naming="{nope}.log")

    async def ids_later() -> AsyncIterator[int]:
        for job_id in ids:
            yield job_id

    with pytest.raises(InvalidArgumentError, match="need Job objects"):
        await collect(client.download_logs(OWNER, REPO, ids_later(), tmp_path, naming=naming))
    assert fake.stats.requests == 0


async def test_symlinks_leading_out_of_dest_dir_are_not_followed(tmp_path: Path) -> None:
    """A folder or file symlink pointing outside fails that job only; outside stays untouched."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    precious = outside / "precious.txt"
    precious.write_bytes(b"keep me")
    async with serve() as (fake, client):
        run = fake.add_run(jobs=3, log_size=1000)
        ids = run.job_ids
        (dest / f"{ids[0]}.log").symlink_to(precious)
        results = await collect(client.download_logs(OWNER, REPO, ids, dest))
        by_id = {r.job_id: r for r in results}
        assert by_id[ids[0]].status is LogStatus.FAILED
        assert isinstance(by_id[ids[0]].error, InvalidArgumentError)
        assert {by_id[i].status for i in ids[1:]} == {DOWNLOADED}

        (dest / str(run.run_id)).symlink_to(outside, target_is_directory=True)
        summary = await client.harvest(
            OWNER, REPO, run.run_id, dest, naming="{run_id}/{job_id}.log"
        )
    assert summary.counts[LogStatus.FAILED] == 3
    assert precious.read_bytes() == b"keep me"
    assert [p.name for p in outside.iterdir()] == ["precious.txt"]
    assert (dest / f"{ids[0]}.log").is_symlink()


async def test_a_folder_swapped_for_a_symlink_after_the_check_is_not_followed(
    tmp_path: Path,
) -> None:
    """A run folder replaced by a symlink once its jobs are queued: nothing lands outside."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    async with serve() as (fake, client):
        run = fake.add_run(jobs=3, log_size=1000)
        jobs = await client.list_jobs(OWNER, REPO, run.run_id).collect()
        link = dest / str(run.run_id)

        def swap(event: LogEvent) -> None:
            if event.kind == "started" and not link.is_symlink():
                link.symlink_to(outside, target_is_directory=True)

        batch = client.download_logs(
            OWNER, REPO, jobs, dest, naming="{run_id}/{job_id}.log", progress=swap
        )
        results = await collect(batch)
    assert link.is_symlink()
    assert {r.status for r in results} == {LogStatus.FAILED}
    assert all(isinstance(r.error, InvalidArgumentError) for r in results)
    assert list(outside.iterdir()) == []


# --------------------------------------------------------------------------- pipelines


async def test_list_jobs_stream_feeds_download_logs(tmp_path: Path) -> None:
    """A list_jobs iterator (three pages) is consumed directly, Job fields in the names."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=250, log_size=2000)
        stream = client.list_jobs(OWNER, REPO, run.run_id)
        batch = client.download_logs(
            OWNER, REPO, stream, tmp_path, naming="{run_id}/{job_id}-{name}.log"
        )
        results = await collect(batch)
    assert sorted(r.job_id for r in results) == sorted(run.job_ids)
    assert {r.status for r in results} == {DOWNLOADED}
    names = {int(j["id"]): j["name"] for j in run.latest}
    for result in results:
        assert result.path is not None
        assert result.path.parent == tmp_path / str(run.run_id)
        assert result.path.name.startswith(f"{result.job_id}-")
        assert names[result.job_id].split(" ")[0] in result.path.name
    assert_logs_match(fake, results)


async def test_sync_generator_of_ids_is_accepted(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """Any iterable of ids works, a one-shot generator included."""
    ids = fake.add_run(jobs=5, log_size=100).job_ids

    def generate() -> Iterator[int]:
        yield from ids

    results = await collect(client.download_logs(OWNER, REPO, generate(), tmp_path))
    assert sorted(r.job_id for r in results) == sorted(ids)


async def test_harvest_summary_counts_bytes_and_failures(tmp_path: Path) -> None:
    """harvest() lists and downloads; counts, bytes and failures agree with the fake."""
    async with serve() as (fake, client):
        run = fake.add_run(
            jobs=60,
            log_size=[1000, 25_000, 70_000],
            conclusions=["success", "failure", "timed_out", "cancelled", "success"],
        )
        jobs = {int(j["id"]): j for j in run.latest}
        successes = [i for i, j in jobs.items() if j["conclusion"] == "success"]
        gone, broken = successes[0], successes[1]
        fake.set_log_state(gone, "gone")
        fake.inject(Fault("blob", "status", status=500, job_id=broken, times=100))
        summary = await client.harvest(OWNER, REPO, run.run_id, tmp_path / "all", max_attempts=2)

        cancelled = {i for i, j in jobs.items() if j["conclusion"] == "cancelled"}
        downloaded = set(jobs) - cancelled - {gone, broken}
        assert summary.counts == {
            DOWNLOADED: len(downloaded),
            SKIPPED: 0,
            LogStatus.NOT_AVAILABLE: len(cancelled),
            LogStatus.GONE: 1,
            LogStatus.FAILED: 1,
        }
        assert summary.total == 60
        assert summary.bytes == sum(fake.log_size(i) for i in downloaded)
        assert [r.job_id for r in summary.failures] == [broken]
        assert not summary.ok
        assert summary.elapsed > 0

        only = await client.harvest(OWNER, REPO, run.run_id, tmp_path / "failed", only_failed=True)
        failed = {i for i, j in jobs.items() if j["conclusion"] in {"failure", "timed_out"}}
        assert only.counts[DOWNLOADED] == len(failed)
        assert only.total == len(failed)
        assert {int(p.stem) for p in (tmp_path / "failed").glob("*.log")} == failed
        assert only.ok


async def test_harvest_filter_and_attempt(tmp_path: Path) -> None:
    """filter="all" harvests every attempt's jobs; attempt=1 only the first attempt's."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=5, attempts=2, log_size=100)
        every = await client.harvest(OWNER, REPO, run.run_id, tmp_path / "a", filter="all")
        first = await client.harvest(OWNER, REPO, run.run_id, tmp_path / "b", attempt=1)
    assert every.counts[DOWNLOADED] == 10
    assert {int(p.stem) for p in (tmp_path / "b").glob("*.log")} == {
        int(j["id"]) for j in run.attempts[0]
    }
    assert first.counts[DOWNLOADED] == 5


async def test_progress_events_are_consistent(tmp_path: Path) -> None:
    """Each job: queued, started, bytes, finished in order; bytes add up to the sizes.

    A broken attempt that is resumed keeps its bytes (the retry continues after them),
    so a progress bar never counts a log twice.
    """
    events: list[LogEvent] = []
    async with serve(FakeConfig(chunk_size=4096), read_timeout=0.3) as (fake, client):
        big = 3 * CHUNK_SIZE  # one batch is reported before the stall, half another is not
        run = fake.add_run(jobs=12, log_size=[0, 50_000, 120_000, 0, 50_000, big])
        ids = run.job_ids
        fake.set_log_state(ids[0], "not_available")
        fake.inject(
            Fault("blob", "truncate", job_id=ids[4]),
            # sends 1.5 batches, then nothing: they arrive (reported), then the read times out
            Fault(
                "blob",
                "stall",
                job_id=ids[5],
                partial_bytes=CHUNK_SIZE + CHUNK_SIZE // 2,
                stall_seconds=2,
            ),
        )
        results = await collect(
            client.download_logs(OWNER, REPO, ids, tmp_path, progress=events.append)
        )
        again: list[LogEvent] = []
        await collect(client.download_logs(OWNER, REPO, ids, tmp_path, progress=again.append))
    by_job: dict[int, list[LogEvent]] = defaultdict(list)
    for event in events:
        by_job[event.job_id].append(event)
    final = {r.job_id: r for r in results}
    assert set(by_job) == set(ids)
    for job_id, seq in by_job.items():
        kinds = [e.kind for e in seq]
        assert kinds[:2] == ["queued", "started"]
        assert kinds[-1] == "finished"
        assert Counter(kinds)["finished"] == 1
        assert seq[-1].result is final[job_id]
        assert set(kinds[2:-1]) <= {"bytes", "retry"}
        assert sum(e.nbytes for e in seq) == (final[job_id].size or 0)
    assert "retry" in [e.kind for e in by_job[ids[4]]]
    assert "retry" in [e.kind for e in by_job[ids[5]]]
    assert [e.nbytes for e in by_job[ids[5]] if e.nbytes < 0] == []  # resumed, not restarted
    total = sum(e.nbytes for e in events if e.kind == "bytes")
    assert total == sum(r.size or 0 for r in results if r.status is DOWNLOADED)
    # the re-run: intact logs are queued and finished without a start; the 404 is tried again
    assert {e.job_id for e in again if e.kind == "started"} == {ids[0]}
    assert {e.kind for e in again if e.job_id != ids[0]} == {"queued", "finished"}
    assert sum(e.kind == "finished" for e in again) == 12


async def test_unauthorized_ends_the_batch(tmp_path: Path) -> None:
    """A 401 stops the whole batch with UnauthorizedError, without partial files."""
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=50, log_size=1000)
        async with Client("ghp_not_the_right_one", base_url=fake.api_url) as client:
            batch = client.download_logs(OWNER, REPO, run.job_ids, tmp_path, concurrency=5)
            with pytest.raises(UnauthorizedError):
                await collect(batch)
            with pytest.raises(UnauthorizedError):
                await client.harvest(OWNER, REPO, run.run_id, tmp_path)
    assert fake.stats.api_requests <= 6
    assert fake.stats.blob_requests == 0
    assert list(tmp_path.glob("*.log")) == []
    assert leftovers(tmp_path) == []


async def test_api_requests_respect_max_concurrency_while_downloads_exceed_it(
    tmp_path: Path,
) -> None:
    """Location requests stay within max_concurrency; blob downloads use ``concurrency``."""
    config = FakeConfig(api_latency=0.05, blob_latency=0.3, max_in_flight=4)
    async with serve(config, max_concurrency=4) as (fake, client):
        run = fake.add_run(jobs=40, log_size=1000)
        batch = client.download_logs(OWNER, REPO, run.job_ids, tmp_path, concurrency=16)
        results = await collect(batch)
    assert {r.status for r in results} == {DOWNLOADED}
    assert fake.stats.peak_api_in_flight <= 4
    assert fake.stats.secondary_violations == 0
    assert 4 < fake.stats.peak_blob_in_flight <= 16


async def test_no_signed_url_or_token_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Debug logging, retries and errors never show a signature or the token."""
    caplog.set_level(logging.DEBUG, logger="gh_jobs_async")
    async with serve(FakeConfig(log_url_ttl=-1)) as (fake, client):
        run = fake.add_run(jobs=3, log_size=1000)
        results = await collect(
            client.download_logs(OWNER, REPO, run.job_ids, tmp_path, max_attempts=2)
        )
    assert {r.status for r in results} == {LogStatus.FAILED}
    texts = [record.getMessage() for record in caplog.records]
    texts += [f"{r.error} {r.error!r}" for r in results]
    assert any("retrying" in text for text in texts)
    for text in texts:
        assert "sig=" not in text
        assert "se=" not in text
        assert fake.token not in text


# --------------------------------------------------------------------------- memory

# The fake runs in a child process here, so that the traced memory is the client's alone
# (the fake keeps generated log blocks around, which says nothing about the client).
_SERVE_ONE_LOG = """
import asyncio, json, sys
from gh_jobs_async.testing import FakeGitHub

async def main():
    async with FakeGitHub() as fake:
        job_id = fake.add_run(jobs=1, log_size=int(sys.argv[1])).job_ids[0]
        info = {"url": fake.api_url, "token": fake.token, "job_id": job_id,
                "sha256": fake.log_sha256(job_id)}
        print(json.dumps(info), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def fake_in_child(log_size: int) -> AsyncIterator[dict[str, Any]]:
    """A fake GitHub with one log of ``log_size`` bytes, served by a child process."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SERVE_ONE_LOG,
        str(log_size),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        yield json.loads(line)
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 10)
        except TimeoutError:
            child.kill()
            await child.wait()


async def test_memory_does_not_grow_with_the_log(tmp_path: Path) -> None:
    """A 96 MiB log downloads with a traced peak far below its size (streamed, not held)."""
    size = 96 * 1024 * 1024
    async with (
        fake_in_child(size) as fake,
        Client(fake["token"], base_url=fake["url"]) as client,
    ):
        gc.collect()
        tracemalloc.start()
        try:
            result = await client.download_log(OWNER, REPO, fake["job_id"], tmp_path / "big.log")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.size == size
    assert result.sha256 == fake["sha256"] == file_sha256(tmp_path / "big.log")
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


async def test_jobs_that_never_ran_are_not_asked_for(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """A listing's skipped and cancelled-before-they-ran jobs: not_available at once, marked
    never_ran, no request for their logs; every other log downloaded."""
    run = fake.add_run(OWNER, REPO, jobs=8, conclusions=("success", "skipped", "cancelled"))
    jobs = fake.run(run.run_id).latest
    never = {int(j["id"]) for j in jobs if j["conclusion"] in ("skipped", "cancelled")}
    assert never
    async with client.download_logs(
        OWNER, REPO, client.list_jobs(OWNER, REPO, run.run_id), tmp_path
    ) as batch:
        results = {r.job_id: r async for r in batch}
    assert {j for j, r in results.items() if r.never_ran} == never
    assert all(results[j].status is LogStatus.NOT_AVAILABLE for j in never)
    assert all(results[j].status is LogStatus.DOWNLOADED for j in set(results) - never)
    assert not never & logs_asked_for(fake)
