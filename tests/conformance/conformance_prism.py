"""Stoplight Prism for the conformance suite: found or installed once, started per mode.

Prism 5 (npm ``@stoplight/prism-cli``) is taken from ``$PRISM_BIN``, from
``<repo>/.cache/prism`` or from ``PATH``, in that order; when none is a Prism 5 it is
installed with ``npm install --prefix <repo>/.cache/prism @stoplight/prism-cli@5`` under a
file lock, so parallel runs install it once. Without npm, or when the install fails, the
Prism tests are skipped with the reason, except under ``CI=true``, where they fail. A
Prism that is there but does not start always fails them.

Two mocks, each on 127.0.0.1 with a free port, each serving a derived copy of GitHub's
description written to a temporary folder (see ``conformance_support`` for the fix-ups):

* ``prism_static``: ``--errors``. Prism validates every request against the description and
  answers 422 to one that breaks it; it also validates its own answer (the spec's examples)
  and answers 500 if that breaks the schema.
* ``prism_dynamic``: ``--dynamic``. Every answer is generated afresh from the schemas.
  Prism has ``--seed``, but it re-seeds its generator with it before *every* answer, so a
  seeded mock sends one and the same body each time; this mock runs unseeded, and a failing
  test names the offending JSON path and value instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

import pytest
from conformance_support import REPO_ROOT, JSONDict, load_spec, prism_document

__all__ = ["PrismServer", "find_or_install_prism", "start_prism"]

PRISM_PACKAGE = "@stoplight/prism-cli@5"
PRISM_MAJOR = "5."
CACHE_DIR = REPO_ROOT / ".cache"
PRISM_PREFIX = CACHE_DIR / "prism"
CACHED_PRISM = PRISM_PREFIX / "node_modules" / ".bin" / "prism"
INSTALL_TIMEOUT = 600.0
START_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``; under CI=true fail instead: CI must run this suite."""
    if _in_ci():
        pytest.fail(f"Prism is required in CI (CI=true): {reason}", pytrace=False)
    pytest.skip(f"Prism unavailable: {reason}")


def _prism_version(executable: str) -> str | None:
    """``prism --version`` of ``executable``, or None when it does not run."""
    try:
        done = subprocess.run(  # noqa: S603 - our own path to a Prism executable
            [executable, "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def _usable(executable: str | None) -> str | None:
    if executable is None:
        return None
    version = _prism_version(executable)
    return executable if version is not None and version.startswith(PRISM_MAJOR) else None


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """An exclusive lock on ``.cache/prism.lock`` (held by one installing process at a time)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / "prism.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def find_or_install_prism() -> str:
    """Path of a Prism 5 executable: ``$PRISM_BIN``, the cache, ``PATH``, else installed."""
    for candidate in (os.environ.get("PRISM_BIN"), str(CACHED_PRISM), shutil.which("prism")):
        found = _usable(candidate) if candidate and Path(candidate).exists() else None
        if found is not None:
            return found
    return _install()


def _install() -> str:
    npm = shutil.which("npm")
    if npm is None:
        _unavailable(
            "npm is not on PATH. Install Node.js 18+ with npm, or put Prism 5 on PATH, "
            "or set PRISM_BIN to a prism executable."
        )
    with _install_lock():
        found = _usable(str(CACHED_PRISM) if CACHED_PRISM.exists() else None)
        if found is not None:  # another process installed it while we waited
            return found
        command = [npm, "install", "--prefix", str(PRISM_PREFIX), PRISM_PACKAGE]
        command += ["--no-audit", "--no-fund", "--loglevel=error"]
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments, npm found on PATH
                command,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            _unavailable(f"`{' '.join(command)}` did not run: {exc}")
        found = _usable(str(CACHED_PRISM))
        if done.returncode != 0 or found is None:
            output = (done.stdout + done.stderr).strip()[-2000:]
            _unavailable(f"`{' '.join(command)}` exited {done.returncode}:\n{output}")
        return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrismServer:
    """A running ``prism mock``: where it listens, what it serves, and its log."""

    mode: str
    url: str
    document: JSONDict
    log_path: Path
    process: subprocess.Popen[bytes]
    log_handle: IO[bytes]

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of Prism's output, for failure messages."""
        if not self.log_handle.closed:
            self.log_handle.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate Prism (kill it if it lingers) and close its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self.log_handle.close()


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_prism(
    executable: str,
    folder: Path,
    *,
    mode: str,
    name: str = "",
    document_for: Callable[[str], JSONDict] | None = None,
) -> PrismServer:
    """Start ``prism mock`` in ``mode`` ("static" or "dynamic") and wait until it listens.

    ``document_for(mock_url)`` builds the document it serves (default: the jobs slice with
    the fix-ups of :func:`~conformance_support.prism_document`); ``name`` tells the files and
    the failure message of one document from another's.
    """
    if document_for is None:

        def document_for(url: str) -> JSONDict:
            return prism_document(load_spec(), url, static_links=mode == "static")

    prefix = f"{name}-" if name else ""
    failures: list[str] = []
    for attempt in range(3):  # a free port may be taken between probe and bind
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        document = document_for(url)
        spec_path = folder / f"{prefix}{mode}-{attempt}.openapi.json"
        spec_path.write_text(json.dumps(document, indent=1), encoding="utf-8")
        log_path = folder / f"{prefix}{mode}-{attempt}.log"
        args = [executable, "mock", str(spec_path), "--host", "127.0.0.1", "--port", str(port)]
        args += ["--errors"] if mode == "static" else ["--dynamic"]
        log_handle = log_path.open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own Prism and arguments
            args, stdin=subprocess.DEVNULL, stdout=log_handle, stderr=subprocess.STDOUT
        )
        server = PrismServer(mode, url, document, log_path, process, log_handle)
        deadline = time.monotonic() + START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _listening(port):
                return server
            time.sleep(0.1)
        server.stop()
        failures.append(f"attempt {attempt + 1} (port {port}):\n{server.log_tail()}")
    # Prism is there but refuses to serve (say, it rejects the derived document): a failure.
    what = f"prism mock of the {name}" if name else "prism mock"
    pytest.fail(f"{what} ({mode}) did not start:\n" + "\n".join(failures), pytrace=False)
