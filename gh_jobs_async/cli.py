"""``gh-jobs``: GitHub Actions jobs and bulk log harvesting from a terminal.

The only module that prints, configures logging, calls ``asyncio.run`` and
picks exit codes: 0 success; 1 some jobs failed or an API error; 2 bad usage
or authentication failure; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
It uses the public API only, and needs the ``cli`` extra
(``pip install 'gh_jobs_async[cli]'``) for its progress display and tables.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import gh_jobs_async
from gh_jobs_async import (
    AppAuth,
    Client,
    ForbiddenError,
    GhJobsError,
    InvalidArgumentError,
    Job,
    JobConclusion,
    JobSelection,
    JobUpdate,
    LimitStore,
    LogResult,
    RunConclusion,
    RunStream,
    TokenStore,
    UnauthorizedError,
)

from ._cli_when import parse_when

if TYPE_CHECKING:
    from ._cli_output import HarvestDisplay

FAILED_CONCLUSIONS = frozenset({JobConclusion.FAILURE, JobConclusion.TIMED_OUT})
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM
DEMO_JOBS = 300


class UsageError(Exception):
    """Bad command-line usage: one line on stderr, exit status 2."""


class Terminated(Exception):
    """SIGTERM arrived: stop like Ctrl-C does, exit status 143."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not a usage dump: ``gh-jobs: error: ...``."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


EPILOG = """\
token: $GH_TOKEN or $GITHUB_TOKEN, or --token-file FILE (never a command-line value).
GitHub App: --app-id ID --app-key-file PEM [--installation-id N], or $GH_JOBS_APP_ID and
$GH_JOBS_APP_KEY_FILE; the installation is found from OWNER/REPO when not given. A token
and an App together are a usage error. Workers on one --redis share the rate-limit budget;
with --share-token they share the installation token too.
API root: --api-url or $GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3).
exit status: 0 ok; 1 jobs that ran without a log, or an API error; 2 bad usage or auth
failure; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gh-jobs``."""
    parser = _Parser(
        prog="gh-jobs",
        description="GitHub Actions jobs and bulk log harvesting from a terminal.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=gh_jobs_async.__version__)
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="DEBUG logs and full tracebacks")
    conn = _connection_options()
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, summary: str, *parents: _Parser) -> _Parser:
        return sub.add_parser(
            name,
            parents=list(parents),
            help=summary,
            description=summary,
            epilog=EPILOG if conn in parents else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    get = command("get", "Show one job: a summary with its steps, or --json.", common, conn)
    get.add_argument("repository", metavar="OWNER/REPO")
    get.add_argument("job_id", metavar="JOB_ID", type=int)
    get.add_argument("--json", action="store_true", help="print the job as JSON")

    lst = command("list", "List the jobs of a run: a table, or JSON Lines.", common, conn)
    lst.add_argument("repository", metavar="OWNER/REPO")
    lst.add_argument("run_id", metavar="RUN_ID", type=int)
    _listing_options(lst)
    lst.add_argument("--json", action="store_true", help="JSON Lines, one job a line, streamed")

    logs = command(
        "logs",
        "Harvest the logs of runs into a directory: the RUN_IDs given, else the runs the "
        "filters select (--all-runs: every run).",
        common,
        conn,
    )
    logs.add_argument("repository", metavar="OWNER/REPO")
    logs.add_argument("run_ids", metavar="RUN_ID", type=int, nargs="*")
    logs.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="directory for the logs"
    )
    _listing_options(logs)
    _harvest_options(logs)
    logs.add_argument(
        "--follow",
        action="store_true",
        help="harvest a run still going: each log as soon as its job completes (one RUN_ID)",
    )
    logs.add_argument(
        "--interval",
        type=_positive_float,
        default=3.0,
        metavar="S",
        help="with --follow: seconds between polls (default: %(default)s)",
    )

    watch = command("watch", "Watch a run: its jobs live, until the run completes.", common, conn)
    watch.add_argument("repository", metavar="OWNER/REPO")
    watch.add_argument("run_id", metavar="RUN_ID", type=int)
    watch.add_argument(
        "--interval",
        type=_positive_float,
        default=3.0,
        metavar="S",
        help="seconds between polls, longer while nothing changes (default: %(default)s)",
    )
    watch.add_argument("--attempt", type=int, metavar="N", help="watch attempt N only")
    watch.add_argument(
        "--exit-status",
        action="store_true",
        help="exit with status 1 when the run did not succeed",
    )

    _run_filter_options(logs).add_argument(
        "--all-runs",
        action="store_true",
        help="every run of the repository: needed when no RUN_ID and no filter is given",
    )

    runs = command(
        "runs",
        "List the workflow runs of a repository (every match, past GitHub's 1,000 cap): "
        "a table, or JSON Lines.",
        common,
        conn,
    )
    runs.add_argument("repository", metavar="OWNER/REPO")
    _run_filter_options(runs)
    runs.add_argument("--json", action="store_true", help="JSON Lines, one run a line, streamed")

    view = command(
        "view",
        "Show a job's log as it streams: whole, failed steps, a step, or the tail.",
        common,
        conn,
    )
    from ._cli_view import add_view_parser  # noqa: PLC0415 - only the view command needs it

    add_view_parser(view)

    # main() hands everything after "fake-server" to the fake's own parser; this entry
    # only lists it in --help
    sub.add_parser("fake-server", help="Run a fake GitHub in the foreground (see its --help).")

    demo = command("demo", "Harvest a sample run from a fake GitHub started in-process.", common)
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("gh-jobs-demo"),
        metavar="DIR",
        help="directory for the logs (default: %(default)s)",
    )
    demo.add_argument(
        "--jobs",
        type=_positive_int,
        default=DEMO_JOBS,
        metavar="N",
        help="jobs in the sample run (default: %(default)s)",
    )
    demo.add_argument(
        "--log-size",
        type=_non_negative_int,
        default=256 * 1024,
        metavar="BYTES",
        help="bytes per log (default: %(default)s)",
    )
    _harvest_options(demo)
    return parser


