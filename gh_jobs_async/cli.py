"""``gh-jobs``: GitHub Actions jobs and bulk log harvesting from a terminal.

The only module that prints, configures logging, calls ``asyncio.run`` and
picks exit codes: 0 success; 1 some jobs failed or an API error; 2 bad usage
or authentication failure; 130 interrupted (Ctrl-C). It uses the public API
only, and needs the ``cli`` extra (``pip install 'gh_jobs_async[cli]'``) for
its progress display and tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import NoReturn

import gh_jobs_async
from gh_jobs_async import (
    Client,
    GhJobsError,
    InvalidArgumentError,
    Job,
    UnauthorizedError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEMO_JOBS = 300


class UsageError(Exception):
    """Bad command-line usage: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not a usage dump: ``gh-jobs: error: ...``."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gh-jobs``."""
    parser = _Parser(prog="gh-jobs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=gh_jobs_async.__version__)
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="DEBUG logs and full tracebacks")
    conn = _Parser(add_help=False)
    conn.add_argument(
        "--api-url",
        default=os.environ.get("GITHUB_API_URL") or "https://api.github.com",
        help="API root (default: $GITHUB_API_URL or https://api.github.com; "
        "GHES: https://HOST/api/v3)",
    )
    conn.add_argument(
        "--token-file",
        type=Path,
        help="read the token from this file (default: $GH_TOKEN or $GITHUB_TOKEN)",
    )
    conn.add_argument(
        "--anonymous", action="store_true", help="send no token (public repositories only)"
    )
    conn.add_argument("--max-concurrency", type=int, default=10, help="API requests in flight")
    conn.add_argument(
        "--requests-per-minute", type=int, default=900, help="API requests per 60 s window"
    )
    conn.add_argument("--ca-bundle", help="extra CA certificates (PEM) to trust, e.g. for GHES")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    get = sub.add_parser("get", parents=[common, conn], help="show one job")
    get.add_argument("repository", metavar="OWNER/REPO")
    get.add_argument("job_id", metavar="JOB_ID", type=int)
    get.add_argument("--json", action="store_true", help="print the job as JSON")

    lst = sub.add_parser("list", parents=[common, conn], help="list the jobs of a run")
    lst.add_argument("repository", metavar="OWNER/REPO")
    lst.add_argument("run_id", metavar="RUN_ID", type=int)
    _listing_options(lst)
    lst.add_argument("--json", action="store_true", help="JSON Lines, one job a line")

    logs = sub.add_parser("logs", parents=[common, conn], help="harvest the logs of runs")
    logs.add_argument("repository", metavar="OWNER/REPO")
    logs.add_argument("run_ids", metavar="RUN_ID", type=int, nargs="+")
    logs.add_argument("--out", required=True, type=Path, help="directory for the logs")
    _listing_options(logs)
    _harvest_options(logs)

    fake = sub.add_parser(
        "fake-server", help="run the fake GitHub in the foreground", add_help=False
    )
    fake.add_argument("fake_args", nargs=argparse.REMAINDER)

    demo = sub.add_parser("demo", parents=[common], help="harvest a sample run from a fake GitHub")
    demo.add_argument("--out", type=Path, default=Path("gh-jobs-demo"), help="output directory")
    demo.add_argument("--jobs", type=int, default=DEMO_JOBS, help="jobs in the sample run")
    demo.add_argument("--log-size", type=int, default=256 * 1024, help="bytes per log")
    _harvest_options(demo)
    return parser


def _listing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--attempt", type=int, help="one attempt of the run")
    parser.add_argument("--filter", choices=("latest", "all"), default="latest")


def _harvest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--failed-only", action="store_true", help="only failed jobs' logs")
    parser.add_argument("--concurrency", type=int, help="log downloads in flight")


def read_token(args: argparse.Namespace) -> str | None:
    """The token from ``--token-file``, ``$GH_TOKEN`` or ``$GITHUB_TOKEN``, never from argv."""
    if args.anonymous:
        return None
    if args.token_file is not None:
        try:
            token: str = args.token_file.read_text("utf-8").strip()
        except OSError as exc:
            raise UsageError(
                f"cannot read --token-file {args.token_file}: {exc.strerror}"
            ) from None
        if not token:
            raise UsageError(f"--token-file {args.token_file} is empty")
        return token
    env_token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if not env_token:
        raise UsageError(
            "no token: set GH_TOKEN or GITHUB_TOKEN, pass --token-file FILE, or use --anonymous"
        )
    return env_token.strip()


def split_repository(text: str) -> tuple[str, str]:
    """``OWNER/REPO`` into its two parts."""
    owner, slash, repo = text.partition("/")
    if not slash or not owner or not repo or "/" in repo:
        raise UsageError(f"expected OWNER/REPO, got {text!r}")
    return owner, repo


def make_client(args: argparse.Namespace) -> Client:
    """A client configured from the common options."""
    return Client(
        read_token(args),
        base_url=args.api_url,
        max_concurrency=args.max_concurrency,
        requests_per_minute=args.requests_per_minute or None,
        ca_bundle=args.ca_bundle,
    )


