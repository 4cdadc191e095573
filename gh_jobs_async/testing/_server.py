"""`FakeGitHub`: the object tests hold; binds both origins and exposes the oracle.

Two aiohttp servers on loopback: the API origin (``api_host``, default 127.0.0.1) and the
blob origin (``blob_host``, default 127.0.0.2, a different host so that HTTP clients drop
``Authorization`` on the cross-host redirect; 127.0.0.1 on another port when that address
cannot be bound). The API origin also serves the signed log paths, for
``logs_mode="same_origin"``. Both serve HTTPS when `FakeConfig.ssl_context` is set.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import web

from gh_jobs_async.testing._api import ApiHandler
from gh_jobs_async.testing._blob import BlobHandler
from gh_jobs_async.testing._config import FakeConfig, FakeStats
from gh_jobs_async.testing._context import ServerContext
from gh_jobs_async.testing._data import FakeRun, JobStore, LogState, RunOptions
from gh_jobs_async.testing._faults import Fault, FaultPlan
from gh_jobs_async.testing._http import UrlSigner, blob_path
from gh_jobs_async.testing._jobgen import JobBlueprint
from gh_jobs_async.testing._limits import Limiter
from gh_jobs_async.testing._live import LiveSpec, ScheduledJob
from gh_jobs_async.testing._logs import line_steps, log_bytes
from gh_jobs_async.testing._runlist import (
    RunQuery,
    excludes_pull_requests,
    select_runs,
    workflow_matches,
)
from gh_jobs_async.testing._runplan import (
    OUTCOMES,
    RUN_ACTORS,
    RUN_BRANCHES,
    RUN_EVENTS,
    RUN_WORKFLOWS,
    plan_runs,
)

__all__ = ["FakeGitHub"]

logger = logging.getLogger(__name__)

#: Seconds `FakeGitHub.close` lets running handlers finish before cancelling them.
SHUTDOWN_TIMEOUT = 0.5
JSONDict = dict[str, Any]


def _check_outcomes(count: int, jobs: int, outcomes: dict[str, int]) -> None:
    """`FakeGitHub.add_runs`' counts: ValueError unless they fit ``count`` and ``jobs``."""
    if count < 0 or min(outcomes.values()) < 0:
        raise ValueError("count and the outcome counts must not be negative")
    if sum(outcomes.values()) > count:
        raise ValueError("the outcome counts must not add up to more than count")
    need_jobs = [name for name, n in outcomes.items() if n and not OUTCOMES[name].jobless]
    if jobs < 1 and need_jobs:
        raise ValueError(f"a run without jobs always succeeds: give jobs >= 1 for {need_jobs}")


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class FakeGitHub:
    """A fake github.com (or GHES) for the workflow-jobs endpoints, plus a blob host.

    Use as ``async with FakeGitHub(config) as fake:`` or call `start` / `close`.
    ``FakeGitHub(**overrides)`` builds the `FakeConfig` from keywords; with both, the
    keywords override fields of ``config``. Runs can only be added once started, since job
    URLs embed the bound address. Everything here is single-threaded: call it from the
    event loop the fake runs on.
    """

    def __init__(self, config: FakeConfig | None = None, **overrides: Any) -> None:
        """Prepare (not bind) a fake; invalid settings raise `ValueError` now."""
        cfg = dataclasses.replace(config or FakeConfig(), **overrides)
        stats = FakeStats()
        self._ctx = ServerContext(
            config=cfg,
            stats=stats,
            store=JobStore(seed=cfg.seed),
            limiter=Limiter(cfg),
            faults=FaultPlan(
                seed=cfg.seed,
                rate_5xx=cfg.fault_rate_5xx,
                rate_reset=cfg.fault_rate_reset,
                rate_truncate=cfg.fault_rate_truncate,
                counter=stats.faults_injected,
            ),
            signer=UrlSigner(),
        )
        self._runners: list[web.AppRunner] = []
        self._state: Literal["new", "started", "closed"] = "new"

    def __repr__(self) -> str:
        """Where the fake listens and how much it has served."""
        where = self._ctx.api_url or "not started"
        return f"<FakeGitHub {where} state={self._state} requests={self.stats.requests}>"

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind both origins and start serving; RuntimeError if already started."""
        if self._state != "new":
            raise RuntimeError(f"cannot start a fake that is {self._state}")
        ctx, cfg = self._ctx, self._ctx.config
        api_sock = _bind(cfg.api_host, cfg.api_port)
        try:
            blob_sock = _bind(cfg.blob_host, cfg.blob_port)
        except OSError:
            logger.warning("cannot bind %s; serving blobs from 127.0.0.1", cfg.blob_host)
            try:
                blob_sock = _bind("127.0.0.1", cfg.blob_port)
            except OSError:
                api_sock.close()
                raise
        self._state = "started"
        api, blob = ApiHandler(ctx), BlobHandler(ctx)
        api_app, blob_app = web.Application(), web.Application()
        api_app.router.add_route("*", "/actions-results/{tail:.*}", blob.handle)
        api_app.router.add_route("*", "/{tail:.*}", api.handle)
        blob_app.router.add_route("*", "/{tail:.*}", blob.handle)
        for app, sock in ((api_app, api_sock), (blob_app, blob_sock)):
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
            self._runners.append(runner)
            await runner.setup()
            await web.SockSite(runner, sock, ssl_context=cfg.ssl_context).start()
        scheme = "http" if cfg.ssl_context is None else "https"
        api_host, api_port = api_sock.getsockname()[:2]
        blob_host, blob_port = blob_sock.getsockname()[:2]
        ctx.api_origin = f"{scheme}://{api_host}:{api_port}"
        ctx.api_url = ctx.api_origin + ("/api/v3" if cfg.ghes else "")
        ctx.blob_origin = f"{scheme}://{blob_host}:{blob_port}"
        ctx.store.api_url = ctx.api_url
        if cfg.ghes:
            ctx.store.html_origin = ctx.api_origin
        logger.debug("fake GitHub at %s, blobs at %s", ctx.api_url, ctx.blob_origin)

    async def close(self) -> None:
        """Stop serving (running handlers get `SHUTDOWN_TIMEOUT` s); safe to call twice."""
        self._state = "closed"
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        """Start and return the fake."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the fake."""
        await self.close()

    # -- addresses -----------------------------------------------------------------------

    def _require_started(self) -> ServerContext:
        if not self._ctx.api_url:
            raise RuntimeError("the fake is not started")
        return self._ctx

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with ``ssl_context``; plus ``/api/v3`` with
        ``ghes``), no trailing slash."""
        return self._require_started().api_url

    @property
    def blob_url(self) -> str:
        """Origin of the blob host, e.g. ``http://127.0.0.2:PORT`` (``https`` with TLS)."""
        return self._require_started().blob_origin

    @property
    def token(self) -> str:
        """The token the API accepts (as ``Bearer X`` or ``token X``)."""
        return self._ctx.config.token

    @property
    def config(self) -> FakeConfig:
        """The settings this fake runs with."""
        return self._ctx.config

    # -- data ----------------------------------------------------------------------------

    def add_run(
        self,
        owner: str = "octo-org",
        repo: str = "hello-world",
        *,
        jobs: int = 10,
        attempts: int = 1,
        run_id: int | None = None,
        log_size: int | Sequence[int] = 4096,
        conclusions: Sequence[str] = ("success",),
        names: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        workflow_name: str | None = "CI",
        head_branch: str | None = "main",
        event: str = "push",
        workflow_path: str = ".github/workflows/ci.yml",
        actor: str = "octocat",
        live: bool = False,
        duration: float = 20.0,
        resolution: float = 1.0,
        log_lag: float = 0.0,
        composite: bool | Sequence[bool] = False,
        runner_clock_skew: float = 0.0,
        fork_deleted: bool = False,
        conclusion: str | None = None,
    ) -> FakeRun:
        """Create a run with ``attempts`` attempts of ``jobs`` jobs each.

        ``conclusions``, ``names``, ``statuses`` and a sequence ``log_size`` are cycled over
        the jobs of each attempt (attempts share names, get fresh ids). ``run_id`` defaults
        to the next id of a counter; reusing one raises `ValueError`. ``event``,
        ``workflow_path`` and ``actor`` show in the run (`run_dict`), whose status and
        conclusion follow its jobs. ``composite`` (cycled
        too) makes one step of a job print inner ``##[group]Run`` groups, as composite
        actions do, so that its log's step boundaries no longer match its steps.
        ``runner_clock_skew`` puts the steps' JSON times that many seconds later than their
        log lines (negative: earlier), as for a self-hosted runner whose clock is behind
        GitHub's; ``log_steps`` is unchanged (not with ``live=True``).
        ``fork_deleted=True`` serves the run with ``head_repository: null``, as GitHub does
        for a run from a fork since deleted (its schema says the field is never null).
        ``conclusion`` is the run's once it is completed, whatever its jobs say (e.g.
        ``"startup_failure"`` with ``jobs=0``, as GitHub's startup failures have no jobs).

        ``live=True`` makes a run that happens now (see `_live`): each job goes from queued
        to in_progress to completed on a seeded schedule over ``duration`` seconds, steps
        advancing, its log served ``log_lag`` s after it completes; what the API shows moves
        in steps of ``resolution`` s. ``statuses`` is ignored. With ``attempts`` > 1 each
        further attempt (a re-run) begins the moment the previous one has completed;
        `rerun` starts one by hand. `schedule` tells when each job shows each state.
        """
        if not conclusions or names == [] or statuses == [] or log_size == []:
            raise ValueError("conclusions, names, statuses and log_size must not be empty")
        sizes = [log_size] if isinstance(log_size, int) else list(log_size)
        if any(size < 0 for size in sizes):
            raise ValueError("log_size must not be negative")
        blueprint = JobBlueprint(
            jobs=jobs,
            log_size=log_size if isinstance(log_size, int) else tuple(log_size),
            conclusions=tuple(conclusions),
            names=None if names is None else tuple(names),
            statuses=None if statuses is None else tuple(statuses),
            workflow_name=workflow_name,
            head_branch=head_branch,
            composite=(composite,) if isinstance(composite, bool) else tuple(composite) or (False,),
            clock_skew=runner_clock_skew,
        )
        store = self._require_started().store
        options = RunOptions(
            event=event,
            workflow_path=workflow_path,
            actor=actor,
            fork_deleted=fork_deleted,
            conclusion=conclusion,
        )
        spec = LiveSpec(duration, resolution, log_lag) if live else None
        return store.add_run(
            owner, repo, blueprint, attempts=attempts, run_id=run_id, options=options, live=spec
        )

    def add_runs(
        self,
        owner: str = "octo-org",
        repo: str = "hello-world",
        *,
        count: int,
        days: float = 90.0,
        end: datetime | None = None,
        failed: int = 0,
        cancelled: int = 0,
        in_progress: int = 0,
        timed_out: int = 0,
        skipped: int = 0,
        startup_failure: int = 0,
        action_required: int = 0,
        queued: int = 0,
        waiting: int = 0,
        jobs: int = 2,
        log_size: int = 512,
        workflows: Sequence[str] = RUN_WORKFLOWS,
        branches: Sequence[str] = RUN_BRANCHES,
        events: Sequence[str] = RUN_EVENTS,
        actors: Sequence[str] = RUN_ACTORS,
    ) -> list[int]:
        """Create ``count`` runs spread at random over the ``days`` before ``end`` (default:
        now), on whole seconds (several may share one); returns their ids, oldest first.

        Exactly ``failed`` of them fail (one job fails), ``cancelled`` are cancelled (one
        job cancelled) and ``in_progress`` are still running (one job in progress);
        ``timed_out`` (one job timed out) and ``skipped`` (every job skipped) are completed
        with that conclusion; ``startup_failure`` and ``action_required`` are completed with
        that conclusion and no jobs; ``queued`` and ``waiting`` have every job, and so the
        run, in that status (conclusion null). The rest succeed. Workflow (file names under
        ``.github/workflows/``), branch, event and actor are drawn from the sequences. Ids
        grow with creation time, as GitHub's do. The choices come from the fake's seed: the
        same calls give the same runs (the outcomes left at 0 change nothing).
        """
        outcomes = {
            "failure": failed,
            "cancelled": cancelled,
            "in_progress": in_progress,
            "timed_out": timed_out,
            "skipped": skipped,
            "startup_failure": startup_failure,
            "action_required": action_required,
            "queued": queued,
            "waiting": waiting,
        }
        _check_outcomes(count, jobs, outcomes)
        store = self._require_started().store
        plan = plan_runs(
            random.Random(f"gh-jobs-fake:{self.config.seed}:runs:{owner}/{repo}:{count}"),
            count=count,
            end=end or datetime.now(UTC),
            days=days,
            outcomes={name: n for name, n in outcomes.items() if n},
            workflows=workflows,
            branches=branches,
            events=events,
            actors=actors,
        )
        ids = []
        for planned in plan:
            blueprint = JobBlueprint(
                jobs=0 if planned.jobless else jobs,
                log_size=log_size,
                conclusions=planned.conclusions,
                names=None,
                statuses=planned.statuses,
                workflow_name=planned.workflow_name,
                head_branch=planned.branch,
            )
            options = RunOptions(
                event=planned.event,
                workflow_path=planned.workflow_path,
                actor=planned.actor,
                created_at=planned.created_at,
                conclusion=planned.run_conclusion,
            )
            ids.append(
                store.create_run(owner, repo, blueprint, attempts=1, run_id=None, options=options)
            )
        return ids

    def runs_matching(
        self,
        owner: str = "octo-org",
        repo: str = "hello-world",
        *,
        workflow: str | int | None = None,
        **query: str,
    ) -> list[JSONDict]:
        """Every run a listing with these query parameters matches, newest first, ignoring
        the caps (the oracle for listing tests), as the listing serves it:
        ``exclude_pull_requests="true"`` empties each run's ``pull_requests``. ValueError
        for a bad ``created``."""
        runs = self._ctx.store.repo_runs(owner, repo)
        if workflow is not None:
            runs = [run for run in runs if workflow_matches(run, str(workflow))]
        chosen = select_runs(runs, RunQuery.parse(query))
        return list(
            json.loads(
                self._ctx.store.runs_body(0, chosen, strip_prs=excludes_pull_requests(query))
            )["workflow_runs"]
        )

    def rerun(self, run_id: int) -> int:
        """Re-run a live run: a new attempt begins now (or when the running one ends)."""
        return self._ctx.store.rerun(run_id)

    def schedule(self, run_id: int) -> list[ScheduledJob]:
        """When each job of a live run shows as started and completed (``time.monotonic``)."""
        return self._ctx.store.live_schedule(run_id)

    def advance(self) -> None:
        """Bring live runs up to now (every request does this; tests reading state may too)."""
        self._ctx.store.advance(time.monotonic())

    def run(self, run_id: int) -> FakeRun:
        """The run as it is now (copies of its jobs); KeyError if unknown."""
        self.advance()
        return self._ctx.store.fake_run(run_id)

    def run_dict(self, run_id: int, attempt: int | None = None) -> JSONDict:
        """The run exactly as ``GET .../actions/runs/{run_id}`` serves it now (its latest
        attempt), or as ``.../attempts/{attempt}`` does; KeyError if unknown."""
        self.advance()
        return self._ctx.store.run_dict(run_id, attempt)

    def jobs_for(
        self,
        owner: str,
        repo: str,
        run_id: int,
        filter: Literal["latest", "all"] = "latest",
        attempt: int | None = None,
    ) -> list[JSONDict]:
        """Exactly the jobs a complete listing yields, in order (``attempt`` wins over
        ``filter``); KeyError for an unknown run or attempt."""
        store = self._ctx.store
        self.advance()
        if store.find_run(owner, repo, run_id) is None:
            raise KeyError(f"no run {run_id} in {owner}/{repo}")
        if attempt is not None and not 1 <= attempt <= store.attempt_count(run_id):
            raise KeyError(f"run {run_id} has no attempt {attempt}")
        selector = str(attempt) if attempt is not None else filter
        return [store.job(job_id) for job_id in store.job_ids(run_id, selector)]

    def job(self, job_id: int) -> JSONDict:
        """A copy of the job as the API serves it; KeyError if unknown."""
        self.advance()
        return self._ctx.store.job(job_id)

    def update_job(self, job_id: int, **fields: Any) -> JSONDict:
        """Change fields of a served job (e.g. a new ``status`` value); returns the result."""
        return self._ctx.store.update_job(job_id, fields)

    def log_bytes(self, job_id: int) -> bytes:
        """The whole log body (held in memory: fine for tests, not for huge logs)."""
        return log_bytes(self._ctx.store.record(job_id).log)

    def log_steps(self, job_id: int) -> list[int]:
        """The step ``number`` each line of the log belongs to, line by line (the oracle).

        Lines are split on ``\\n``, continuation lines included. Empty for a job without
        steps. Skipped steps own no line.
        """
        return line_steps(self._ctx.store.record(job_id).log)

    def replace_log(self, job_id: int) -> None:
        """Give the job a different log of the same size (and a new ETag), as if rewritten."""
        self._ctx.store.replace_log(job_id)

    def log_sha256(self, job_id: int) -> str:
        """Hex SHA-256 of the log, computed once by streaming generation, then cached."""
        return self._ctx.store.sha256(job_id)

    def log_size(self, job_id: int) -> int:
        """Size of the log body in bytes."""
        return self._ctx.store.record(job_id).log.size

    def set_log_state(self, job_id: int, state: LogState) -> None:
        """ "ok", "not_available" (logs endpoint 404) or "gone" (410)."""
        self._ctx.store.set_log_state(job_id, state)

    def log_state(self, job_id: int) -> LogState:
        """What the logs endpoint answers for the job now: "ok" (a redirect to the log),
        "not_available" (404: a job skipped, cancelled before it ran, or made so) or "gone"
        (410). KeyError for an unknown job. (A live job's log also waits for its time.)"""
        return self._ctx.store.record(job_id).log_state

    def log_url(self, job_id: int, *, ttl: float | None = None, same_origin: bool = False) -> str:
        """A freshly signed log URL, as the logs endpoint would issue it."""
        ctx = self._require_started()
        origin = ctx.api_origin if same_origin else ctx.blob_origin
        path = blob_path(ctx.store.record(job_id).blob_id)
        return ctx.signer.sign(origin, path, ctx.config.log_url_ttl if ttl is None else ttl)

    # -- the App ---------------------------------------------------------------------------

    @property
    def app_id(self) -> int:
        """The fake App's ID (a JWT ``iss``)."""
        return self._ctx.ensure_app().app_id

    @property
    def client_id(self) -> str:
        """The fake App's client ID (the other accepted ``iss``)."""
        return self._ctx.ensure_app().client_id

    @property
    def app_private_key_pem(self) -> str:
        """The App's private key, PKCS#1 PEM as GitHub's download (generated on first use)."""
        return self._ctx.ensure_app().private_key_pem

    def add_installation(self, owner: str, *, repos: Sequence[str] | None = None) -> int:
        """Install the App on ``owner`` (on ``repos`` only, or all); returns the id."""
        return self._ctx.ensure_app().add_installation(owner, tuple(repos) if repos else None).id

    def app_secrets(self) -> list[str]:
        """Every secret of the App so far: its private key, the JWTs received and the
        installation tokens minted (for tests that check none of them leaked)."""
        app = self._ctx.ensure_app()
        return [app.private_key_pem, *sorted(app.jwts_seen), *app.issued_tokens]

    def delete_installation(self, installation_id: int) -> None:
        """Uninstall: its tokens answer 401, its lookup and mint 404; KeyError if unknown."""
        self._ctx.ensure_app().installations[installation_id].deleted = True

    def suspend_installation(self, installation_id: int) -> None:
        """Suspend: minting answers 403 ``This installation has been suspended``."""
        self._ctx.ensure_app().installations[installation_id].suspended = True

    # -- limits, faults, stats -----------------------------------------------------------

    def exhaust_primary(
        self,
        reset_in: float = 2.0,
        *,
        remaining: int = 0,
        installation: int | None = None,
        app: bool = False,
    ) -> None:
        """Leave ``remaining`` primary points until ``reset_in`` seconds from now: of the
        static tokens' budget, of App installation ``installation``'s own one, or (``app``)
        of the App's JWT (its lookups and mints)."""
        if installation is not None and app:
            raise ValueError("exhaust one budget: installation= or app=True")
        if installation is None and not app:
            self._ctx.limiter.set_primary(remaining, reset_in)
            return
        identity = "app" if app else f"installation:{installation}"
        self._ctx.ensure_app().limiter(identity).set_primary(remaining, reset_in)

    def reset_limits(self) -> None:
        """Full primary budget, empty secondary window, no running penalty."""
        self._ctx.limiter.reset()

    def inject(self, *faults: Fault) -> None:
        """Arm scripted faults; earlier ones are consulted first."""
        for fault in faults:
            self._ctx.faults.inject(fault)

    def clear_faults(self) -> None:
        """Disarm all scripted faults."""
        self._ctx.faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        """Scripted faults with requests left to strike."""
        return self._ctx.faults.pending

    @property
    def stats(self) -> FakeStats:
        """The live counters (use ``stats.snapshot()`` for a frozen copy)."""
        return self._ctx.stats

    def reset_stats(self) -> None:
        """Start counting afresh; in-flight counts carry over, limits are untouched."""
        old = self._ctx.stats
        new = FakeStats(api_in_flight=old.api_in_flight, blob_in_flight=old.blob_in_flight)
        new.peak_api_in_flight, new.peak_blob_in_flight = old.api_in_flight, old.blob_in_flight
        self._ctx.stats = new
        self._ctx.faults.counter = new.faults_injected
        if self._ctx.app is not None:
            self._ctx.app.stats = new
        self._ctx.arrivals.clear()