def _connection_options() -> _Parser:
    """Where the API is, how to authenticate, how gently to use it."""
    conn = _Parser(add_help=False)
    conn.add_argument(
        "--api-url",
        metavar="URL",
        default=os.environ.get("GITHUB_API_URL") or "https://api.github.com",
        help="API root (default: $GITHUB_API_URL or https://api.github.com)",
    )
    token = conn.add_mutually_exclusive_group()
    token.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="read the token from FILE (default: $GH_TOKEN or $GITHUB_TOKEN)",
    )
    token.add_argument(
        "--anonymous", action="store_true", help="send no token (public repositories only)"
    )
    app = conn.add_argument_group("GitHub App (pip install 'gh_jobs_async[app]')")
    app.add_argument(
        "--app-id", metavar="ID", help="the App's ID or client ID (default: $GH_JOBS_APP_ID)"
    )
    app.add_argument(
        "--app-key-file",
        type=Path,
        metavar="PEM",
        help="the App's private key (default: $GH_JOBS_APP_KEY_FILE)",
    )
    app.add_argument(
        "--installation-id",
        type=_positive_int,
        metavar="N",
        help="the installation (default: the one on OWNER/REPO)",
    )
    app.add_argument(
        "--share-token",
        action="store_true",
        help="share the installation token with every worker on --redis: one mints, the "
        "others use it (anyone who can read that Redis can read the token)",
    )
    conn.add_argument(
        "--max-concurrency", type=int, default=10, metavar="N", help="API requests in flight"
    )
    conn.add_argument(
        "--requests-per-minute",
        type=int,
        default=900,
        metavar="N",
        help="API requests per 60 s window; 0: no pacing",
    )
    conn.add_argument(
        "--ca-bundle", metavar="PEM", help="extra CA certificates to trust, e.g. for GHES"
    )
    conn.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get("GH_JOBS_REDIS_URL") or None,
        help="share the rate-limit budget with every worker on this Redis "
        "(redis://, rediss://, unix://; default: $GH_JOBS_REDIS_URL, which keeps a password "
        "off the command line)",
    )
    return conn


def _positive_int(text: str) -> int:
    if not text.isdecimal() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    if not text.isdecimal():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(text)


def _listing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--attempt", type=int, metavar="N", help="the jobs of attempt N only")
    parser.add_argument(
        "--filter",
        choices=("latest", "all"),
        default="latest",
        help="the latest attempt's jobs, or every attempt's (default: %(default)s)",
    )


