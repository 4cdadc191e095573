"""The fake's command line: ``python -m gh_jobs_async.testing [options]``.

`main` parses arguments and serves until SIGINT or SIGTERM; `serve_forever` is the async
core, reusable by a ``gh-jobs fake-server`` subcommand. This is the only module that prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

from gh_jobs_async.testing._config import FakeConfig
from gh_jobs_async.testing._server import FakeGitHub

__all__ = ["build_parser", "config_from_args", "main", "serve_forever"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m gh_jobs_async.testing``."""
    parser = argparse.ArgumentParser(
        prog="python -m gh_jobs_async.testing",
        description="Serve a fake GitHub (workflow-jobs endpoints and a log blob host).",
    )
    add = parser.add_argument
    add("--port", type=int, default=0, help="API port (default: a free one)")
    add("--blob-port", type=int, default=0, help="blob host port (default: a free one)")
    add("--host", default="127.0.0.1", help="API address (default: %(default)s)")
    add("--blob-host", default="127.0.0.2", help="blob address (default: %(default)s)")
    add("--owner", default="octo-org", help="repository owner (default: %(default)s)")
    add("--repo", default="hello-world", help="repository name (default: %(default)s)")
    add("--runs", type=int, default=1, help="runs to create (default: %(default)s)")
    add("--jobs", type=int, default=120, help="jobs per attempt (default: %(default)s)")
    add("--attempts", type=int, default=2, help="attempts per run (default: %(default)s)")
    add("--log-size", type=int, default=4096, help="bytes per job log (default: %(default)s)")
    add("--latency", type=float, default=0.0, help="seconds before each API answer")
    add("--ghes", action="store_true", help="serve the API under /api/v3 like GHES")
    add("--max-in-flight", type=int, default=None, help="secondary limit: concurrent requests")
    add("--per-minute", type=int, default=None, help="secondary limit: requests per minute")
    add("--logs-mode", choices=("redirect", "same_origin", "inline"), default="redirect")
    add("--no-auth", action="store_true", help="accept requests without a token")
    add("--seed", type=int, default=0, help="data seed (default: %(default)s)")
    add("--history", type=int, default=0, help="also N runs over the last days, for listings")
    add("--history-days", type=float, default=90.0, help="days the history spans (default: 90)")
    add("--history-failed", type=int, default=0, help="runs of the history that failed")
    add("--live", action="store_true", help="runs happen now: jobs queue, run and complete")
    add("--duration", type=float, default=20.0, help="with --live: seconds per attempt")
    add("--log-lag", type=float, default=1.0, help="with --live: seconds until a log appears")
    add(
        "--conclusions",
        default="success",
        help="job conclusions, comma-separated, cycled over the jobs (default: %(default)s)",
    )
    add(
        "--app-key-out",
        type=Path,
        metavar="PEM",
        help="serve a GitHub App installed on --owner; write its private key to PEM",
    )
    add("--token-lifetime", type=float, default=3600.0, help="the App's token lifetime, s")
    return parser


def config_from_args(args: argparse.Namespace) -> FakeConfig:
    """The `FakeConfig` the parsed command line asks for."""
    return FakeConfig(
        api_host=args.host,
        api_port=args.port,
        blob_host=args.blob_host,
        blob_port=args.blob_port,
        api_latency=args.latency,
        ghes=args.ghes,
        max_in_flight=args.max_in_flight,
        max_per_window=args.per_minute,
        secondary_window=60.0,
        logs_mode=args.logs_mode,
        require_token=not args.no_auth,
        seed=args.seed,
        app_token_lifetime=args.token_lifetime,
    )


async def serve_forever(
    config: FakeConfig,
    *,
    owner: str = "octo-org",
    repo: str = "hello-world",
    runs: int = 1,
    jobs: int = 120,
    attempts: int = 2,
    log_size: int = 4096,
    conclusions: tuple[str, ...] = ("success",),
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    history: int = 0,
    history_days: float = 90.0,
    history_failed: int = 0,
    app_key_out: Path | None = None,
    live: bool = False,
    duration: float = 20.0,
    log_lag: float = 1.0,
) -> None:
    """Serve a fake with ``runs`` runs until ``stop`` is set (or the task is cancelled);
    ``history`` more runs (``history_failed`` of them failed) over the last ``history_days``
    days, created before them, fill the runs listings.

    Prints the API URL, blob URL, token, the runs created and example ``curl`` commands to
    ``out`` (default: standard output) once the fake is listening.
    """
    out = sys.stdout if out is None else out
    async with FakeGitHub(config) as fake:
        if history:
            fake.add_runs(owner, repo, count=history, days=history_days, failed=history_failed)
        created = [
            fake.add_run(
                owner,
                repo,
                jobs=jobs,
                attempts=attempts,
                log_size=log_size,
                conclusions=conclusions,
                live=live,
                duration=duration,
                log_lag=log_lag,
            )
            for _ in range(runs)
        ]
        print(f"API URL:  {fake.api_url}", file=out)
        print(f"Blob URL: {fake.blob_url}", file=out)
        print(f"Token:    {fake.token}", file=out)
        if history:
            print(
                f"History:  {owner}/{repo} {history} runs over {history_days:g} days "
                f"({history_failed} failed)",
                file=out,
            )
        if app_key_out is not None:
            installation = fake.add_installation(owner)
            fd = os.open(app_key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as key_file:
                key_file.write(fake.app_private_key_pem)
            print(
                f"App:      id={fake.app_id} client_id={fake.client_id} "
                f"installation={installation} on {owner}, key in {app_key_out}",
                file=out,
            )
        for run in created:
            print(
                f"Run:      {owner}/{repo} run_id={run.run_id} attempts={attempts} "
                f"jobs_per_attempt={jobs} first_job_id={run.latest[0]['id'] if jobs else '-'}",
                file=out,
            )
        if created:
            base = f"{fake.api_url}/repos/{owner}/{repo}/actions"
            auth = f'-H "Authorization: Bearer {fake.token}"'
            print("Try:", file=out)
            print(
                f'  curl -sS {auth} "{base}/runs/{created[0].run_id}/jobs?per_page=100"', file=out
            )
            if jobs:
                job_id = created[0].latest[0]["id"]
                print(f'  curl -sSL {auth} "{base}/jobs/{job_id}/logs" | head', file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        await (stop or asyncio.Event()).wait()


async def _serve_until_signalled(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve_forever(
        config_from_args(args),
        owner=args.owner,
        repo=args.repo,
        runs=args.runs,
        jobs=args.jobs,
        attempts=args.attempts,
        log_size=args.log_size,
        conclusions=tuple(c for c in args.conclusions.split(",") if c) or ("success",),
        stop=stop,
        history=args.history,
        history_days=args.history_days,
        history_failed=args.history_failed,
        app_key_out=args.app_key_out,
        live=args.live,
        duration=args.duration,
        log_lag=args.log_lag,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the fake in the foreground; 0 after a clean stop, 2 for bad options."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(_serve_until_signalled(args))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("stopped", flush=True)
    return 0
