"""The object users hold: :class:`Client`, every operation as a method."""

from __future__ import annotations

import asyncio
import math
import os
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp

from . import _sansio
from ._appauth import AppAuth
from ._auth import Auth, ProviderAuth
from ._created import CreatedInput, RunFilters, parse_created
from ._files import DEFAULT_NAMING, Namer, Naming
from ._harvest import GRACE_STEP, LOG_GRACE, Fetcher, LogBatch, summarize
from ._limits import LimitStore, LocalLimits
from ._logread import LogReader
from ._logread import tail_log as _tail_log
from ._logs import JobsInput, ProgressHook, logs_url, resolve_location, target_for
from ._logtext import DEFAULT_MAX_LINE, LogLine
from ._paginate import JobStream, fetch_page
from ._runs import RunStream
from ._selection import JobSelection, RunLedger, RunsInput, check_runs
from ._session import Session, SessionConfig, make_ssl_context
from ._watch import watch
from .exceptions import ClientClosedError, InvalidArgumentError
from .models import (
    CacheStats,
    HarvestSummary,
    Job,
    JobConclusion,
    JobsPage,
    JobUpdate,
    LogLocation,
    LogResult,
    RateLimit,
    WorkflowRun,
    decode_job,
    decode_run,
)

__all__ = ["Client"]

_API_VERSION_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
FAILED_CONCLUSIONS = frozenset({JobConclusion.FAILURE, JobConclusion.TIMED_OUT})


def _positive(name: str, value: object, *, allow_none: bool = False, integer: bool = True) -> None:
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (integer and not isinstance(value, int))
        or value <= 0
    ):
        kind = "a positive integer" if integer else "a positive number"
        raise InvalidArgumentError(
            name, value, f"expected {kind}" + (" or None" if allow_none else "")
        )


def _seconds(name: str, value: object, *, allow_zero: bool = False) -> float:
    """A finite number of seconds (> 0, or >= 0 with ``allow_zero``) as a float."""
    seconds = None
    if not isinstance(value, bool) and isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = None
    if (
        seconds is None
        or not math.isfinite(seconds)
        or seconds < 0
        or (seconds == 0 and not allow_zero)
    ):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidArgumentError(name, value, f"expected a finite number of seconds {bound}")
    return seconds


def _non_negative_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(name, value, "expected an integer >= 0")


def _check_limits(limits: object) -> LimitStore | None:
    if limits is not None and not isinstance(limits, LimitStore):
        raise InvalidArgumentError(
            "limits", f"<{type(limits).__name__}>", "expected a LimitStore such as RedisStore"
        )
    return limits


def _check_token(token: object) -> str | None:
    if token is None:
        return None
    if not isinstance(token, str):
        raise InvalidArgumentError(
            "token", f"<{type(token).__name__}>", "expected a string or None"
        )
    if not token or any(ch.isspace() or not ch.isprintable() for ch in token):
        # the value itself is a secret: name it, never show it
        raise InvalidArgumentError("token", "<redacted>", "empty, or contains whitespace")
    return token


def _check_auth(auth: object, token: str | None) -> None:
    if auth is None:
        return
    if not isinstance(auth, Auth):
        raise InvalidArgumentError(
            "auth", f"<{type(auth).__name__}>", "expected an auth from gh_jobs_async.auth"
        )
    if token is not None:
        raise InvalidArgumentError("auth", auth, "give token= or auth=, not both")
    if isinstance(auth, AppAuth):
        raise InvalidArgumentError(
            "auth", auth, "an App's JWT opens only /app endpoints: pass app.installation(...)"
        )


def _check_shared_budget(auth: object, limits: LimitStore | None) -> None:
    """A shared store names its budget when the client is made: an unnamed provider has no
    token yet to name it after, and every such client would share one budget."""
    if limits is None or isinstance(limits, LocalLimits):
        return
    if isinstance(auth, ProviderAuth) and auth.name is None and not getattr(limits, "budget", None):
        raise InvalidArgumentError(
            "auth",
            auth,
            "a shared LimitStore needs the budget's name before the provider's first token: "
            "give ProviderAuth(..., name=...) or the store's budget=",
        )


