"""Pins the public signatures of gh_jobs_async for mypy (strict); never run by pytest.

``typing.assert_type`` fails the type check when a signature drifts, e.g. when
``get_job`` stops returning ``Job`` or an attribute silently becomes ``Any``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Literal, assert_type

import aiohttp

import gh_jobs_async
from gh_jobs_async import (
    ApiError,
    Client,
    CreatedRange,
    DecodeError,
    HarvestSummary,
    InvalidArgumentError,
    Job,
    JobConclusion,
    JobSelection,
    JobsPage,
    JobStatus,
    JobStream,
    LogChangedError,
    LogLine,
    LogReader,
    PrimaryRateLimitError,
    RateLimit,
    RunsCapError,
    RunStream,
    SecondaryRateLimitError,
    Step,
    StepLog,
    StepStatus,
    WorkflowRun,
    split_steps,
    strip_ansi,
)


async def client_methods(token: str | None, session: aiohttp.ClientSession) -> None:
    """Client construction, context management and every operation."""
    async with Client(token, base_url="https://ghe.example.com/api/v3", session=session) as gh:
        assert_type(gh, Client)
        assert_type(await gh.get_job("octo-org", "octo-repo", 1), Job)
        run = await gh.get_run("octo-org", "octo-repo", 2, attempt=1)
        assert_type(run, WorkflowRun)
        assert_type(run.created_at, datetime)
        assert_type(run.run_attempt, int | None)

        stream = gh.list_jobs("octo-org", "octo-repo", 2, filter="all", per_page=100)
        assert_type(stream, JobStream)
        assert_type(stream.total_count, int | None)
        assert_type(await stream.collect(), list[Job])
        async for job in gh.list_jobs("octo-org", "octo-repo", 2, attempt=1, max_items=10):
            assert_type(job, Job)

        page = await gh.get_jobs_page("octo-org", "octo-repo", 2, page=2, per_page=50)
        assert_type(page, JobsPage)
        assert_type(page.total_count, int)
        assert_type(page.jobs, tuple[Job, ...])
        assert_type(page.links, Mapping[str, str])

        assert_type(gh.rate_limit, RateLimit | None)
        assert_type(gh.base_url, str)
        assert_type(gh.requests_sent, int)
    assert_type(await gh.close(), None)


def injected_time() -> Client:
    """sleep and clock are injectable callables."""

    async def sleep(delay: float) -> None:
        return None

    def clock() -> float:
        return 0.0

    return Client(None, sleep=sleep, clock=clock, requests_per_minute=None, max_concurrency=5)


def models(job: Job, step: Step, rate: RateLimit) -> None:
    """Model attributes keep their precise types."""
    assert_type(job.id, int)
    assert_type(job.status, JobStatus | str)
    assert_type(job.conclusion, JobConclusion | str | None)
    assert_type(job.created_at, datetime)
    assert_type(job.completed_at, datetime | None)
    assert_type(job.labels, tuple[str, ...])
    assert_type(job.steps, tuple[Step, ...])
    assert_type(job.run_attempt, int | None)
    assert_type(job.runner_name, str | None)
    assert_type(job.duration, float | None)
    assert_type(step.status, StepStatus | str)
    assert_type(step.started_at, datetime | None)
    assert_type(step.number, int)
    assert_type(rate.reset_at, datetime)
    assert_type(rate.used, int | None)
    assert_type(rate.reset_epoch, float)


def errors(
    api: ApiError,
    primary: PrimaryRateLimitError,
    secondary: SecondaryRateLimitError,
    decode: DecodeError,
    invalid: InvalidArgumentError,
) -> None:
    """Exception attributes are plain, typed data."""
    assert_type(api.status, int)
    assert_type(api.url, str)
    assert_type(api.request_id, str | None)
    assert_type(api.documentation_url, str | None)
    assert_type(primary.reset_at, datetime | None)
    assert_type(secondary.retry_after, float | None)
    assert_type(decode.path, str)
    assert_type(invalid.name, str)
    assert isinstance(invalid, ValueError)


assert_type(gh_jobs_async.__version__, str)


async def runs(gh: Client, run: WorkflowRun, capped: RunsCapError) -> None:
    """Listing runs, selecting their jobs, harvesting them."""
    stream = gh.list_runs(
        "octo-org",
        "octo-repo",
        workflow="ci.yml",
        branch="main",
        event="push",
        status="failure",
        actor="octocat",
        head_sha="abc1234",
        created=(date(2026, 1, 1), None),
        exclude_pull_requests=True,
        per_page=100,
    )
    assert_type(stream, RunStream)
    assert_type(stream.total_count, int | None)
    assert_type(await stream.collect(), list[WorkflowRun])
    async for found in gh.list_runs("octo-org", "octo-repo", created=">=2026-01-01"):
        assert_type(found, WorkflowRun)
    gh.list_runs("octo-org", "octo-repo", created=CreatedRange(None, None), workflow=12)
    selection = gh.select_jobs("octo-org", "octo-repo", [1, run], "logs", only_failed=True)
    assert_type(selection, JobSelection)
    async for job in selection:
        assert_type(job, Job)
    summary = await gh.harvest("octo-org", "octo-repo", stream, "logs", only_failed=True)
    assert_type(summary, HarvestSummary)
    await gh.harvest("octo-org", "octo-repo", 7, "logs")
    await gh.harvest("octo-org", "octo-repo", [run, 8], "logs")
    assert_type(capped.total_count, int)
    assert_type(capped.window, str)


async def live_runs(gh: Client, update: gh_jobs_async.JobUpdate) -> None:
    """Conditional-request stats, watching a run, and the follow harvest."""
    stats = gh.cache_stats
    assert_type(stats, gh_jobs_async.CacheStats | None)
    if stats is not None:
        assert_type(stats.hits, int)
        assert_type(stats.bytes, int)
    updates = gh.watch_run("octo-org", "octo-repo", 2, attempt=None, interval=0.5)
    assert_type(updates, AsyncIterator[gh_jobs_async.JobUpdate])
    async for seen in gh.watch_run("octo-org", "octo-repo", 2, max_interval=10.0):
        assert_type(seen.job, Job)
    assert_type(update.changes, frozenset[gh_jobs_async.Change])
    assert_type(update.previous_status, JobStatus | str | None)
    assert_type(update.steps_done, tuple[Step, ...])
    assert_type(update.first_seen, bool)
    assert_type(update.completed, bool)
    summary = await gh.harvest("octo-org", "octo-repo", 2, "logs", follow=True, interval=3.0)
    assert_type(summary, gh_jobs_async.HarvestSummary)
    batch = gh.download_logs("octo-org", "octo-repo", updates, "logs", grace=5.0)
    assert_type(batch, gh_jobs_async.LogBatch)
    Client(None, etag_cache=False)


async def log_reading(gh: Client, job: Job) -> None:
    """open_log, tail_log and split_steps keep their precise types."""
    async with gh.open_log("octo-org", "octo-repo", 1, max_attempts=3, max_line=4096) as log:
        assert_type(log, LogReader)
        async for chunk in log.chunks():
            assert_type(chunk, bytes)
        async for line in log.lines():
            assert_type(line, str)
        async for entry in log.entries():
            assert_type(entry, LogLine)
    tail = await gh.tail_log("octo-org", "octo-repo", 1, lines=100)
    assert_type(tail, list[LogLine])
    assert_type(await gh.tail_log("octo-org", "octo-repo", 1, max_attempts=3), list[LogLine])
    entry = tail[0]
    assert_type(entry.number, int | None)
    assert_type(entry.offset, int)
    assert_type(entry.raw_timestamp, str | None)
    assert_type(entry.timestamp, datetime | None)
    assert_type(entry.marker, str | None)
    assert_type(entry.plain(), str)
    assert_type(strip_ansi(entry.text), str)
    parts = split_steps(job, tail)
    assert_type(parts, list[StepLog])
    assert_type(parts[0].step, Step)
    assert_type(parts[0].entries, tuple[LogLine, ...])
    assert_type(parts[0].confidence, Literal["high", "medium", "low"])
    assert issubclass(LogChangedError, gh_jobs_async.LogDownloadError)


async def auth_kinds(pem: str) -> None:
    """The auth kinds: App, installation, provider, static token; Client(auth=...)."""
    from pathlib import Path

    from gh_jobs_async import AppAuth, InstallationAuth, ProvidedToken, ProviderAuth, TokenAuth
    from gh_jobs_async import auth as auth_module

    app = AppAuth("Iv23liExample", pem)
    assert_type(AppAuth(12345, Path("app.pem")), AppAuth)
    assert_type(app.issuer, str)
    assert_type(app.clock_offset, float)
    inst = app.installation(42, permissions={"actions": "read"})
    assert_type(inst, InstallationAuth)
    assert_type(app.installation(owner="o", repo="r", repositories=["r"]), InstallationAuth)
    assert_type(inst.installation_id, int | None)
    assert_type(inst.renews_at, float | None)
    assert_type(inst.budget_key, str)
    assert_type(inst.app, AppAuth)

    async def provide() -> ProvidedToken:
        return ProvidedToken("t", datetime.now().astimezone())

    async def provide_str() -> str:
        return "t"

    assert_type(ProviderAuth(provide, name="vault"), ProviderAuth)
    assert_type(ProviderAuth(provide_str), ProviderAuth)
    assert_type(TokenAuth("t").budget_key, str)
    assert_type(auth_module.AppAuth, type[AppAuth])
    gh = Client(auth=inst)
    assert_type(gh.auth, gh_jobs_async.Auth)
    assert_type(gh.budget_key, str)


async def shared_budget() -> None:
    """A RedisStore (the redis extra) is a LimitStore a Client takes as limits=."""
    from gh_jobs_async import LimitStore, RateLimitStoreError
    from gh_jobs_async.redis import RedisStore

    async with RedisStore(
        "redis://localhost:6379/0", namespace="gh-jobs", budget=None, lease_ttl=30.0
    ) as store:
        assert_type(store, RedisStore)
        limits: LimitStore = store
        async with Client("token", limits=limits, max_concurrency=20) as gh:
            assert_type(gh, Client)
    assert_type(await store.aclose(), None)
    assert_type(store.address, str)
    error = RateLimitStoreError("down", address="redis://localhost:6379/0")
    assert_type(error.address, str)
    assert isinstance(error, gh_jobs_async.GhJobsError)


async def shared_installation_token(pem: str) -> None:
    """A RedisStore is a TokenStore an installation takes as token_store= (opt-in)."""
    from gh_jobs_async import AppAuth, InstallationAuth, SharedToken, TokenStore
    from gh_jobs_async.redis import RedisStore

    async with RedisStore("redis://localhost:6379/0", token_lock_ttl=10.0) as store:
        tokens: TokenStore = store
        inst = AppAuth(1, pem).installation(42, token_store=tokens)
        assert_type(inst, InstallationAuth)
        assert_type(inst.share_key, str)
        assert_type(store.token_lock_ttl, float)
        found = await store.load_token(inst.share_key)
        assert_type(found, SharedToken | None)
        if found is not None:
            assert_type(found.id, str)
            assert_type(found.expires_at, float)
        assert_type(await store.lock_token(inst.share_key, "me", 10.0), bool)
        assert_type(await store.discard_token(inst.share_key, "id"), bool)
