"""Job logs: the 302 to a signed blob URL, the blob host's checks, log states, other modes."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

Call = Callable[..., Awaitable[Any]]  # the `call` fixture (see conftest.py)
REPO = "/repos/octo-org/hello-world/actions"
BOM = b"\xef\xbb\xbf"


async def _location(fake: FakeGitHub, call: Call, job_id: int) -> str:
    reply = await call(fake, f"{REPO}/jobs/{job_id}/logs")
    assert reply.status == 302, reply.body
    return str(reply.headers["Location"])


async def test_logs_redirect_to_a_signed_blob_url(fake: FakeGitHub, call: Call) -> None:
    """The logs endpoint answers 302 to an Azure-SAS-like URL on the blob origin."""
    run = fake.add_run(jobs=1)
    location = await _location(fake, call, run.job_ids[0])
    parts = urlsplit(location)
    assert location.startswith(f"{fake.blob_url}/actions-results/")
    assert parts.path.endswith("/logs/job/job-logs.txt")
    query = parse_qs(parts.query)
    assert set(query) == {"rsct", "se", "sig", "sp", "sv"}
    assert query["rsct"] == ["text/plain"]
    assert query["sv"] == ["2021-12-02"]


async def test_blob_body_matches_the_oracle(fake: FakeGitHub, call: Call) -> None:
    """Downloading the Location without credentials gives the log: BOM, size and sha256."""
    run = fake.add_run(jobs=2, log_size=300_000, conclusions=("failure",))
    job_id = run.job_ids[1]
    reply = await call(fake, await _location(fake, call, job_id), token=False)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/plain"  # no charset, as Azure answers
    assert int(reply.headers["Content-Length"]) == fake.log_size(job_id) == 300_000
    assert reply.body.startswith(BOM)
    assert hashlib.sha256(reply.body).hexdigest() == fake.log_sha256(job_id)
    assert reply.body == fake.log_bytes(job_id)
    assert fake.stats.log_downloads == {job_id: 1}
    assert fake.stats.blob_bytes_sent == 300_000
    assert fake.stats.blob_authorization_headers == fake.stats.blob_token_leaks == 0


async def test_aiohttp_redirect_to_blob_host_drops_the_token(fake: FakeGitHub, call: Call) -> None:
    """Following the 302 across hosts with aiohttp reaches the log with no token leak."""
    run = fake.add_run(jobs=1)
    reply = await call(fake, f"{REPO}/jobs/{run.job_ids[0]}/logs", allow_redirects=True)
    assert reply.status == 200
    assert fake.stats.blob_authorization_headers == fake.stats.non_api_token_leaks == 0


async def test_authorization_at_the_blob_host_is_refused(fake: FakeGitHub, call: Call) -> None:
    """Any Authorization header at the blob host is counted and refused with Azure's 403."""
    run = fake.add_run(jobs=1)
    location = await _location(fake, call, run.job_ids[0])
    reply = await call(fake, location)  # sends the Bearer token
    assert reply.status == 403
    assert reply.headers["Content-Type"].startswith("application/xml")
    assert b"<Code>AuthenticationFailed</Code>" in reply.body
    assert fake.stats.blob_authorization_headers == 1
    assert fake.stats.blob_token_leaks == fake.stats.non_api_token_leaks == 1
    assert fake.stats.requests_log[-1].had_authorization
    other = await call(fake, location, token=False, headers={"Authorization": "Basic x"})
    assert other.status == 403
    assert fake.stats.blob_authorization_headers == 2
    assert fake.stats.blob_token_leaks == 1


async def test_token_in_a_blob_url_is_a_leak(fake: FakeGitHub, call: Call) -> None:
    """The token anywhere in a blob request's URL counts as a non-API token leak."""
    run = fake.add_run(jobs=1)
    location = await _location(fake, call, run.job_ids[0])
    await call(fake, f"{location}&access_token={fake.token}", token=False)
    assert fake.stats.non_api_token_leaks == 1
    assert fake.stats.blob_token_leaks == 0


async def test_expired_url_is_refused(call: Call) -> None:
    """A URL past its se expiry gets 403 AuthenticationFailed with Azure's detail."""
    async with FakeGitHub(log_url_ttl=-5) as fake:
        run = fake.add_run(jobs=1)
        reply = await call(fake, await _location(fake, call, run.job_ids[0]), token=False)
        assert reply.status == 403
        assert b"<AuthenticationErrorDetail>Signed expiry time [" in reply.body
        assert b"must be after signed start time" in reply.body
        assert fake.stats.log_downloads == {}


async def test_tampered_urls_are_refused(fake: FakeGitHub, call: Call) -> None:
    """A changed signature, or a signature moved to another blob, gets 403."""
    run = fake.add_run(jobs=2)
    first = await _location(fake, call, run.job_ids[0])
    second = await _location(fake, call, run.job_ids[1])
    forged = first.replace("sig=", "sig=x")
    moved = second.split("?")[0] + "?" + first.split("?")[1]
    for url in (forged, moved, first.split("?")[0]):
        reply = await call(fake, url, token=False)
        assert reply.status == 403, url
        assert b"AuthenticationFailed" in reply.body
    assert (await call(fake, f"{fake.blob_url}/elsewhere", token=False)).status == 404