def _when(text: str) -> datetime | date:
    try:
        return parse_when(text, datetime.now(UTC))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workflow(text: str) -> int | str:
    return int(text) if text.isdecimal() else text


RUN_FILTERS = ("workflow", "branch", "event", "status", "actor", "sha", "since", "until")


def _run_filter_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    runs = parser.add_argument_group("run selection")
    runs.add_argument(
        "--workflow", type=_workflow, metavar="F", help="workflow file name (ci.yml) or id"
    )
    runs.add_argument("--branch", metavar="B", help="runs of this branch")
    runs.add_argument("--event", metavar="E", help="runs triggered by this event (push, ...)")
    runs.add_argument(
        "--status", metavar="S", help="a status or conclusion: failure, success, in_progress..."
    )
    runs.add_argument("--actor", metavar="A", help="runs of this user")
    runs.add_argument("--sha", metavar="SHA", help="runs of this head commit")
    runs.add_argument(
        "--since",
        type=_when,
        metavar="WHEN",
        help="created at or after WHEN: 2026-01-31, 2026-01-31T12:00:00Z, or 36h, 7d, 2w ago",
    )
    runs.add_argument(
        "--until", type=_when, metavar="WHEN", help="created at or before WHEN (a date: its end)"
    )
    return runs


def _has_run_filters(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) is not None for name in RUN_FILTERS)


def _check_run_selection(args: argparse.Namespace) -> None:
    """RUN_IDs, run filters, or ``--all-runs``: exactly one of them (a harvest of every
    run of a repository is never the silent default)."""
    all_runs = getattr(args, "all_runs", False)
    if args.run_ids and _has_run_filters(args):
        raise UsageError("give RUN_IDs or run filters (--status, --since, ...), not both")
    if all_runs and (args.run_ids or _has_run_filters(args)):
        raise UsageError("--all-runs takes every run: drop the RUN_IDs and run filters")
    if not args.run_ids and not _has_run_filters(args) and not all_runs:
        raise UsageError(
            "give a RUN_ID or a run filter (--since 7d, --status failure, ...); "
            "--all-runs harvests every run of the repository"
        )


def list_runs(client: Client, owner: str, repo: str, args: argparse.Namespace) -> RunStream:
    """The runs the filter options select."""
    created = None if args.since is None and args.until is None else (args.since, args.until)
    return client.list_runs(
        owner,
        repo,
        workflow=args.workflow,
        branch=args.branch,
        event=args.event,
        status=args.status,
        actor=args.actor,
        head_sha=args.sha,
        created=created,
    )


def _harvest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--failed-only", action="store_true", help="only jobs that failed or timed out"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="log downloads in flight (default: 3 x the API concurrency, at most 64)",
    )


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


def _app_settings(args: argparse.Namespace) -> tuple[str, Path] | None:
    """The App's id and key file, from the options or the environment; None: use a token.

    A token and an App given the same way (options, or environment) are a usage error;
    options win over the environment.
    """
    app_options = args.app_id is not None or args.app_key_file is not None
    token_options = args.token_file is not None or args.anonymous
    if token_options and (app_options or args.installation_id is not None):
        raise UsageError("give a token (--token-file, --anonymous) or an App (--app-id), not both")
    if token_options:
        return None
    # each half from its option, else from its variable: --app-id with $GH_JOBS_APP_KEY_FILE
    env_key = os.environ.get("GH_JOBS_APP_KEY_FILE") or None
    app_id = args.app_id if args.app_id is not None else os.environ.get("GH_JOBS_APP_ID") or None
    key_file = args.app_key_file
    if key_file is None and env_key is not None:
        key_file = Path(env_key)
    if not app_options:
        if app_id is None and key_file is None:
            if args.installation_id is not None:
                raise UsageError("--installation-id needs an App: --app-id and --app-key-file")
            return None
        if os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN"):
            raise UsageError(
                "both a token ($GH_TOKEN/$GITHUB_TOKEN) and an App ($GH_JOBS_APP_ID) are set: "
                "unset one, or choose with --token-file or --app-id"
            )
    if app_id is None or key_file is None:
        raise UsageError(
            "an App needs both --app-id (or $GH_JOBS_APP_ID) and --app-key-file "
            "(or $GH_JOBS_APP_KEY_FILE)"
        )
    return app_id, key_file


