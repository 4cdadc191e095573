"""Security: the token stays with the API origin, TLS is verified, files stay in dest_dir.

The token never appears in DEBUG logs, exception texts or reprs, nor in any request
to another origin than the configured API (blob hosts, foreign ``Link`` targets,
redirects); a redirect from https to http is refused; TLS is verified by default and
a custom CA bundle (GHES) works; harvested files follow the umask; nothing follows a
symlink out of ``dest_dir``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import stat
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from _support import LoopbackServer, quick_sleep
from _support import serve as shared_serve
from aiohttp import web

from gh_jobs_async import (
    Client,
    ClientClosedError,
    DecodeError,
    GhJobsError,
    IncompleteLogError,
    InvalidArgumentError,
    LogDownloadError,
    LogEvent,
    LogsGoneError,
    LogsNotAvailableError,
    LogStatus,
    LogUrlExpiredError,
    NotFoundError,
    PrimaryRateLimitError,
    RequestTimeoutError,
    SecondaryRateLimitError,
    ServerError,
    TransportError,
    UnauthorizedError,
    UnsafeURLError,
)
from gh_jobs_async._sansio import resolve_redirect
from gh_jobs_async.testing import FakeConfig, FakeGitHub, Fault

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
TOKEN = "ghp_SECURITYtest0123456789abcdefABCDEF"


@contextlib.asynccontextmanager
async def serve(
    config: FakeConfig | None = None, **options: Any
) -> AsyncIterator[tuple[FakeGitHub, Client]]:
    """A fake accepting TOKEN and a client for it (quick backoff unless ``sleep`` is given)."""
    async with shared_serve(config, token=TOKEN, **options) as served:
        yield served


def assert_no_leak_at_other_origins(fake: FakeGitHub) -> None:
    """The fake saw no token and no Authorization outside its API endpoints."""
    stats = fake.stats
    assert stats.blob_authorization_headers == 0
    assert stats.blob_token_leaks == 0
    assert stats.non_api_token_leaks == 0
    for record in stats.requests_log:
        if record.had_authorization:
            assert record.origin == "api"
            assert not record.path_qs.startswith("/actions-results/"), record


class Recorder(LoopbackServer):
    """A server standing for "somewhere else": records every request it gets.

    ``answer`` (a handler) decides the reply; by default 200 with a short log body.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(ssl_context)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.answer: Any = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        if self.answer is not None:
            response: web.StreamResponse = await self.answer(request)
            return response
        return web.Response(body=b"log line\n", content_type="text/plain")

    def saw_token(self) -> bool:
        """Whether any request carried Authorization or the token anywhere."""
        return any(
            "authorization" in {k.lower() for k in headers}
            or TOKEN in path
            or any(TOKEN in value for value in headers.values())
            for _, path, headers in self.requests
        )