async def test_log_states_and_unfinished_jobs(fake: FakeGitHub, call: Call) -> None:
    """not_available and unfinished or cancelled jobs give 404; gone gives GitHub's 410."""
    run = fake.add_run(
        jobs=4,
        statuses=("completed", "completed", "in_progress", "queued"),
        conclusions=("success", "cancelled"),
    )
    ok, cancelled, running, queued = run.job_ids
    for job_id in (cancelled, running, queued):
        assert (await call(fake, f"{REPO}/jobs/{job_id}/logs")).status == 404
    location = await _location(fake, call, ok)
    fake.set_log_state(ok, "gone")
    gone = await call(fake, f"{REPO}/jobs/{ok}/logs")
    assert gone.status == 410
    assert json.loads(gone.body) == {
        "message": "Server Error",
        "documentation_url": "https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run",
        "status": "410",
    }
    blob = await call(fake, location, token=False)
    assert blob.status == 404
    assert b"<Code>BlobNotFound</Code>" in blob.body
    fake.set_log_state(ok, "not_available")
    assert (await call(fake, f"{REPO}/jobs/{ok}/logs")).status == 404
    fake.set_log_state(ok, "ok")
    assert (await call(fake, f"{REPO}/jobs/{ok}/logs")).status == 302
    assert (await call(fake, f"{REPO}/jobs/999/logs")).status == 404


async def test_same_origin_mode(call: Call) -> None:
    """same_origin redirects to a signed path on the API host, where a kept token is refused."""
    async with FakeGitHub(logs_mode="same_origin") as fake:
        run = fake.add_run(jobs=1)
        job_id = run.job_ids[0]
        location = await _location(fake, call, job_id)
        assert location.startswith(f"{fake.api_url}/actions-results/")
        naive = await call(fake, f"{REPO}/jobs/{job_id}/logs", allow_redirects=True)
        assert naive.status == 403  # aiohttp keeps Authorization on a same-host redirect
        assert fake.stats.blob_authorization_headers == 1
        clean = await call(fake, location, token=False)
        assert hashlib.sha256(clean.body).hexdigest() == fake.log_sha256(job_id)
        assert fake.stats.api_requests == 2  # blob requests are not API calls


async def test_inline_mode(call: Call) -> None:
    """inline answers the logs endpoint with the body itself."""
    async with FakeGitHub(logs_mode="inline") as fake:
        run = fake.add_run(jobs=1, log_size=70_000)
        job_id = run.job_ids[0]
        reply = await call(fake, f"{REPO}/jobs/{job_id}/logs")
        assert reply.status == 200
        assert reply.headers["Content-Type"] == "text/plain"  # no charset, as Azure answers
        assert reply.body == fake.log_bytes(job_id)
        assert fake.stats.log_downloads == {job_id: 1}


async def test_range_requests(fake: FakeGitHub, session: aiohttp.ClientSession) -> None:
    """Single byte ranges get 206 with Content-Range; unsatisfiable ones get 416."""
    run = fake.add_run(jobs=1, log_size=10_000)
    job_id = run.job_ids[0]
    body = fake.log_bytes(job_id)
    url = fake.log_url(job_id)
    for value, start, end in (
        ("bytes=100-", 100, 10_000),
        ("bytes=5-9", 5, 10),
        ("bytes=-10", 9990, 10_000),
    ):
        async with session.get(url, headers={"Range": value}) as resp:
            assert resp.status == 206
            assert resp.headers["Content-Range"] == f"bytes {start}-{end - 1}/10000"
            assert await resp.read() == body[start:end]
    async with session.get(url, headers={"Range": "bytes=20000-"}) as resp:
        assert resp.status == 416
    assert fake.stats.log_downloads == {job_id: 2}  # ranges that reached the last byte


async def test_blob_host_falls_back_to_loopback(call: Call) -> None:
    """When blob_host cannot be bound, blobs are served from 127.0.0.1 on another port."""
    async with FakeGitHub(blob_host="192.0.2.1") as fake:
        assert fake.blob_url.startswith("http://127.0.0.1:")
        assert fake.blob_url != fake.api_url
        run = fake.add_run(jobs=1)
        location = await _location(fake, call, run.job_ids[0])
        assert location.startswith(fake.blob_url)
        assert (await call(fake, location, token=False)).status == 200


async def test_latencies_delay_answers(call: Call) -> None:
    """api_latency delays API answers and blob_latency delays blob headers."""
    async with FakeGitHub(api_latency=0.2, blob_latency=0.2) as fake:
        run = fake.add_run(jobs=1)
        started = time.monotonic()
        location = await _location(fake, call, run.job_ids[0])
        assert time.monotonic() - started >= 0.18
        started = time.monotonic()
        assert (await call(fake, location, token=False)).status == 200
        assert time.monotonic() - started >= 0.18