def _app_auth(
    args: argparse.Namespace, app_id: str, key_file: Path, token_store: TokenStore | None
) -> gh_jobs_async.Auth:
    """The installation auth the App options ask for (its token shared on ``token_store``)."""
    try:
        app = AppAuth(int(app_id) if app_id.isdecimal() else app_id, key_file)
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    if args.installation_id is not None:
        return app.installation(args.installation_id, token_store=token_store)
    owner, repo = split_repository(args.repository)
    return app.installation(owner=owner, repo=repo, token_store=token_store)


def _token_store(
    args: argparse.Namespace, app: tuple[str, Path] | None, limits: LimitStore | None
) -> TokenStore | None:
    """The store ``--share-token`` shares the installation token on: the ``--redis`` one."""
    if not getattr(args, "share_token", False):
        return None
    if app is None:
        raise UsageError("--share-token shares an App's installation token: give --app-id")
    store: object = limits  # a RedisStore is both
    if not isinstance(store, TokenStore):
        raise UsageError("--share-token needs --redis URL (or $GH_JOBS_REDIS_URL)")
    return store


def split_repository(text: str) -> tuple[str, str]:
    """``OWNER/REPO`` into its two parts."""
    owner, slash, repo = text.partition("/")
    if not slash or not owner or not repo or "/" in repo:
        raise UsageError(f"expected OWNER/REPO, got {text!r}")
    return owner, repo


def make_client(args: argparse.Namespace, limits: LimitStore | None = None) -> Client:
    """A client configured from the common options."""
    app = _app_settings(args)
    store = _token_store(args, app, limits)
    return Client(
        None if app is not None else read_token(args),
        auth=None if app is None else _app_auth(args, *app, store),
        base_url=args.api_url,
        max_concurrency=args.max_concurrency,
        requests_per_minute=args.requests_per_minute or None,
        ca_bundle=args.ca_bundle,
        limits=limits,
    )


@contextlib.asynccontextmanager
async def open_client(args: argparse.Namespace) -> AsyncIterator[Client]:
    """The client of the common options, on the shared Redis budget with ``--redis``."""
    async with contextlib.AsyncExitStack() as stack:
        store: LimitStore | None = None
        if getattr(args, "redis", None):
            from gh_jobs_async.redis import RedisStore  # noqa: PLC0415 - the redis extra

            store = await stack.enter_async_context(RedisStore(args.redis))
        yield await stack.enter_async_context(make_client(args, store))


def job_json(job: Job) -> str:
    """One job as a JSON line."""
    return json.dumps(job.to_dict(), separators=(",", ":"), default=str)


async def cmd_get(args: argparse.Namespace) -> int:
    """``gh-jobs get``."""
    from ._cli_output import Output  # noqa: PLC0415 - rich is imported only when needed

    owner, repo = split_repository(args.repository)
    async with open_client(args) as client:
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
    async with open_client(args) as client:
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


async def cmd_runs(args: argparse.Namespace) -> int:
    """``gh-jobs runs``: a table, or JSON Lines streamed as pages arrive."""
    from ._cli_output import Output  # noqa: PLC0415

    owner, repo = split_repository(args.repository)
    out = Output()
    async with open_client(args) as client:
        stream = list_runs(client, owner, repo, args)
        if args.json:
            async for run in stream:
                out.line(json.dumps(run.to_dict(), separators=(",", ":"), default=str))
            return EXIT_OK
        runs = await stream.collect()
    out.runs_table(runs, title=f"{owner}/{repo}")
    return EXIT_OK


async def _followed(
    updates: AsyncIterator[JobUpdate], failed_only: bool, display: HarvestDisplay
) -> AsyncIterator[JobUpdate]:
    """The updates of a watch (completed failed ones only with ``--failed-only``), telling the
    display of each job as it is first seen."""
    async for update in updates:
        if update.first_seen and not failed_only:
            display.expect(1, final=False)
        if not failed_only or (update.completed and update.job.conclusion in FAILED_CONCLUSIONS):
            yield update
    display.listing_done()