def redirect_to(url: str, status: int = 302) -> Any:
    """A handler answering ``status`` with ``Location: url``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": url})

    return handle


# --------------------------------------------------------------------------- logs


async def test_debug_logs_of_a_full_flow_never_show_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """get_job, a 3-page listing, an error and a harvest with retries, logged at DEBUG by every
    logger (ours, aiohttp's, the fake's): no record shows the token or a log URL signature."""
    caplog.set_level(logging.DEBUG)
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=250, log_size=2000)
        ids = run.job_ids
        fake.inject(
            Fault("api", "status", status=502, times=2),
            Fault("logs", "status", status=503, times=2),
            Fault("blob", "status", status=503, times=2),
            Fault("blob", "reset", job_id=ids[3]),
            Fault("blob", "truncate", job_id=ids[4]),
        )
        await client.get_job(OWNER, REPO, ids[0])
        listed = await client.list_jobs(OWNER, REPO, run.run_id).collect()
        with pytest.raises(NotFoundError):
            await client.get_job(OWNER, REPO, 1)
        async with client.download_logs(OWNER, REPO, ids[:30], tmp_path) as batch:
            results = [result async for result in batch]
    assert len(listed) == 250
    assert {r.status for r in results} == {LogStatus.DOWNLOADED}
    assert_no_leak_at_other_origins(fake)
    ours = [r for r in caplog.records if r.name.startswith("gh_jobs_async")]
    assert any(r.levelno == logging.DEBUG for r in ours)  # the flow was really logged
    assert any("retrying" in r.getMessage() for r in ours)  # ... with retries
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        text = f"{formatter.format(record)} {record.args!r} {record.exc_text or ''}"
        assert TOKEN not in text, record.name
        assert "Bearer" not in text, record.name
        assert "sig=" not in text, record.name


# --------------------------------------------------------------------------- exceptions


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every cause or context behind it, suppressed ones too."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def assert_token_free(exc: BaseException) -> None:
    """No text reachable from the exception (message, repr, attributes, chain) has the token."""
    texts = ["".join(traceback.format_exception(exc))]
    for link in chain(exc):
        texts += [str(link), repr(link), repr(link.args)]
        texts += [repr(value) for value in vars(link).values()]
        request_info = getattr(link, "request_info", None)  # aiohttp keeps request headers
        if request_info is not None:
            texts.append(repr(request_info))
    for text in texts:
        assert TOKEN not in text, text
        assert "sig=" not in text, text


async def raised(call: Any) -> BaseException:
    """The exception ``call`` raises (it must raise one of ours)."""
    try:
        await call
    except GhJobsError as exc:
        return exc
    raise AssertionError("no exception")


async def test_exceptions_never_hold_the_token(tmp_path: Path) -> None:
    """Every kind of error from a real exchange: text, repr, attributes and chain are clean."""
    errors: list[BaseException] = []
    async with serve(
        FakeConfig(link_origin="http://127.0.0.1:9"),
        max_retries=1,
        max_secondary_retries=0,
        max_rate_limit_wait=1,
        read_timeout=0.3,
    ) as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=250, log_size=2000)
        ids = run.job_ids
        fake.set_log_state(ids[1], "not_available")
        fake.set_log_state(ids[2], "gone")
        fake.update_job(ids[3], started_at="not a time")
        errors.append(await raised(client.get_job(OWNER, REPO, 1)))
        errors.append(await raised(client.get_log_url(OWNER, REPO, ids[1])))
        errors.append(await raised(client.get_log_url(OWNER, REPO, ids[2])))
        errors.append(await raised(client.get_job(OWNER, REPO, ids[3])))
        other_run = fake.add_run(OWNER, REPO, jobs=250).run_id  # its Link leads elsewhere
        errors.append(await raised(client.list_jobs(OWNER, REPO, other_run).collect()))
        for fault, call in [
            (Fault("api", "status", status=502, times=9), client.get_job(OWNER, REPO, ids[0])),
            (Fault("api", "reset", times=9), client.get_job(OWNER, REPO, ids[0])),
            (Fault("api", "stall", times=9, stall_seconds=3), client.get_job(OWNER, REPO, ids[0])),
            (Fault("api", "secondary", retry_after=0), client.get_job(OWNER, REPO, ids[0])),
            (
                Fault("blob", "status", status=503),
                client.download_log(OWNER, REPO, ids[5], tmp_path, max_attempts=1),
            ),
            (
                Fault("blob", "truncate"),
                client.download_log(OWNER, REPO, ids[5], tmp_path, max_attempts=1),
            ),
        ]:
            fake.inject(fault)
            errors.append(await raised(call))
            fake.clear_faults()
        fake.exhaust_primary(reset_in=3600)
        errors.append(await raised(client.get_job(OWNER, REPO, ids[0])))
    async with serve(FakeConfig(log_url_ttl=-1)) as (fake, client):
        job_id = fake.add_run(OWNER, REPO, jobs=1).job_ids[0]
        errors.append(
            await raised(client.download_log(OWNER, REPO, job_id, tmp_path, max_attempts=1))
        )
    async with FakeGitHub(token=TOKEN) as fake, Client(TOKEN + "x", base_url=fake.api_url) as bad:
        errors.append(await raised(bad.get_job(OWNER, REPO, 5)))
    async with Client(TOKEN, base_url="http://127.0.0.1:9", max_retries=0) as nowhere:
        errors.append(await raised(nowhere.get_job(OWNER, REPO, 5)))
    await nowhere.close()
    errors.append(await raised(nowhere.get_job(OWNER, REPO, 5)))
    with pytest.raises(InvalidArgumentError) as info:
        Client(TOKEN + " x")
    errors.append(info.value)

    kinds = {type(error) for error in errors}
    assert kinds >= {
        NotFoundError,
        LogsNotAvailableError,
        LogsGoneError,
        DecodeError,
        UnsafeURLError,
        ServerError,
        TransportError,
        RequestTimeoutError,
        SecondaryRateLimitError,
        LogDownloadError,
        IncompleteLogError,
        PrimaryRateLimitError,
        LogUrlExpiredError,
        UnauthorizedError,
        ClientClosedError,
        InvalidArgumentError,
    }, kinds
    for error in errors:
        assert_token_free(error)
    assert list(tmp_path.iterdir()) == []


async def test_a_transport_error_does_not_keep_aiohttps_exception() -> None:
    """An answer aiohttp cannot parse (a 20 kB header) gives a TransportError whose chain
    holds no aiohttp exception with the request headers."""
    async with Recorder() as api:

        async def oversized(request: web.Request) -> web.StreamResponse:
            return web.Response(body=b"{}", headers={"x-ratelimit-reset": "9" * 20_000})

        api.answer = oversized
        async with Client(TOKEN, base_url=api.origin, max_retries=0) as client:
            with pytest.raises(TransportError) as info:
                await client.get_job(OWNER, REPO, 1)
    assert TOKEN not in f"{info.value} {info.value!r}"  # what is shown is clean
    assert_token_free(info.value)  # ... and so is what is reachable


async def test_reprs_never_show_the_token_or_the_signed_url(tmp_path: Path) -> None:
    """Client, JobStream, LogBatch, LogLocation and LogResult reprs are free of secrets."""
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=3)
        stream = client.list_jobs(OWNER, REPO, run.run_id)
        await stream.__anext__()
        location = await client.get_log_url(OWNER, REPO, run.job_ids[0])
        batch = client.download_logs(OWNER, REPO, run.job_ids, tmp_path)
        async with batch:
            results = [result async for result in batch]
        texts = [repr(client), str(client), repr(stream), repr(batch), repr(location)]
        texts += [repr(result) for result in results]
        texts.append(repr(fake.config))
    assert "sig=" in location.url  # the secret exists, and is kept out of the repr
    for text in texts:
        assert TOKEN not in text
        assert "sig=" not in text
    assert location.origin in repr(location)


# --------------------------------------------------------------------------- other origins


@pytest.mark.parametrize("mode", ["redirect", "same_origin", "inline"])
async def test_no_token_reaches_anything_but_the_api(mode: Any, tmp_path: Path) -> None:
    """Downloads in every logs mode, retries included: no Authorization or token off the API."""
    async with serve(FakeConfig(logs_mode=mode)) as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=20, log_size=5000)
        fake.inject(Fault("blob", "status", status=503, times=3), Fault("blob", "reset"))
        summary = await client.harvest(OWNER, REPO, run.run_id, tmp_path)
    assert summary.counts[LogStatus.DOWNLOADED] == 20
    if mode != "inline":
        assert fake.stats.blob_requests >= 20
    assert_no_leak_at_other_origins(fake)


@pytest.mark.parametrize(
    "other",
    [
        "trap",  # another port on the same host
        "http://localhost:{port}",  # another host name for the same socket
        "https://127.0.0.1:{port}",  # another scheme
    ],
)
async def test_a_link_to_another_origin_is_refused(other: str) -> None:
    """A rel=next/last pointing off the API origin raises UnsafeURLError and is never requested."""
    async with Recorder() as trap, FakeGitHub(token=TOKEN) as probe:
        port = probe.api_url.rsplit(":", 1)[1]
        await probe.close()
        link_origin = trap.origin if other == "trap" else other.format(port=port)
        async with serve(FakeConfig(link_origin=link_origin, api_port=int(port))) as (
            fake,
            client,
        ):
            run = fake.add_run(OWNER, REPO, jobs=250)
            stream = client.list_jobs(OWNER, REPO, run.run_id)
            with pytest.raises(UnsafeURLError) as info:
                await stream.collect()
            api_requests = fake.stats.api_requests
    assert api_requests == 1  # the first page only
    assert trap.requests == []
    assert_token_free(info.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_an_api_redirect_to_another_origin_is_refused(status: int) -> None:
    """get_job and a listing redirected off the API origin raise UnsafeURLError; the other
    origin never sees a request."""
    async with Recorder() as trap, Recorder() as api:
        api.answer = redirect_to(f"{trap.origin}/repos/{OWNER}/{REPO}/actions/jobs/1", status)
        async with Client(TOKEN, base_url=api.origin, sleep=quick_sleep) as client:
            with pytest.raises(UnsafeURLError):
                await client.get_job(OWNER, REPO, 1)
            with pytest.raises(UnsafeURLError):
                await client.list_jobs(OWNER, REPO, 5).collect()
    assert len(api.requests) == 2
    assert trap.requests == []


async def test_a_log_redirect_to_another_origin_goes_there_without_the_token(
    tmp_path: Path,
) -> None:
    """The logs endpoint's Location (a blob host, and a redirect there) is fetched bare."""
    async with Recorder() as blob, Recorder() as api:
        blob.answer = None
        hop = redirect_to(f"{blob.origin}/final")

        async def api_answer(request: web.Request) -> web.StreamResponse:
            if request.path.startswith("/hop"):
                response: web.StreamResponse = await hop(request)
                return response
            return web.Response(status=302, headers={"Location": f"{api.origin}/hop?sig=S"})

        api.answer = api_answer
        async with Client(TOKEN, base_url=api.origin, sleep=quick_sleep) as client:
            result = await client.download_log(OWNER, REPO, 7, tmp_path)
    assert result.status is LogStatus.DOWNLOADED
    assert (tmp_path / "7.log").read_bytes() == b"log line\n"
    assert [path for _, path, _ in blob.requests] == ["/final"]
    assert not blob.saw_token()
    api_calls = {path: headers for _, path, headers in api.requests}
    assert "Authorization" in api_calls[f"/repos/{OWNER}/{REPO}/actions/jobs/7/logs"]
    assert "Authorization" not in api_calls["/hop?sig=S"]  # the same origin, but a blob URL


