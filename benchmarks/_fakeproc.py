"""A FakeGitHub served by a child process, so that its CPU does not compete with the client.

``python -m gh_jobs_async.testing`` cannot set blob latency, the retry-after of secondary
limits, or several log sizes, and does not report the fake's counters; this helper runs
the fake with any `FakeConfig` and answers commands over a pipe::

    with FakeProcess(api_latency=0.05, max_in_flight=20) as fake:
        run = fake.call("add_run", jobs=300, log_size=2**20)
        ...  # a client in this process talks to fake.api_url with fake.token
        stats = fake.call("stats")
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self

from gh_jobs_async.testing import FakeConfig, FakeGitHub

STAT_FIELDS = (
    "requests",
    "api_requests",
    "blob_requests",
    "peak_api_in_flight",
    "peak_blob_in_flight",
    "secondary_violations",
    "in_flight_violations",
    "window_violations",
    "requests_during_penalty",
    "peak_api_per_window",
    "blob_authorization_headers",
    "blob_token_leaks",
    "non_api_token_leaks",
    "blob_bytes_sent",
)


def _stats(fake: FakeGitHub) -> dict[str, Any]:
    stats = fake.stats
    out: dict[str, Any] = {name: getattr(stats, name) for name in STAT_FIELDS}
    out["log_downloads"] = dict(stats.log_downloads)
    out["blob_bytes_by_job"] = dict(stats.blob_bytes_by_job)
    return out


def _add_run(fake: FakeGitHub, **kwargs: Any) -> dict[str, Any]:
    run = fake.add_run(**kwargs)
    return {"run_id": run.run_id, "job_ids": run.job_ids}


def _run_command(fake: FakeGitHub, command: str, kwargs: dict[str, Any]) -> Any:
    if command == "add_run":
        return _add_run(fake, **kwargs)
    if command == "add_runs":
        return fake.add_runs(**kwargs)
    if command == "run_ids":
        return [run["id"] for run in fake.runs_matching(**kwargs)]
    if command == "sha256":
        return {job_id: fake.log_sha256(job_id) for job_id in kwargs["job_ids"]}
    if command == "log_url":
        return fake.log_url(kwargs["job_id"])
    if command == "stats":
        return _stats(fake)
    if command == "cpu":
        return time.process_time()
    if command == "reset":
        fake.reset_stats()
        fake.reset_limits()
        return None
    raise ValueError(f"unknown command {command!r}")


async def _serve(conn: Connection, config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    async with FakeGitHub(FakeConfig(**config)) as fake:
        conn.send({"api_url": fake.api_url, "blob_url": fake.blob_url, "token": fake.token})
        while True:
            command, kwargs = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                conn.send(("ok", None))
                return
            try:
                conn.send(("ok", _run_command(fake, command, kwargs)))
            except Exception as exc:
                conn.send(("error", repr(exc)))


def _child(conn: Connection, config: dict[str, Any]) -> None:
    asyncio.run(_serve(conn, config))


class FakeProcess:
    """A fake GitHub in a spawned child process; `call` runs a command there."""

    def __init__(self, **config: Any) -> None:
        FakeConfig(**config)  # invalid settings fail here, not in the child
        self._config = config
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_child, args=(child_conn, config), daemon=True)
        self.api_url = self.blob_url = self.token = ""

    def __enter__(self) -> Self:
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the fake did not start within 60 s")
        info = self._conn.recv()
        self.api_url, self.blob_url, self.token = info["api_url"], info["blob_url"], info["token"]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(OSError, EOFError, RuntimeError):
            self.call("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)

    def call(self, command: str, **kwargs: Any) -> Any:
        """Run ``command`` in the child and return its result (blocking: call between runs)."""
        self._conn.send((command, kwargs))
        if not self._conn.poll(600):
            raise RuntimeError(f"the fake did not answer {command!r}")
        status, result = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"{command} failed in the fake: {result}")
        return result