def job_json(job: Job) -> str:
    """One job as a JSON line."""
    return json.dumps(job.to_dict(), separators=(",", ":"), default=str)


async def cmd_get(args: argparse.Namespace) -> int:
    """``gh-jobs get``."""
    from ._cli_output import Output  # noqa: PLC0415 - rich is imported only when needed

    owner, repo = split_repository(args.repository)
    async with make_client(args) as client:
        job = await client.get_job(owner, repo, args.job_id)
    out = Output()
    if args.json:
        out.line(json.dumps(job.to_dict(), indent=2, default=str))
    else:
        out.job(job)
    return EXIT_OK


async def cmd_list(args: argparse.Namespace) -> int:
    """``gh-jobs list``: a table, or JSON Lines streamed as pages arrive."""
    from ._cli_output import Output  # noqa: PLC0415

    owner, repo = split_repository(args.repository)
    out = Output()
    async with make_client(args) as client:
        stream = client.list_jobs(
            owner, repo, args.run_id, filter=args.filter, attempt=args.attempt
        )
        if args.json:
            async for job in stream:
                out.line(job_json(job))
            return EXIT_OK
        jobs = await stream.collect()
    out.jobs_table(jobs, title=f"{owner}/{repo} run {args.run_id}")
    return EXIT_OK


async def _runs_jobs(
    client: Client, owner: str, repo: str, args: argparse.Namespace
) -> AsyncIterator[Job]:
    for run_id in args.run_ids:
        async for job in client.list_jobs(
            owner, repo, run_id, filter=args.filter, attempt=args.attempt
        ):
            if not args.failed_only or job.conclusion in {"failure", "timed_out"}:
                yield job


async def harvest(client: Client, owner: str, repo: str, args: argparse.Namespace) -> int:
    """Harvest with the live display; the exit status says whether every log arrived."""
    from ._cli_output import HarvestDisplay  # noqa: PLC0415

    display = HarvestDisplay(client, args.out)
    batch = client.download_logs(
        owner,
        repo,
        _runs_jobs(client, owner, repo, args),
        args.out,
        concurrency=args.concurrency,
        progress=display.event,
    )
    async with display, batch:
        async for result in batch:
            display.result(result)
    display.summary()
    return EXIT_OK if display.all_ok else EXIT_FAILED


async def cmd_logs(args: argparse.Namespace) -> int:
    """``gh-jobs logs``."""
    owner, repo = split_repository(args.repository)
    async with make_client(args) as client:
        return await harvest(client, owner, repo, args)


async def cmd_demo(args: argparse.Namespace) -> int:
    """``gh-jobs demo``: a fake GitHub in-process, harvested with the real pipeline."""
    from gh_jobs_async.testing import FakeConfig, FakeGitHub  # noqa: PLC0415

    from ._cli_output import Output  # noqa: PLC0415

    out = Output()
    config = FakeConfig(api_latency=0.02, blob_latency=0.02, max_in_flight=20)
    async with FakeGitHub(config) as fake:
        run = fake.add_run("octo-org", "hello-world", jobs=args.jobs, log_size=args.log_size)
        out.line(f"fake GitHub at {fake.api_url}: run {run.run_id} with {args.jobs} jobs")
        args.run_ids, args.filter, args.attempt = [run.run_id], "latest", None
        async with Client(fake.token, base_url=fake.api_url, max_concurrency=20) as client:
            status = await harvest(client, "octo-org", "hello-world", args)
    out.line(f"logs are in {args.out.resolve()}; run the demo again: it skips what is complete")
    return status


def cmd_fake_server(args: argparse.Namespace) -> int:
    """``gh-jobs fake-server``: the fake GitHub's own command line."""
    from gh_jobs_async.testing import main as fake_main  # noqa: PLC0415

    return fake_main(list(args.fake_args))


COMMANDS = {"get": cmd_get, "list": cmd_list, "logs": cmd_logs, "demo": cmd_demo}


def configure_logging(debug: bool) -> None:
    """WARNING (retries, waits) to stderr; DEBUG with ``--debug``. Never the token."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("gh_jobs_async")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gh-jobs``; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "fake-server":
        return cmd_fake_server(args)
    debug = bool(getattr(args, "debug", False))
    configure_logging(debug)
    try:
        return asyncio.run(COMMANDS[args.command](args))
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        where = f" --out {out}" if out is not None else ""
        sys.stderr.write(
            f"gh-jobs: interrupted; no partial files were left. Run the same command{where} "
            "again to resume.\n"
        )
        return EXIT_INTERRUPTED
    except (UsageError, InvalidArgumentError, UnauthorizedError) as exc:
        if debug:
            raise
        sys.stderr.write(f"gh-jobs: error: {exc}\n")
        return EXIT_USAGE
    except GhJobsError as exc:
        if debug:
            raise
        sys.stderr.write(f"gh-jobs: error: {exc}\n")
        return EXIT_FAILED
    except ImportError as exc:
        sys.stderr.write(
            f"gh-jobs: {exc}; install the cli extra: pip install 'gh_jobs_async[cli]'\n"
        )
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