# --------------------------------------------------------------------------- TLS


@pytest.fixture(name="ca", scope="module")
def fixture_ca() -> trustme.CA:
    """A throw-away certificate authority, as a GHES admin's private CA would be."""
    return trustme.CA()


@pytest.fixture(name="ca_pem")
def fixture_ca_pem(ca: trustme.CA, tmp_path: Path) -> Path:
    """The CA certificate as a PEM bundle file."""
    path = tmp_path / "ghes-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for both loopback origins."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "127.0.0.2", "localhost").configure_cert(context)
    return context


@pytest.mark.parametrize("naming", ["{job_id}.log", "{run_id}/{job_id}.log"])
async def test_ghes_over_https_with_a_custom_ca_bundle(
    ca: trustme.CA, ca_pem: Path, tmp_path: Path, naming: str
) -> None:
    """A GHES root over TLS with a private CA: jobs, pages and logs (blob over https too)."""
    config = FakeConfig(ghes=True, ssl_context=server_context(ca))
    async with serve(config, ca_bundle=ca_pem) as (fake, client):
        assert fake.api_url.startswith("https://")
        assert fake.api_url.endswith("/api/v3")
        run = fake.add_run(OWNER, REPO, jobs=120, log_size=3000)
        job = await client.get_job(OWNER, REPO, run.job_ids[0])
        jobs = await client.list_jobs(OWNER, REPO, run.run_id).collect()
        location = await client.get_log_url(OWNER, REPO, run.job_ids[0])
        summary = await client.harvest(
            OWNER, REPO, run.run_id, tmp_path / "logs", naming=naming, concurrency=4
        )
    assert job.url.startswith("https://")
    assert len(jobs) == 120
    assert location.url.startswith(fake.blob_url + "/")
    assert summary.counts[LogStatus.DOWNLOADED] == 120
    assert_no_leak_at_other_origins(fake)


