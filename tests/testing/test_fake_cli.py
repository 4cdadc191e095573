"""The fake's command line: options, the banner, serving until stopped, clean signals."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import aiohttp
import pytest

from gh_jobs_async.testing import FakeConfig, serve_forever
from gh_jobs_async.testing._cli import build_parser, config_from_args

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


def test_options_build_the_config() -> None:
    """Command-line options map onto FakeConfig fields."""
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--latency",
            "0.05",
            "--ghes",
            "--max-in-flight",
            "10",
            "--per-minute",
            "900",
        ]
    )
    config = config_from_args(args)
    assert config.api_latency == 0.05
    assert config.ghes
    assert (config.max_in_flight, config.max_per_window, config.secondary_window) == (10, 900, 60.0)


async def test_serve_forever_until_stopped() -> None:
    """serve_forever prints URLs, token, runs and curl examples, serves, and stops on request."""
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(serve_forever(FakeConfig(), jobs=3, attempts=1, stop=stop, out=out))
    for _ in range(200):
        if "Press Ctrl-C" in out.getvalue():
            break
        await asyncio.sleep(0.01)
    fields = dict(
        line.split(": ", 1)
        for line in out.getvalue().splitlines()
        if line[:1].isupper() and ": " in line
    )
    api_url, token = fields["API URL"].strip(), fields["Token"].strip()
    run_id = fields["Run"].split("run_id=")[1].split()[0]
    assert "curl -sS" in out.getvalue()
    url = f"{api_url}/repos/octo-org/hello-world/actions/runs/{run_id}/jobs"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        assert (await resp.json())["total_count"] == 3
    stop.set()
    await asyncio.wait_for(task, 5)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_module_runs_and_stops_on_sigint() -> None:
    """python -m gh_jobs_async.testing serves until SIGINT, then exits 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gh_jobs_async.testing", "--jobs", "2", "--attempts", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    watchdog = threading.Timer(20, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = []
        while (line := proc.stdout.readline()) and "Press Ctrl-C" not in line:
            lines.append(line)
        assert any(line.startswith("API URL:  http://127.0.0.1:") for line in lines)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, stderr
    assert "stopped" in stdout