class Client:
    """An asyncio client for GitHub's workflow-jobs endpoints.

    Use it as ``async with Client(token) as gh: ...``. It owns one
    ``aiohttp.ClientSession`` (or borrows ``session=``, which it then does not
    close), and every request it makes shares one limiter (``max_concurrency``
    requests in flight) and one pacer (at most ``requests_per_minute`` requests
    in any 60 s window; ``None`` turns pacing off). The library never reads
    environment variables: pass the token explicitly.

    ``auth=`` replaces ``token=`` with an auth object from :mod:`gh_jobs_async.auth`
    (a provider, or a GitHub App installation whose tokens renew themselves); it is
    consulted on every request and told about 401s. Giving both is an
    :class:`~gh_jobs_async.InvalidArgumentError`. A renewal keeps the limiter, the
    pacer and every rate-limit pause: the budget follows the identity.

    ``base_url`` is ``https://api.github.com`` or a GitHub Enterprise Server
    root such as ``https://ghe.example.com/api/v3``. ``ca_bundle`` adds a CA
    file to trust (TLS verification is always on). ``sleep`` and ``clock``
    (epoch seconds) can be injected, e.g. to test waits instantly; an injected
    clock also drives pacing, which otherwise uses ``time.monotonic``.

    JSON GETs (a job, a page of jobs, a run) are conditional requests: the
    answer is kept in memory (bounded) and the next GET of the same URL, with the
    same credential, sends its ``ETag``; a 304 returns the kept value and costs
    no primary budget, but counts for the limiter and pacer like any request.
    Nothing is answered from memory without asking GitHub. ``etag_cache=False``
    turns this off; :attr:`cache_stats` reports what it did.

    ``limits`` is where the budget's state lives: ``None`` keeps it in this
    client; a shared store such as :class:`gh_jobs_async.redis.RedisStore`
    makes every client of the same token (or ``budget=`` name) one polite
    client, and ``max_concurrency`` and ``requests_per_minute`` become totals
    across them. The client never closes the store.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        auth: Auth | None = None,
        base_url: str = _sansio.DEFAULT_BASE_URL,
        max_concurrency: int = 10,
        requests_per_minute: int | None = 900,
        max_rate_limit_wait: float = 300.0,
        max_retries: int = 5,
        max_secondary_retries: int = 5,
        api_version: str = _sansio.DEFAULT_API_VERSION,
        user_agent: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        ca_bundle: str | os.PathLike[str] | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        etag_cache: bool = True,
        limits: LimitStore | None = None,
    ) -> None:
        token = _check_token(token)
        _check_auth(auth, token)
        _check_shared_budget(auth, _check_limits(limits))
        api = _sansio.parse_base_url(base_url)
        if auth is not None:
            auth.bind(api)  # an App belongs to one host: raises for another
        _positive("max_concurrency", max_concurrency)
        if max_concurrency > 100:
            raise InvalidArgumentError(
                "max_concurrency", max_concurrency, "GitHub allows at most 100 requests in flight"
            )
        _positive("requests_per_minute", requests_per_minute, allow_none=True)
        rate_limit_wait = _seconds("max_rate_limit_wait", max_rate_limit_wait, allow_zero=True)
        _non_negative_int("max_retries", max_retries)
        _non_negative_int("max_secondary_retries", max_secondary_retries)
        if not isinstance(api_version, str) or not _API_VERSION_RE.fullmatch(api_version):
            raise InvalidArgumentError(
                "api_version", api_version, "expected a date like 2022-11-28"
            )
        if user_agent is not None and (not isinstance(user_agent, str) or not user_agent.strip()):
            raise InvalidArgumentError("user_agent", user_agent, "expected a non-empty string")
        connect_seconds = _seconds("connect_timeout", connect_timeout)
        read_seconds = _seconds("read_timeout", read_timeout)
        if session is not None and "Authorization" in session.headers:
            raise InvalidArgumentError(
                "session",
                "<aiohttp.ClientSession>",
                "its default headers carry Authorization, which would reach the log host",
            )
        if not isinstance(etag_cache, bool):
            raise InvalidArgumentError("etag_cache", etag_cache, "expected True or False")
        ssl_context: ssl.SSLContext | None = make_ssl_context(
            os.fspath(ca_bundle) if ca_bundle is not None else None
        )
        self._session = Session(
            SessionConfig(
                api=api,
                token=token,
                auth=auth,
                api_version=api_version,
                user_agent=user_agent or _sansio.USER_AGENT,
                max_concurrency=max_concurrency,
                requests_per_minute=requests_per_minute,
                max_rate_limit_wait=rate_limit_wait,
                max_retries=max_retries,
                max_secondary_retries=max_secondary_retries,
                connect_timeout=connect_seconds,
                read_timeout=read_seconds,
                ssl_context=ssl_context,
                clock=clock or time.time,
                monotonic=clock or time.monotonic,
                sleep=sleep or asyncio.sleep,
                etag_cache=etag_cache,
                limits=_check_limits(limits),
            ),
            session,
        )

    def __repr__(self) -> str:
        state = "closed" if self._session.closed else "open"
        return (
            f"<gh_jobs_async.Client {self._session.api.url} {state} "
            f"max_concurrency={self._session.config.max_concurrency} "
            f"requests_per_minute={self._session.config.requests_per_minute}>"
        )

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (unless it was borrowed). Idempotent."""
        await self._session.close()

    @property
    def base_url(self) -> str:
        """The API root requests go to, without a trailing slash."""
        return self._session.api.url

    @property
    def auth(self) -> Auth:
        """How this client authenticates (``TokenAuth`` for ``token=``)."""
        return self._session.auth

    @property
    def budget_key(self) -> str:
        """A stable, non-secret name of the rate-limit budget this client spends."""
        return self._session.budget_key

    @property
    def rate_limit(self) -> RateLimit | None:
        """The latest primary rate-limit state GitHub reported, if any."""
        return self._session.rate_limit

    @property
    def paused_for(self) -> float:
        """Seconds until GitHub lets requests flow again (0.0 when not rate limited)."""
        return self._session.paused_for()

    @property
    def cache_stats(self) -> CacheStats | None:
        """Hits, misses and bytes held by the conditional-request cache (``None`` when off)."""
        cache = self._session.cache
        return None if cache is None else cache.stats

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests this client sent to the API (retries included)."""
        return self._session.requests_sent

    def _check_open(self) -> None:
        if self._session.closed:
            raise ClientClosedError("the client is closed")

    async def get_job(self, owner: str, repo: str, job_id: int) -> Job:
        """Get one job: ``GET /repos/{owner}/{repo}/actions/jobs/{job_id}``.

        Raises :class:`~gh_jobs_async.NotFoundError` for an unknown job.
        """
        url = self._session.api.build(*_sansio.job_segments(owner, repo, job_id))
        self._check_open()
        answer = await self._session.request(url)
        return decode_job(answer.body)

    async def get_run(
        self, owner: str, repo: str, run_id: int, *, attempt: int | None = None
    ) -> WorkflowRun:
        """Get a workflow run: ``GET /repos/{owner}/{repo}/actions/runs/{run_id}``.

        With ``attempt``, that attempt of the run
        (``.../runs/{run_id}/attempts/{attempt}``). Raises
        :class:`~gh_jobs_async.NotFoundError` for an unknown run or attempt.
        """
        url = self._session.api.build(*_sansio.run_segments(owner, repo, run_id, attempt))
        self._check_open()
        answer = await self._session.request(url)
        return decode_run(answer.body)

    def list_runs(
        self,
        owner: str,
        repo: str,
        *,
        workflow: int | str | None = None,
        branch: str | None = None,
        event: str | None = None,
        status: str | None = None,
        actor: str | None = None,
        head_sha: str | None = None,
        created: CreatedInput = None,
        exclude_pull_requests: bool = False,
        per_page: int = 100,
    ) -> RunStream:
        """Stream every workflow run matching the filters, each once, newest first.

        ``workflow`` (an id or a file name like ``"ci.yml"``) lists
        ``GET .../actions/workflows/{workflow}/runs``, else ``GET .../actions/runs``.
        ``status`` is a status or a conclusion (``"failure"``, ``"startup_failure"``...);
        ``head_sha`` the full commit SHA (GitHub documents no prefix match).
        ``created`` is an aware ``datetime`` or a ``date`` (that moment or UTC day
        onwards), a ``(since, until)`` pair (either may be ``None``; both inclusive, to
        the second), a GitHub qualifier such as ``">=2026-01-01"`` or
        ``"2026-01-01..2026-01-31"``, or a :class:`CreatedRange`; a naive datetime is an
        error. A search reaches at most 1,000 runs on GitHub: past that the ``created``
        range is split in halves on whole seconds (probed concurrently) until each fits,
        so every match is listed; more than 1,000 runs in one second raise
        :class:`~gh_jobs_async.RunsCapError`. Arguments are checked now, before any
        request; requests start with the iteration.
        """
        owner = _sansio.validate_owner(owner)
        repo = _sansio.validate_repo(repo)
        filters = RunFilters.create(
            workflow=workflow,
            branch=branch,
            event=event,
            status=status,
            actor=actor,
            head_sha=head_sha,
            exclude_pull_requests=exclude_pull_requests,
        )
        window = parse_created(created)
        per_page = _sansio.validate_per_page(per_page)
        segments: tuple[str | int, ...] = ("repos", owner, repo, "actions")
        if filters.workflow is None:
            segments += ("runs",)
        else:
            segments += ("workflows", filters.workflow, "runs")
        self._check_open()
        return RunStream(
            self._session,
            segments,
            filters,
            window,
            per_page=per_page,
            batch=max(2, 2 * self._session.config.max_concurrency),
        )

    def watch_run(
        self,
        owner: str,
        repo: str,
        run_id: int,
        *,
        attempt: int | None = None,
        interval: float = 3.0,
        max_interval: float | None = None,
    ) -> AsyncIterator[JobUpdate]:
        """Watch a run while it happens: each change of each job, once, in the order observed.

        Every ``interval`` seconds (any positive number) the run and the jobs of the
        watched attempt are fetched with conditional requests: an unchanged answer is a
        304 and costs no primary budget. While nothing changes the wait grows (by half
        each poll) up to ``max_interval`` (default ``2 * interval``); a change brings it
        back to ``interval``. Each :class:`JobUpdate` carries the job now and what changed:
        first seen, status, conclusion, steps done. Only observed states are reported (a
        job seen queued and then completed is one update), never one twice, never
        backwards. The iteration ends when the run and every job of the watched attempt
        are completed. ``attempt=None`` follows re-runs: a new attempt's jobs are reported
        as they appear; ``attempt=N`` watches that attempt only. Arguments are checked
        now; requests start with the iteration. Breaking out or cancelling leaves nothing
        running.
        """
        owner = _sansio.validate_owner(owner)
        repo = _sansio.validate_repo(repo)
        run_id = _sansio.validate_id("run_id", run_id)
        if attempt is not None:
            attempt = _sansio.validate_id("attempt", attempt)
        every = _seconds("interval", interval)
        cap = 2 * every if max_interval is None else _seconds("max_interval", max_interval)
        if cap < every:
            raise InvalidArgumentError(
                "max_interval", max_interval, f"expected at least interval={interval}"
            )
        self._check_open()
        return watch(
            self._session,
            owner,
            repo,
            run_id,
            attempt=attempt,
            interval=every,
            max_interval=cap,
        )

    def _jobs_url(
        self,
        owner: str,
        repo: str,
        run_id: int,
        *,
        filter: str,
        attempt: int | None,
        per_page: int,
        page: int | None,
    ) -> str:
        """Validate a listing's arguments and build its first URL (before any request)."""
        owner = _sansio.validate_owner(owner)
        repo = _sansio.validate_repo(repo)
        run_id = _sansio.validate_id("run_id", run_id)
        per_page = _sansio.validate_per_page(per_page)
        _sansio.validate_filter(filter)
        query: dict[str, str | int] = {}
        if attempt is None:
            path: tuple[str | int, ...] = ("repos", owner, repo, "actions", "runs", run_id, "jobs")
            query["filter"] = filter
        else:
            attempt = _sansio.validate_id("attempt", attempt)
            if filter != "latest":
                raise InvalidArgumentError(
                    "filter", filter, "the attempts endpoint lists one attempt and takes no filter"
                )
            path = ("repos", owner, repo, "actions", "runs", run_id, "attempts", attempt, "jobs")
        query["per_page"] = per_page
        if page is not None:
            query["page"] = _sansio.validate_id("page", page)
        return self._session.api.build(*path, query=query)

    def list_jobs(
        self,
        owner: str,
        repo: str,
        run_id: int,
        *,
        filter: str = "latest",
        attempt: int | None = None,
        per_page: int = 100,
        max_items: int | None = None,
    ) -> JobStream:
        """Stream every job of a workflow run, in order, each once.

        ``attempt=None`` lists ``GET .../runs/{run_id}/jobs`` with ``filter``
        (``"latest"``: the newest attempt's jobs; ``"all"``: every attempt's);
        ``attempt=N`` lists ``GET .../runs/{run_id}/attempts/{N}/jobs``. Once
        the first page says how many pages there are, the rest are fetched
        concurrently. Use ``async for job in client.list_jobs(...)`` or
        ``await client.list_jobs(...).collect()``. Arguments are checked now;
        requests start with the iteration.
        """
        url = self._jobs_url(
            owner, repo, run_id, filter=filter, attempt=attempt, per_page=per_page, page=None
        )
        if max_items is not None:
            _positive("max_items", max_items)
        self._check_open()
        return JobStream(
            self._session,
            url,
            per_page=per_page,
            max_items=max_items,
            window=max(2, 2 * self._session.config.max_concurrency),
        )

    async def get_jobs_page(
        self,
        owner: str,
        repo: str,
        run_id: int,
        *,
        page: int = 1,
        per_page: int = 100,
        filter: str = "latest",
        attempt: int | None = None,
    ) -> JobsPage:
        """Fetch one page of a job listing: ``total_count``, ``jobs`` and ``links``."""
        url = self._jobs_url(
            owner, repo, run_id, filter=filter, attempt=attempt, per_page=per_page, page=page
        )
        self._check_open()
        return await fetch_page(self._session, url)

    # ------------------------------------------------------------------ logs

    async def get_log_url(self, owner: str, repo: str, job_id: int) -> LogLocation:
        """Resolve where a job's log can be downloaded, without following the redirect.

        ``GET .../actions/jobs/{job_id}/logs`` answers 302 with a signed
        ``Location`` that expires after about a minute. Raises
        :class:`~gh_jobs_async.LogsNotAvailableError` (404: queued, running or
        never ran) or :class:`~gh_jobs_async.LogsGoneError` (410: expired or
        deleted). When GitHub answers 200 with the log itself, the result has
        ``inline=True`` and ``url`` is the API's logs URL.
        """
        url = logs_url(self._session, owner, repo, job_id)
        self._check_open()
        location, _inline = await resolve_location(self._session, url)
        return location

    async def download_log(
        self,
        owner: str,
        repo: str,
        job_id: int,
        dest: str | os.PathLike[str],
        *,
        max_attempts: int = 4,
    ) -> LogResult:
        """Download one job's log to ``dest`` (a file path, or a directory for ``{job_id}.log``).

        The body streams to a temporary file beside the destination, is checked
        against ``Content-Length`` and hashed (SHA-256) on the way, then renamed
        into place: the file exists only when complete. Missing parent folders
        are created. The request to the ``Location`` carries no token. Raises
        :class:`~gh_jobs_async.LogsNotAvailableError`,
        :class:`~gh_jobs_async.LogsGoneError`, or the last download error once
        ``max_attempts`` (each with a fresh Location) are spent.
        """
        logs_url(self._session, owner, repo, job_id)  # validate before anything else
        _positive("max_attempts", max_attempts)
        target = target_for(os.fspath(dest), job_id)
        self._check_open()
        fetcher = Fetcher(self._session, owner, repo, max_attempts=max_attempts)
        return await fetcher.fetch(job_id, target)

    def open_log(
        self,
        owner: str,
        repo: str,
        job_id: int,
        *,
        max_attempts: int = 4,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> LogReader:
        """Read one job's log as a stream, without writing it: ``async with gh.open_log(...)``.

        The reader gives ``log.chunks()`` (bytes as they arrive), ``log.lines()``
        (text lines) or ``log.entries()`` (:class:`LogLine` entries, continuation
        lines joined), once. Memory stays bounded: a line longer than
        ``max_line`` bytes is cut and flagged. A body that breaks part-way is
        continued from the byte it stopped at, with a fresh ``Location``, up to
        ``max_attempts`` requests; the caller sees one unbroken stream. Raises
        :class:`~gh_jobs_async.LogsNotAvailableError`,
        :class:`~gh_jobs_async.LogsGoneError`,
        :class:`~gh_jobs_async.LogChangedError` (the log changed while read) or
        the last download error, from the iteration.
        """
        url = logs_url(self._session, owner, repo, job_id)
        _positive("max_attempts", max_attempts)
        _positive("max_line", max_line)
        self._check_open()
        return LogReader(self._session, url, job_id, max_attempts=max_attempts, max_line=max_line)

    async def tail_log(
        self, owner: str, repo: str, job_id: int, lines: int = 100, *, max_attempts: int = 4
    ) -> list[LogLine]:
        """The last ``lines`` entries of a job's log, reading it backwards.

        ``lines`` counts entries, not physical lines: an entry is a timestamped
        line with the lines without a timestamp that continue it (a traceback,
        a multi-line message), as :meth:`LogReader.entries` gives them; its
        ``lines`` attribute says how many physical lines it spans.
        Learns the size with a one-byte range, then reads windows from the end
        that double until they hold enough whole entries: the cost is about the
        size of those entries, not of the log. Entries read from the middle of
        the log have ``number=None`` (the line count before them is unknown).
        On a host that ignores ranges the whole log is streamed and its last
        entries kept. Each of these reads takes up to ``max_attempts`` requests;
        one ``Location`` serves them all while it works, each retry resolves a
        fresh one, and a body that breaks part-way is continued from the byte
        it reached, as :meth:`open_log` does. The
        windows are pinned to the probe's ETag (``If-Match``): a log replaced
        meanwhile is tailed again from a new probe, at most twice, then raises
        :class:`~gh_jobs_async.LogChangedError`. Same errors as :meth:`open_log`.
        """
        url = logs_url(self._session, owner, repo, job_id)
        _non_negative_int("lines", lines)
        _positive("max_attempts", max_attempts)
        self._check_open()
        return await _tail_log(self._session, url, job_id, lines, max_attempts=max_attempts)

    def download_logs(
        self,
        owner: str,
        repo: str,
        jobs: JobsInput,
        dest_dir: str | os.PathLike[str],
        *,
        concurrency: int | None = None,
        naming: Naming = DEFAULT_NAMING,
        max_attempts: int = 4,
        progress: ProgressHook | None = None,
        grace: float = LOG_GRACE,
    ) -> LogBatch:
        """Harvest many jobs' logs into ``dest_dir`` in parallel; results in completion order.

        ``jobs`` is any iterable or async iterable of job ids or :class:`Job`
        objects (a :meth:`list_jobs` stream feeds it directly). Each result says
        ``downloaded``, ``skipped`` (already complete and intact on disk, per the
        manifest ``.gh-jobs-manifest.jsonl``), ``not_available``, ``gone`` or
        ``failed``; one job's failure never stops the others, and only a 401 or
        cancellation ends the batch.

        ``concurrency`` bounds the blob downloads in flight (default: three times
        ``max_concurrency``); resolving each Location is an API request and goes
        through the client's limiter and pacer. ``naming`` is a format string
        over ``{job_id}``, ``{run_id}``, ``{run_attempt}``, ``{name}``,
        ``{conclusion}``, ``{status}``, ``{workflow_name}``, ``{head_branch}``,
        ``{head_sha}`` (e.g. ``"{run_id}/{job_id}-{name}.log"``), or a callable
        taking the Job (or id); every name is sanitised and cannot leave
        ``dest_dir``. ``progress`` receives a :class:`LogEvent` per step.

        A :class:`Job` that never ran (skipped, or cancelled before a runner took
        it) has no log: it is ``not_available`` at once, without a request, its
        result marked ``never_ran``. ``jobs`` may also be a :meth:`watch_run`
        iterator: each job is then taken when it is seen completed, and a 404 is
        retried for ``grace`` seconds after the job completed (logs appear a
        second or two later).
        """
        return self._log_batch(
            owner,
            repo,
            jobs,
            dest_dir,
            concurrency=concurrency,
            naming=naming,
            max_attempts=max_attempts,
            progress=progress,
            grace=grace,
        )

    def _log_batch(
        self,
        owner: str,
        repo: str,
        jobs: JobsInput,
        dest_dir: str | os.PathLike[str],
        *,
        concurrency: int | None,
        naming: Naming,
        max_attempts: int,
        progress: ProgressHook | None,
        grace: float,
        grace_step: float = GRACE_STEP,
    ) -> LogBatch:
        """:meth:`download_logs`; a log missing within ``grace`` is asked for again at
        most every ``grace_step`` s (a follow harvest: its watch interval, when shorter)."""
        _sansio.validate_owner(owner)
        _sansio.validate_repo(repo)
        if concurrency is None:
            concurrency = min(64, 3 * self._session.config.max_concurrency)
        _positive("concurrency", concurrency)
        _positive("max_attempts", max_attempts)
        grace_seconds = _seconds("grace", grace, allow_zero=True)
        namer = Namer.create(naming)
        if isinstance(jobs, list | tuple):
            for item in jobs:  # a plain sequence can be checked whole, before any request
                namer.check(item)
        self._check_open()
        fetcher = Fetcher(self._session, owner, repo, max_attempts=max_attempts, progress=progress)
        fetcher.grace, fetcher.grace_step = grace_seconds, grace_step
        return LogBatch(
            fetcher, jobs, Path(os.fspath(dest_dir)), namer=namer, concurrency=concurrency
        )

    # ------------------------------------------------------------ run selection

    def select_jobs(
        self,
        owner: str,
        repo: str,
        runs: RunsInput,
        dest_dir: str | os.PathLike[str],
        *,
        filter: str = "latest",
        attempt: int | None = None,
        only_failed: bool = False,
        on_run: Callable[[int], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> JobSelection:
        """The jobs of ``runs`` for a harvest into ``dest_dir``, one run after another.

        ``runs`` is one run id or ``WorkflowRun``, or any iterable or async iterable of
        them (a :meth:`list_runs` stream feeds it directly). Each run's jobs are listed
        with ``filter`` / ``attempt``; ``only_failed`` keeps those that concluded
        ``failure`` or ``timed_out``. Runs ``dest_dir`` finished before with the same
        selection are not listed again (see :class:`JobSelection`); pass every result
        of the harvest to :meth:`JobSelection.record` so that finished runs are
        remembered. :meth:`harvest` does all of this.
        """
        _sansio.validate_owner(owner)
        _sansio.validate_repo(repo)
        check_runs(runs)
        self._jobs_url(owner, repo, 1, filter=filter, attempt=attempt, per_page=100, page=None)
        if not isinstance(only_failed, bool):
            raise InvalidArgumentError("only_failed", only_failed, "expected True or False")
        self._check_open()
        selection = f"attempt={attempt}" if attempt is not None else filter
        ledger = RunLedger(Path(os.fspath(dest_dir)), selection, only_failed)
        return JobSelection(
            lambda run_id: self.list_jobs(owner, repo, run_id, filter=filter, attempt=attempt),
            runs,
            ledger,
            only_failed=only_failed,
            on_run=on_run,
            on_done=on_done,
            lookahead=self._session.config.max_concurrency,
            get_run=lambda run_id: self.get_run(owner, repo, run_id, attempt=attempt),
        )

    async def harvest(
        self,
        owner: str,
        repo: str,
        runs: RunsInput,
        dest_dir: str | os.PathLike[str],
        *,
        filter: str = "latest",
        attempt: int | None = None,
        only_failed: bool = False,
        concurrency: int | None = None,
        naming: Naming = DEFAULT_NAMING,
        max_attempts: int = 4,
        progress: ProgressHook | None = None,
        follow: bool = False,
        interval: float = 3.0,
    ) -> HarvestSummary:
        """List the jobs of one or many runs and download their logs as one pipeline.

        ``runs`` is one run id, or any iterable or async iterable of run ids or
        ``WorkflowRun``s (e.g. ``client.list_runs(owner, repo, status="failure")``);
        their jobs flow through one pool of downloads and one summary. Downloads start
        while later pages and runs are still being listed. With ``only_failed``, only
        jobs that concluded ``failure`` or ``timed_out`` are harvested. ``dest_dir``
        remembers the runs it finished (every job completed, every log on disk): a
        second harvest does not list their jobs again, and counts their logs as
        skipped. Returns counts per status, bytes, seconds and failures.

        ``follow=True`` harvests a run that is still going (``runs`` is then one run id
        or ``WorkflowRun``): it is watched (:meth:`watch_run`, every ``interval`` s,
        re-runs followed unless ``attempt`` is given, without the watch's backoff) and
        each job's log is downloaded as soon as the job completes; a 404 for a job just
        completed is retried for a grace period (logs appear a second or two later), and
        a job skipped or cancelled before it ran is reported ``not_available`` at once. It
        ends when the run ends. ``filter`` must then be ``"latest"``.
        """
        for name, flag in (("follow", follow), ("only_failed", only_failed)):
            if not isinstance(flag, bool):  # both paths, before any request
                raise InvalidArgumentError(name, flag, "expected True or False")
        every = _seconds("interval", interval)
        jobs: JobsInput
        on_result: Callable[[LogResult], Awaitable[None]] | None = None
        if follow:
            if filter != "latest":
                raise InvalidArgumentError(
                    "filter", filter, "follow=True harvests the attempts it watches"
                )
            run_id = _one_run(runs)
            # polled every `interval` s, without the watch's backoff while nothing changes:
            # each log is then taken within `interval` (plus its own delay) of completion
            updates = self.watch_run(
                owner, repo, run_id, attempt=attempt, interval=interval, max_interval=interval
            )
            jobs = _failed_updates(updates) if only_failed else updates
        else:
            selection = self.select_jobs(
                owner, repo, runs, dest_dir, filter=filter, attempt=attempt, only_failed=only_failed
            )
            jobs, on_result = selection, selection.record
        batch = self._log_batch(
            owner,
            repo,
            jobs,
            dest_dir,
            concurrency=concurrency,
            naming=naming,
            max_attempts=max_attempts,
            progress=progress,
            grace=LOG_GRACE,
            grace_step=min(GRACE_STEP, every),  # a missing log is asked for as often
        )
        return await summarize(batch, on_result=on_result)


def _one_run(runs: RunsInput) -> int:
    """The id of the one run ``follow=True`` watches."""
    if isinstance(runs, WorkflowRun):
        return runs.id
    if isinstance(runs, int) and not isinstance(runs, bool):
        return _sansio.validate_id("run_id", runs)
    raise InvalidArgumentError("runs", runs, "follow=True harvests one run: give one run id")


async def _failed_updates(updates: AsyncIterator[JobUpdate]) -> AsyncIterator[JobUpdate]:
    async for update in updates:
        if update.completed and update.job.conclusion in FAILED_CONCLUSIONS:
            yield update
