"""Helpers shared by the integration test modules (not collected: no ``test_`` prefix)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple, Self

from aiohttp import web

from gh_jobs_async import Client
from gh_jobs_async.testing import FakeConfig, FakeGitHub


async def quick_sleep(seconds: float) -> None:
    """Backoff without the wait: retries are what is tested, not their timing."""
    await asyncio.sleep(min(seconds, 0.01))


@contextlib.asynccontextmanager
async def serve(
    config: FakeConfig | None = None, *, token: str | None = None, **options: Any
) -> AsyncIterator[tuple[FakeGitHub, Client]]:
    """A started fake (accepting ``token`` if given) and a client pointed at it.

    The client backs off instantly unless ``sleep`` is given; other ``options``
    go to :class:`Client`.
    """
    options.setdefault("sleep", quick_sleep)
    overrides = {} if token is None else {"token": token}
    async with (
        FakeGitHub(config or FakeConfig(), **overrides) as fake,
        Client(fake.token, base_url=fake.api_url, **options) as client,
    ):
        yield fake, client


def sample_job(**changes: Any) -> dict[str, Any]:
    """A complete, valid job body that does not depend on the spec file."""
    body: dict[str, Any] = {
        "id": 399444496,
        "run_id": 29679449,
        "run_url": "https://api.github.com/repos/octo-org/octo-repo/actions/runs/29679449",
        "run_attempt": 1,
        "node_id": "MDEyOldvcmtmbG93IEpvYjM5OTQ0NDQ5Ng==",
        "head_sha": "f83a356604ae3c5d03e1b46ef4d1ca77d64a90b0",
        "url": "https://api.github.com/repos/octo-org/octo-repo/actions/jobs/399444496",
        "html_url": "https://github.com/octo-org/octo-repo/runs/29679449/jobs/399444496",
        "status": "completed",
        "conclusion": "success",
        "created_at": "2020-01-20T17:42:35Z",
        "started_at": "2020-01-20T17:42:40Z",
        "completed_at": "2020-01-20T17:44:39Z",
        "name": "build",
        "steps": [
            {
                "name": f"step {n}",
                "status": "completed",
                "conclusion": "success",
                "number": n,
                "started_at": "2020-01-20T09:42:40.000-08:00",
                "completed_at": "2020-01-20T09:42:41.000-08:00",
            }
            for n in (1, 2, 3)
        ],
        "check_run_url": "https://api.github.com/repos/octo-org/octo-repo/check-runs/399444496",
        "labels": ["self-hosted", "foo", "bar"],
        "runner_id": 1,
        "runner_name": "my runner",
        "runner_group_id": 2,
        "runner_group_name": "my runner group",
        "workflow_name": "CI",
        "head_branch": "main",
    }
    body.update(changes)
    return body


class LoopbackServer:
    """A bare aiohttp server on 127.0.0.1 (any port) sending every request to :meth:`handle`.

    ``origin`` (``http(s)://127.0.0.1:PORT``) is set once the server is entered.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.origin = ""
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request (subclasses decide how)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl).start()
        port = self._runner.addresses[0][1]
        self.origin = f"{'https' if self._ssl else 'http'}://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def logs_asked_for(fake: FakeGitHub) -> set[int]:
    """The jobs whose logs endpoint the fake was asked for (``.../jobs/{id}/logs``)."""
    paths = [r.path_qs for r in fake.stats.requests_log]
    return {int(path.split("/")[-2]) for path in paths if path.endswith("/logs")}


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content, read in pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


#: Variables a CLI subprocess must not inherit: they would pick a token, an API or colours.
#: The outer environment's variables a CLI test must not inherit (credentials, the API root,
#: the shared Redis, terminal forcing).
LEAKY_ENV = (
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "GH_JOBS_APP_ID",
    "GH_JOBS_APP_KEY_FILE",
    "GH_JOBS_REDIS_URL",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
)


class CliResult(NamedTuple):
    """What a finished ``gh-jobs`` subprocess left behind (unpacks as a tuple too)."""

    code: int
    out: str
    err: str


async def run_gh_jobs(fake: FakeGitHub, *args: object, timeout: float) -> CliResult:
    """Run ``python -m gh_jobs_async ARGS --api-url FAKE`` with the fake's token to its end;
    a command still running after ``timeout`` seconds is killed and the test fails."""
    env = {key: value for key, value in os.environ.items() if key not in LEAKY_ENV}
    env["GH_TOKEN"] = fake.token
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gh_jobs_async",
        *map(str, args),
        "--api-url",
        fake.api_url,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert proc.returncode is not None
    return CliResult(proc.returncode, out.decode(), err.decode())


def failing_after_checkout(
    fake: FakeGitHub, job_ids: list[int]
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """A job whose failing step follows its checkout, which has a post step: id, steps, step."""
    for job_id in job_ids:
        steps = fake.job(job_id)["steps"]
        failed = [s for s in steps if s["conclusion"] == "failure"]
        if failed and failed[0]["number"] > 2 and len(steps) > 5:
            return job_id, steps, failed[0]
    raise AssertionError("no job fails after its checkout")
