"""A real ``redis-server`` for tests: unix socket in a temporary folder, no persistence."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

#: The password of the ``protected_redis`` fixture's server (a test value, not a secret).
PROTECTED_PASSWORD = "s3cret-test-password"

SKIP_REASON = "redis-server not on PATH (apt-get install redis-server); CI installs it"


def require_redis_server() -> str:
    """The binary's path; skip without it, except on CI (CI=true), where it must be there."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is missing on CI: .ci/run should have installed it")
        pytest.skip(SKIP_REASON)
    return binary


class RedisServer:
    """One ``redis-server`` process that can be stopped and started again on the same socket."""

    def __init__(self, binary: str, *, password: str | None = None) -> None:
        self.binary = binary
        self.password = password  # --requirepass: the default user needs it
        self.folder = Path(tempfile.mkdtemp(prefix="ghj-redis-", dir="/tmp"))
        self.socket = self.folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``unix://`` URL of the socket."""
        return f"unix://{self.socket}"

    def start(self) -> None:
        """Start and wait until the socket accepts connections."""
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                self.binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--loglevel",
                "warning",
                *(["--requirepass", self.password] if self.password else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (its state is lost: no persistence)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None
        self.socket.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop and remove the folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