async def test_tls_is_verified_by_default(ca: trustme.CA, tmp_path: Path) -> None:
    """Without the CA bundle, or with another CA's, the client fails with TransportError
    saying the certificate did not verify; nothing reaches the server's handlers."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    config = FakeConfig(ssl_context=server_context(ca))
    async with FakeGitHub(config, token=TOKEN) as fake:
        run = fake.add_run(OWNER, REPO, jobs=2)
        for bundle in (None, other):
            async with Client(
                TOKEN, base_url=fake.api_url, ca_bundle=bundle, max_retries=1, sleep=quick_sleep
            ) as client:
                with pytest.raises(TransportError) as info:
                    await client.get_job(OWNER, REPO, run.job_ids[0])
                assert "certificate verify failed" in str(info.value).lower()
                assert_token_free(info.value)
                with pytest.raises(TransportError):
                    await client.download_log(OWNER, REPO, run.job_ids[0], tmp_path / "x.log")
        assert fake.stats.api_requests == 0
    assert not (tmp_path / "x.log").exists()


async def test_a_ca_bundle_that_cannot_be_read_is_a_bad_argument(tmp_path: Path) -> None:
    """A missing or garbled bundle is refused when the client is created."""
    garbled = tmp_path / "garbled.pem"
    garbled.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    for bundle in (tmp_path / "missing.pem", garbled):
        with pytest.raises(InvalidArgumentError) as info:
            Client(TOKEN, base_url="https://ghe.example.com/api/v3", ca_bundle=bundle)
        assert info.value.name == "ca_bundle"


def test_a_downgrade_from_https_to_http_is_refused() -> None:
    """resolve_redirect refuses https -> http, whatever the spelling; http -> https is fine."""
    api = "https://api.github.com/repos/o/r/actions/jobs/1/logs"
    for location in ("http://blob.example/log?sig=SECRET", "HTTP://blob.example/x", " http://x/"):
        with pytest.raises(UnsafeURLError, match="downgrade") as info:
            resolve_redirect(location, api)
        assert "SECRET" not in f"{info.value} {info.value!r}"
    assert resolve_redirect("https://blob.example/x", "http://127.0.0.1/logs").startswith("https")


async def test_a_downgrade_is_refused_over_the_wire(
    ca: trustme.CA, ca_pem: Path, tmp_path: Path
) -> None:
    """An https API redirecting the logs (or a job) to plain http: refused, never requested."""
    async with Recorder() as plain, Recorder(server_context(ca)) as api:

        async def answer(request: web.Request) -> web.StreamResponse:
            where = "log" if request.path.endswith("/logs") else "job"
            target = (
                f"{plain.origin}/{where}"
                if where == "log"
                else f"http://127.0.0.1:{api.origin.rsplit(':', 1)[1]}/x"
            )
            return web.Response(status=302, headers={"Location": target})

        api.answer = answer
        async with Client(TOKEN, base_url=api.origin, ca_bundle=ca_pem) as client:
            with pytest.raises(UnsafeURLError, match="downgrade"):
                await client.get_log_url(OWNER, REPO, 1)
            with pytest.raises(UnsafeURLError):
                await client.download_log(OWNER, REPO, 1, tmp_path)
            with pytest.raises(UnsafeURLError):
                await client.get_job(OWNER, REPO, 1)
    assert len(api.requests) == 3
    assert plain.requests == []
    assert list(tmp_path.iterdir()) == [tmp_path / "ghes-ca.pem"]


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run with ``mask`` as the process umask, restoring the old one afterwards."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o027, 0o077, 0o002])
async def test_harvested_files_follow_the_umask(mask: int, tmp_path: Path) -> None:
    """Logs are created 0o666 & ~umask and folders 0o777 & ~umask, like any other file."""
    dest = tmp_path / "dest"
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=5, log_size=1000)
        with umask(mask):
            summary = await client.harvest(
                OWNER, REPO, run.run_id, dest, naming="{run_id}/{job_id}.log"
            )
            single = await client.download_log(
                OWNER, REPO, run.job_ids[0], tmp_path / "one" / "x.log"
            )
    assert summary.counts[LogStatus.DOWNLOADED] == 5
    logs = sorted((dest / str(run.run_id)).iterdir())
    assert len(logs) == 5
    assert single.path is not None
    for path in [*logs, single.path]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path
    for folder in (dest, dest / str(run.run_id), tmp_path / "one"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask, folder


async def test_a_symlinked_folder_in_dest_dir_leading_out_is_not_followed(tmp_path: Path) -> None:
    """dest_dir/<run_id> -> outside with naming "{run_id}/{job_id}.log": each job fails with
    InvalidArgumentError, and nothing appears outside."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=4, log_size=1000)
        (dest / str(run.run_id)).symlink_to(outside, target_is_directory=True)
        jobs = await client.list_jobs(OWNER, REPO, run.run_id).collect()
        async with client.download_logs(
            OWNER, REPO, jobs, dest, naming="{run_id}/{job_id}.log"
        ) as results:
            outcomes = [result async for result in results]
    assert {r.status for r in outcomes} == {LogStatus.FAILED}
    assert all(isinstance(r.error, InvalidArgumentError) for r in outcomes)
    assert list(outside.iterdir()) == []
    assert fake.stats.blob_requests == 0


async def test_a_symlink_swapped_in_after_the_check_is_not_followed(tmp_path: Path) -> None:
    """A folder replaced by a symlink while the job waits for its download: nothing outside."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    async with serve() as (fake, client):
        run = fake.add_run(OWNER, REPO, jobs=2, log_size=1000)
        jobs = await client.list_jobs(OWNER, REPO, run.run_id).collect()
        link = dest / str(run.run_id)

        def swap(event: LogEvent) -> None:
            if event.kind == "started" and not link.is_symlink():
                link.symlink_to(outside, target_is_directory=True)

        async with client.download_logs(
            OWNER, REPO, jobs, dest, naming="{run_id}/{job_id}.log", progress=swap
        ) as results:
            outcomes = [result async for result in results]
    assert link.is_symlink()  # the swap happened
    assert list(outside.iterdir()) == [], [r.status for r in outcomes]