async def cmd_watch(args: argparse.Namespace) -> int:
    """``gh-jobs watch``: a live table on a terminal, one line per change otherwise."""
    from ._cli_watch import WatchDisplay  # noqa: PLC0415

    owner, repo = split_repository(args.repository)
    async with open_client(args) as client:
        updates = client.watch_run(
            owner, repo, args.run_id, attempt=args.attempt, interval=args.interval
        )
        display = WatchDisplay(f"{owner}/{repo} run {args.run_id}")
        async with display:
            async for update in updates:
                display.update(update)
        run = await client.get_run(owner, repo, args.run_id, attempt=args.attempt)
    display.summary(run)
    if args.exit_status and run.conclusion != RunConclusion.SUCCESS:
        return EXIT_FAILED
    return EXIT_OK


async def _make_out_dir(path: Path) -> None:
    """Create ``--out`` up front, so that a bad one is a usage error, not a failed harvest."""
    try:
        await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {path}: {exc.strerror or exc}") from None


async def harvest(client: Client, owner: str, repo: str, args: argparse.Namespace) -> int:
    """Harvest with the live display; the exit status says whether every log arrived.

    Every argument is checked before ``--out`` is created or anything is sent.
    """
    from ._cli_output import HarvestDisplay  # noqa: PLC0415

    display = HarvestDisplay(client, args.out)
    jobs: AsyncIterator[Job] | AsyncIterator[JobUpdate]
    record: Callable[[LogResult], Awaitable[None]] | None = None
    selection: JobSelection | None = None
    if getattr(args, "follow", False):
        if len(args.run_ids) != 1:
            raise UsageError("--follow harvests one run: give one RUN_ID")
        if _has_run_filters(args):
            raise UsageError("--follow harvests one RUN_ID, not the runs filters select")
        if args.filter != "latest":
            raise UsageError("--follow harvests the attempts it watches: drop --filter")
        updates = client.watch_run(  # as harvest(follow=True): no backoff, prompt logs
            owner,
            repo,
            args.run_ids[0],
            attempt=args.attempt,
            interval=args.interval,
            max_interval=args.interval,
        )
        jobs = _followed(updates, args.failed_only, display)
    else:
        _check_run_selection(args)
        # one RUN_ID by itself: its 404 is an error; of many, a missing one is skipped
        runs: int | list[int] | RunStream = (
            args.run_ids[0]
            if len(args.run_ids) == 1
            else args.run_ids or list_runs(client, owner, repo, args)
        )
        selection = client.select_jobs(
            owner,
            repo,
            runs,
            args.out,
            filter=args.filter,
            attempt=args.attempt,
            only_failed=args.failed_only,
            on_run=lambda count: display.expect(count, final=False),
            on_done=display.listing_done,
        )
        jobs, record = selection, selection.record
    batch = client.download_logs(
        owner,
        repo,
        jobs,
        args.out,
        concurrency=args.concurrency,
        progress=display.event,
    )
    await _make_out_dir(args.out)
    try:
        async with display, batch:
            async for result in batch:
                display.result(result)
                if record is not None:
                    await record(result)
    except asyncio.CancelledError:
        display.summary(interrupted=True)
        raise
    display.summary()
    skipped = 0 if selection is None else selection.runs_skipped
    if skipped:  # warned about one by one; the others were harvested
        sys.stderr.write(f"gh-jobs: {skipped} runs skipped: GitHub answered 404\n")
    return EXIT_OK if display.all_ok and not skipped else EXIT_FAILED


async def cmd_logs(args: argparse.Namespace) -> int:
    """``gh-jobs logs``."""
    owner, repo = split_repository(args.repository)
    async with open_client(args) as client:
        return await harvest(client, owner, repo, args)


async def cmd_view(args: argparse.Namespace) -> int:
    """``gh-jobs view``: the job's log with ``--log``, else its summary (as ``get``)."""
    from ._cli_view import run_view  # noqa: PLC0415

    owner, repo = split_repository(args.repository)
    if not args.log:
        if args.failed or args.step is not None or args.tail is not None:
            raise UsageError("--failed, --step and --tail need --log")
        return await cmd_get(argparse.Namespace(**vars(args), json=False))
    if args.failed and args.step is not None:
        raise UsageError("--failed and --step exclude each other")
    if args.tail is not None and args.tail < 0:
        raise UsageError(f"--tail expects an integer >= 0, got {args.tail}")
    async with open_client(args) as client:
        return await run_view(client, owner, repo, args)


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
    out.line(f"logs are in {args.out.resolve()}")
    out.line("run the demo again: it skips every log that is already complete")
    return status


