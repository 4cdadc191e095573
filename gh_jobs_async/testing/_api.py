"""The API origin: the four workflow-jobs endpoints, GitHub style.

Every request goes through the same pipeline, decided at arrival and answered after
``api_latency`` (while it counts in flight):

1. spend one point of the primary budget; none left: 403 primary limit;
2. ``X-GitHub-Api-Version`` other than a supported one: 400;
3. credentials: a wrong token, or none while ``require_token``: 401;
4. no ``User-Agent``: 403 (GitHub rejects such requests);
5. secondary limits (see `_limits`): ``secondary_status`` with ``retry-after``;
6. scripted or random faults;
7. routing: only GET on the four job paths, the two run paths and the two runs listings
   (``/api/v3`` prefix with ``ghes``); anything else, a trailing slash included, is 404.

All answers carry ``x-github-request-id``, ``x-github-api-version-selected`` and (unless
``rate_limit`` is None) the ``x-ratelimit-*`` headers. The job, jobs-page and run answers
carry ``ETag`` and ``Last-Modified`` (see `_conditional`); a 304 gives its primary point
back, as GitHub does not charge an authenticated 304.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gh_jobs_async.testing._app import AppVerdict
from gh_jobs_async.testing._blob import stream_log, wait_flushed
from gh_jobs_async.testing._conditional import (
    CACHE_CONTROL,
    VARY,
    etag_for,
    http_date,
    not_modified,
)
from gh_jobs_async.testing._context import ServerContext
from gh_jobs_async.testing._faults import Fault, Where
from gh_jobs_async.testing._http import (
    DOCS_JOB,
    DOCS_LOGS,
    DOCS_RATE,
    DOCS_RUN,
    JSON_TYPE,
    blob_path,
    github_error,
    link_header,
    page_count,
    parse_positive,
    secondary_message,
    server_error,
)
from gh_jobs_async.testing._runlist import (
    PAGINATION_LIMITED,
    RunQuery,
    excludes_pull_requests,
    is_filtered,
    page_of,
    select_runs,
    workflow_matches,
)

__all__ = ["API_VERSIONS", "ApiHandler", "Route", "parse_route"]

API_VERSIONS = ("2022-11-28", "2026-03-10")
DOCS_RUNS = "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository"
_NOT_FOUND = github_error(404, "Not Found", DOCS_JOB)
_LOGS_NOT_FOUND = github_error(404, "Not Found", DOCS_LOGS)
_NOT_FOUND_RUN = github_error(404, "Not Found", DOCS_RUN)
_NOT_FOUND_WORKFLOW = github_error(404, "Not Found", DOCS_RUNS)
_INVALID_RUN_QUERY = github_error(422, "Validation Failed", DOCS_RUNS)
_PAGINATION_LIMITED = github_error(422, PAGINATION_LIMITED, DOCS_RUNS)
_GONE = github_error(410, "Server Error", DOCS_LOGS)
_BAD_CREDENTIALS = github_error(401, "Bad credentials", "https://docs.github.com/rest")
_PRIMARY = github_error(403, "API rate limit exceeded for user ID 1.", DOCS_RATE)
_NO_AGENT = github_error(
    403,
    "Request forbidden by administrative rules. Please make sure your request has a "
    "User-Agent header.",
    "https://docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required",
)


@dataclass(frozen=True)
class Route:
    """A parsed API path: ``kind`` is "job", "logs", "list", "attempt", "run",
    "run_attempt", "runs" (a repository's runs) or "workflow_runs" (a workflow's)."""

    kind: str
    owner: str
    repo: str
    number: int
    attempt: int = 0
    workflow: str = ""  # "workflow_runs": the workflow id or file name of the path


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def parse_route(path: str, *, ghes: bool) -> Route | None:
    """The endpoint ``path`` names, or None (404)."""
    if ghes:
        if not path.startswith("/api/v3/"):
            return None
        path = path[len("/api/v3") :]
    parts = path.split("/")
    runs = _runs_route(parts)
    if runs is not None:
        return runs
    if len(parts) < 7 or parts[:2] != ["", "repos"] or parts[4] != "actions":
        return None
    owner, repo, rest = parts[2], parts[3], parts[5:]
    if not owner or not repo:
        return None
    number = _int(rest[1])
    if number is None:
        return None
    match rest:
        case ["runs", _]:
            return Route("run", owner, repo, number)
        case ["runs", _, "attempts", attempt] if _int(attempt) is not None:
            return Route("run_attempt", owner, repo, number, int(attempt))
        case ["jobs", _]:
            return Route("job", owner, repo, number)
        case ["jobs", _, "logs"]:
            return Route("logs", owner, repo, number)
        case ["runs", _, "jobs"]:
            return Route("list", owner, repo, number)
        case ["runs", _, "attempts", attempt, "jobs"] if _int(attempt) is not None:
            return Route("attempt", owner, repo, number, int(attempt))
    return None


def _runs_route(parts: list[str]) -> Route | None:
    """``/repos/{o}/{r}/actions/runs`` or ``/repos/{o}/{r}/actions/workflows/{id}/runs``."""
    if len(parts) < 6 or parts[:2] != ["", "repos"] or not parts[2] or not parts[3]:
        return None
    owner, repo, rest = parts[2], parts[3], parts[4:]
    if rest == ["actions", "runs"]:
        return Route("runs", owner, repo, 0)
    if len(rest) == 4 and rest[:2] == ["actions", "workflows"] and rest[3] == "runs" and rest[2]:
        return Route("workflow_runs", owner, repo, 0, workflow=rest[2])
    return None


class _Refusal(web.Response):
    """A secondary-limit answer, remembering the ``retry-after`` it announces."""

    def __init__(self, retry_after: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after


def _json(status: int, body: bytes, headers: dict[str, str]) -> web.Response:
    headers["Content-Type"] = JSON_TYPE
    return web.Response(status=status, body=body, headers=headers)


class ApiHandler:
    """aiohttp handler for every path of the API origin."""

    def __init__(self, ctx: ServerContext) -> None:
        """Serve from ``ctx``."""
        self.ctx = ctx

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point: bookkeeping, gates, latency, then `_serve`."""
        ctx = self.ctx
        arrived = ctx.arrive(request, "api")
        status = 0
        try:
            headers = {
                "Server": "github.com",
                "x-github-request-id": ctx.request_ids.next(),
                "x-github-media-type": "github.v3; format=json",
            }
            if ctx.app is not None:
                headers["Date"] = ctx.app.date_header()
            verdict = self._app_verdict(request)
            refusal = self._gate(request, arrived, headers, verdict)
            if ctx.config.api_latency:
                await asyncio.sleep(ctx.config.api_latency)
            resp = refusal if refusal is not None else await self._serve(request, headers, verdict)
            if isinstance(resp, _Refusal):
                # The refusal goes out now; its penalty runs from here.
                ctx.limiter.penalize(time.monotonic(), resp.retry_after)
            transport = request.transport
            status = 0 if transport is None or transport.is_closing() else resp.status
            return resp
        finally:
            ctx.leave(request, "api", arrived, status)

    def _gate(
        self,
        request: web.Request,
        now: float,
        headers: dict[str, str],
        verdict: AppVerdict | None = None,
    ) -> web.Response | None:
        """The refusal for this request, or None once it is accepted (and counted)."""
        ctx, cfg = self.ctx, self.ctx.config
        primary = ctx.limiter
        if verdict is not None and verdict.identity is not None and ctx.app is not None:
            primary = ctx.app.limiter(verdict.identity)  # each installation has its budget
        spent = primary.spend(now)
        headers.update(primary.headers(now))
        version = request.headers.get("X-GitHub-Api-Version")
        headers["x-github-api-version-selected"] = version or API_VERSIONS[0]
        if not spent:
            ctx.stats.primary_violations += 1
            return _json(403, _PRIMARY, headers)
        ctx.stats.primary_spent += 1
        if version is not None and version not in API_VERSIONS:
            headers["x-github-api-version-selected"] = API_VERSIONS[0]
            message = f"Unsupported 'X-GitHub-Api-Version' provided: '{version}'."
            body = github_error(400, message, "https://docs.github.com/rest/overview/api-versions")
            return _json(400, body, headers)
        if verdict is not None:
            if verdict.identity is None:
                body = github_error(verdict.status, verdict.message, verdict.documentation_url)
                return _json(verdict.status, body, headers)
        elif not self._authorized(request.headers.get("Authorization")):
            return _json(401, _BAD_CREDENTIALS, headers)
        if "User-Agent" not in request.headers:
            return _json(403, _NO_AGENT, headers)
        violation = ctx.limiter.violation(now, ctx.stats.api_in_flight)
        if violation is not None:
            ctx.stats.secondary_violations += 1
            if violation == "in_flight":
                ctx.stats.in_flight_violations += 1
            else:
                ctx.stats.window_violations += 1
            return self._secondary(headers, cfg.secondary_retry_after)
        ctx.limiter.accept(now)
        return None

    def _app_verdict(self, request: web.Request) -> AppVerdict | None:
        """The App's verdict on the request's credential (None: not an App credential)."""
        app = self.ctx.app
        if app is None:
            return None
        path = request.path
        if self.ctx.config.ghes and path.startswith("/api/v3/"):
            path = path[len("/api/v3") :]
        return app.check(request.headers.get("Authorization"), path)

    def _authorized(self, value: str | None) -> bool:
        cfg = self.ctx.config
        if value is None:
            return not cfg.require_token
        scheme, _, credential = value.strip().partition(" ")
        return scheme.lower() in ("bearer", "token") and credential.strip() == cfg.token

    def _secondary(self, headers: dict[str, str], retry_after: int | None) -> web.Response:
        """A secondary-limit answer; `handle` starts its penalty when it goes out."""
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        status = self.ctx.config.secondary_status
        body = secondary_message(headers["x-github-request-id"], status)
        headers["Content-Type"] = JSON_TYPE
        return _Refusal(retry_after, status=status, body=body, headers=headers)

    async def _serve(
        self, request: web.Request, headers: dict[str, str], verdict: AppVerdict | None = None
    ) -> web.StreamResponse:
        """Faults, then routing, for an accepted request."""
        ctx = self.ctx
        ctx.store.advance(time.monotonic())  # live runs move on
        route = parse_route(request.path, ghes=ctx.config.ghes)
        if request.method != "GET":
            route = None
        where: Where = "logs" if route is not None and route.kind == "logs" else "api"
        job_id = route.number if route is not None and route.kind in ("job", "logs") else None
        inline = where == "logs" and ctx.config.logs_mode == "inline"
        fault = ctx.faults.take(where, job_id, request.path_qs, has_body=inline)
        if fault is not None and fault.kind == "stall":
            await asyncio.sleep(fault.stall_seconds)
        elif (
            fault is not None
            and fault.kind != "truncate"
            and not (inline and fault.kind == "reset")
        ):
            return self._fault(request, fault, headers)
        if route is not None and route.kind == "logs" and inline:
            return await self._inline(request, route, headers, fault)
        app_resp = None
        if route is None and ctx.app is not None:
            identity = None if verdict is None else verdict.identity
            app_resp = await ctx.app.answer(request, identity, headers)
        resp = app_resp if app_resp is not None else self._answer(request, route, headers)
        if fault is not None and fault.kind == "truncate":
            return await _truncated(request, resp, fault)
        return resp

    def _fault(self, request: web.Request, fault: Fault, headers: dict[str, str]) -> web.Response:
        """Answer with an injected "status", "secondary" or "reset" fault."""
        cfg = self.ctx.config
        if fault.kind == "secondary":
            retry_after = (
                cfg.secondary_retry_after if fault.retry_after is None else fault.retry_after
            )
            return self._secondary(headers, retry_after)
        if fault.kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=502)  # never reaches the client
        body, content_type = server_error(fault.status)
        headers["Content-Type"] = content_type
        return web.Response(status=fault.status, body=body, headers=headers)

    def _answer(
        self, request: web.Request, route: Route | None, headers: dict[str, str]
    ) -> web.Response:
        """The regular answer for ``route`` (404 when None)."""
        store = self.ctx.store
        if route is None:
            return _json(404, _NOT_FOUND, headers)
        if route.kind in {"list", "attempt"}:
            return self._list(request, route, headers)
        if route.kind in {"run", "run_attempt"}:
            return self._run(request, route, headers)
        if route.kind in {"runs", "workflow_runs"}:
            return self._runs(request, route, headers)
        rec = store.find_job(route.owner, route.repo, route.number)
        if route.kind == "job":
            if rec is None:
                return _json(404, _NOT_FOUND, headers)
            return self.conditional_json(request, "job", store.job_body(rec), rec.modified, headers)
        if rec is None or rec.log_state == "not_available":
            return _json(404, _LOGS_NOT_FOUND, headers)
        if rec.log_state == "gone":
            return _json(410, _GONE, headers)
        cfg = self.ctx.config
        origin = self.ctx.api_origin if cfg.logs_mode == "same_origin" else self.ctx.blob_origin
        headers["Location"] = self.ctx.signer.sign(origin, blob_path(rec.blob_id), cfg.log_url_ttl)
        headers["Content-Type"] = "text/html;charset=utf-8"
        return web.Response(status=302, headers=headers)

    def _list(self, request: web.Request, route: Route, headers: dict[str, str]) -> web.Response:
        """One page of a run's (or an attempt's) jobs, with GitHub's ``Link`` header."""
        ctx = self.ctx
        run = ctx.store.find_run(route.owner, route.repo, route.number)
        if run is None:
            return _json(404, _NOT_FOUND, headers)
        query = request.query
        if route.kind == "attempt":
            if not 1 <= route.attempt <= len(run.attempts):
                return _json(404, _NOT_FOUND, headers)
            selector = str(route.attempt)
        else:
            selector = query.get("filter", "latest")
            selector = selector if selector in ("latest", "all") else "latest"
        per_page = min(100, parse_positive(query.get("per_page"), 30))
        page = parse_positive(query.get("page"), 1)
        body, total = ctx.store.page_body(route.number, selector, per_page, page)
        base = (ctx.config.link_origin or ctx.api_origin) + request.rel_url.raw_path
        link = link_header(base, query.items(), page, page_count(total, per_page))
        modified = ctx.store.page_modified(route.number, selector, per_page, page)
        answer = self.conditional_json(request, route.kind, body, modified, headers)
        if link is not None and answer.status == 200:
            answer.headers["Link"] = link  # a 304 carries no Link
        return answer

    def conditional_json(
        self,
        request: web.Request,
        kind: str,
        body: bytes,
        modified: float | None,
        headers: dict[str, str],
    ) -> web.Response:
        """A 200 with validators, or a 304 (no body, no primary point) when they match."""
        ctx, cfg = self.ctx, self.ctx.config
        etag = etag_for(body, request) if cfg.conditional == "etag" else None
        last = modified if cfg.conditional != "none" else None
        if cfg.conditional != "none":
            headers["Cache-Control"] = CACHE_CONTROL
            headers["Vary"] = VARY
            if last is not None:
                headers["Last-Modified"] = http_date(last)
        if cfg.conditional != "none" and not_modified(request, etag, last):
            ctx.limiter.refund()
            ctx.stats.primary_spent -= 1
            headers.update(ctx.limiter.headers(time.monotonic()))
            if etag is not None and cfg.etag_on_304:
                headers["ETag"] = etag
            ctx.stats.answers_304[kind] += 1
            return web.Response(status=304, headers=headers)
        if etag is not None:
            headers["ETag"] = etag
        ctx.stats.answers_200[kind] += 1
        return _json(200, body, headers)

    def _run(self, request: web.Request, route: Route, headers: dict[str, str]) -> web.Response:
        """A workflow run (its latest attempt), or one attempt of it."""
        store = self.ctx.store
        if store.find_run(route.owner, route.repo, route.number) is None:
            return _json(404, _NOT_FOUND_RUN, headers)
        attempt = route.attempt if route.kind == "run_attempt" else None
        try:
            body = store.run_body(
                route.number, attempt, strip_prs=excludes_pull_requests(request.query)
            )
        except KeyError:
            return _json(404, _NOT_FOUND_RUN, headers)
        modified = store.run_modified(route.number, attempt)
        return self.conditional_json(request, route.kind, body, modified, headers)

    def _runs(self, request: web.Request, route: Route, headers: dict[str, str]) -> web.Response:
        """One page of a runs listing: filters, newest first, and GitHub's two caps."""
        ctx, query = self.ctx, request.query
        runs = ctx.store.repo_runs(route.owner, route.repo)
        if route.kind == "workflow_runs":
            runs = [run for run in runs if workflow_matches(run, route.workflow)]
            if not runs:
                return _json(404, _NOT_FOUND_WORKFLOW, headers)
        try:
            selected = select_runs(runs, RunQuery.parse(query))
        except ValueError:
            return _json(422, _INVALID_RUN_QUERY, headers)
        per_page = min(100, parse_positive(query.get("per_page"), 30))
        page = parse_positive(query.get("page"), 1)
        cfg = ctx.config
        answer = page_of(
            selected,
            filtered=is_filtered(query),
            per_page=per_page,
            page=page,
            search_cap=cfg.runs_search_cap,
            unfiltered_limit=cfg.runs_unfiltered_limit,
        )
        if answer is None:
            return _json(422, _PAGINATION_LIMITED, headers)
        chunk, total = answer
        reachable = min(total, cfg.runs_search_cap) if is_filtered(query) else total
        body = ctx.store.runs_body(total, chunk, strip_prs=excludes_pull_requests(query))
        base = (cfg.link_origin or ctx.api_origin) + request.rel_url.raw_path
        link = link_header(base, query.items(), page, page_count(reachable, per_page))
        if link is not None:
            headers["Link"] = link
        return _json(200, body, headers)

    async def _inline(
        self, request: web.Request, route: Route, headers: dict[str, str], fault: Fault | None
    ) -> web.StreamResponse:
        """``logs_mode="inline"``: the log body itself, with 200."""
        rec = self.ctx.store.find_job(route.owner, route.repo, route.number)
        if rec is None or rec.log_state != "ok":
            return self._answer(request, route, headers)
        return await stream_log(request, self.ctx, rec, headers=headers, fault=fault)


async def _truncated(request: web.Request, resp: web.Response, fault: Fault) -> web.StreamResponse:
    """Send ``resp`` with its full ``Content-Length`` but only part of its body, then close."""
    body = resp.body if isinstance(resp.body, bytes) else b""
    partial = len(body) // 2 if fault.partial_bytes is None else min(fault.partial_bytes, len(body))
    out = web.StreamResponse(status=resp.status, headers=resp.headers)
    out.content_length = len(body)
    try:
        await out.prepare(request)
        await out.write(body[:partial])
        await wait_flushed(request)
    except ConnectionError:
        return out
    if request.transport is not None:
        request.transport.close()
    return out