def cmd_fake_server(argv: list[str]) -> int:
    """``gh-jobs fake-server``: the fake GitHub's own command line."""
    from gh_jobs_async.testing import main as fake_main  # noqa: PLC0415

    return fake_main(argv)


Command = Callable[[argparse.Namespace], Awaitable[int]]
COMMANDS: dict[str, Command] = {
    "get": cmd_get,
    "list": cmd_list,
    "runs": cmd_runs,
    "logs": cmd_logs,
    "watch": cmd_watch,
    "view": cmd_view,
    "demo": cmd_demo,
}


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is now, so the live display can show log lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # logging must never break the command
            self.handleError(record)


def configure_logging(debug: bool) -> None:
    """WARNING (retries, waits) to stderr; DEBUG with ``--debug``. Never the token."""
    handler = _StderrHandler()
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s" if debug else "gh-jobs: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger("gh_jobs_async")
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)  # main() may run more than once in a process
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


async def _run(command: Command, args: argparse.Namespace) -> int:
    """Run a command; SIGTERM cancels it like Ctrl-C does, and surfaces as `Terminated`."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError):  # not POSIX, or not main thread
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await command(args)
    except asyncio.CancelledError:
        if terminated:
            raise Terminated from None
        raise
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)


def _stopped(args: argparse.Namespace, argv: Sequence[str], why: str) -> None:
    """Say that the command stopped and, for a harvest, how to resume it."""
    if getattr(args, "out", None) is None:
        sys.stderr.write(f"gh-jobs: {why}\n")
        return
    again = shlex.join(["gh-jobs", *argv])
    sys.stderr.write(
        f"gh-jobs: {why}; no partial files were left. To resume, run the same command "
        f"again (complete logs are skipped): {again}\n"
    )


#: The library's parameter names that the CLI's options feed, by the option's name.
_OPTION_OF = {
    "created": "--since/--until",
    "head_sha": "--sha",
    "workflow": "--workflow",
    "branch": "--branch",
    "event": "--event",
    "status": "--status",
    "actor": "--actor",
}


def _as_option_error(exc: InvalidArgumentError) -> BaseException:
    """An argument error in terms of the option the user gave (``--sha``, not ``head_sha``)."""
    option = _OPTION_OF.get(exc.name)
    if option is None:
        return exc
    value = exc.value
    if isinstance(value, tuple):  # a (since, until) pair of dates or datetimes
        shown = " .. ".join("-" if end is None else _iso(end) for end in value)
    else:
        shown = repr(value)
    return UsageError(f"{option} {shown}: {exc.reason}")


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _error(exc: BaseException, debug: bool, hint: str = "") -> None:
    """One line on stderr; the whole traceback first with ``--debug``."""
    if debug:
        traceback.print_exception(exc)
    sys.stderr.write(f"gh-jobs: error: {exc}{hint}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gh-jobs``; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fake-server"]:
        return cmd_fake_server(argv[1:])
    args = build_parser().parse_args(argv)
    debug = bool(args.debug)
    configure_logging(debug)
    try:
        return asyncio.run(_run(COMMANDS[args.command], args))
    except KeyboardInterrupt:
        _stopped(args, argv, "interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        _stopped(args, argv, "terminated")
        return EXIT_TERMINATED
    except (UnauthorizedError, ForbiddenError) as exc:
        _error(exc, debug, "; check the token and its permissions")
        return EXIT_USAGE
    except InvalidArgumentError as exc:
        _error(_as_option_error(exc), debug)
        return EXIT_USAGE
    except UsageError as exc:
        _error(exc, debug)
        return EXIT_USAGE
    except GhJobsError as exc:
        _error(exc, debug)
        return EXIT_FAILED
    except OSError as exc:
        _error(exc, debug)
        return EXIT_FAILED
    except ModuleNotFoundError as exc:
        if exc.name == "redis":
            _error(
                exc, debug, "; --redis needs the redis extra: pip install 'gh_jobs_async[redis]'"
            )
            return EXIT_USAGE
        if exc.name != "rich":
            raise
        _error(exc, debug, "; install the cli extra: pip install 'gh_jobs_async[cli]'")
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
