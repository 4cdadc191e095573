"""State shared by the API and blob handlers of one fake, and the bookkeeping both do.

`ServerContext` owns the config, the counters, the job store, the limits, the fault plan and
the URL signer, and knows both origins once the fake is bound. Handlers call
`ServerContext.arrive` when a request comes in and `ServerContext.leave` when its answer is
done, so in-flight counts, the request log and token-leak checks live in one place.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from gh_jobs_async.testing._app import FakeApp
from gh_jobs_async.testing._config import FakeConfig, FakeStats, RequestRecord
from gh_jobs_async.testing._data import JobStore
from gh_jobs_async.testing._faults import FaultPlan
from gh_jobs_async.testing._http import RequestIds, UrlSigner
from gh_jobs_async.testing._limits import Limiter

__all__ = ["Origin", "ServerContext"]

Origin = Literal["api", "blob"]


@dataclass
class ServerContext:
    """Everything one fake's handlers share; single event loop, so no locks."""

    config: FakeConfig
    stats: FakeStats
    store: JobStore
    limiter: Limiter
    faults: FaultPlan
    signer: UrlSigner
    request_ids: RequestIds = field(default_factory=RequestIds)
    api_origin: str = ""
    api_url: str = ""
    blob_origin: str = ""
    arrivals: deque[float] = field(default_factory=deque)
    app: FakeApp | None = None  # created on first use (it generates an RSA key)

    def ensure_app(self) -> FakeApp:
        """The fake's App, created now if needed."""
        if self.app is None:
            self.app = FakeApp(self.config, self.stats)
        return self.app

    def arrive(self, request: web.BaseRequest, origin: Origin) -> float:
        """Count a new request at ``origin`` (in flight from now); returns its arrival time."""
        now = time.monotonic()
        stats = self.stats
        stats.requests += 1
        if origin == "api":
            stats.api_requests += 1
            stats.api_in_flight += 1
            stats.peak_api_in_flight = max(stats.peak_api_in_flight, stats.api_in_flight)
            stats.api_request_times.append(now)
            self._count_window(now)
            if self.limiter.in_penalty(now):
                stats.requests_during_penalty += 1
        else:
            stats.blob_requests += 1
            stats.blob_in_flight += 1
            stats.peak_blob_in_flight = max(stats.peak_blob_in_flight, stats.blob_in_flight)
            in_headers = self._token_in_headers(request)
            stats.blob_token_leaks += in_headers
            stats.non_api_token_leaks += in_headers or self._token_in_url(request)
            if self.app is not None:
                values = [*request.headers.values(), request.raw_path, request.path_qs]
                stats.app_secret_leaks += self.app.leaked(values)
        return now

    def leave(
        self,
        request: web.BaseRequest,
        origin: Origin,
        arrived: float,
        status: int,
    ) -> None:
        """The request's answer is done (``status`` 0 when the connection was dropped)."""
        if origin == "api":
            self.stats.api_in_flight -= 1
        else:
            self.stats.blob_in_flight -= 1
        had_auth = "Authorization" in request.headers
        record = RequestRecord(arrived, origin, request.method, request.path_qs, status, had_auth)
        self.stats.requests_log.append(record)

    def _count_window(self, now: float) -> None:
        horizon = now - self.config.secondary_window
        arrivals = self.arrivals
        arrivals.append(now)
        while arrivals and arrivals[0] <= horizon:
            arrivals.popleft()
        self.stats.peak_api_per_window = max(self.stats.peak_api_per_window, len(arrivals))

    def _token_in_headers(self, request: web.BaseRequest) -> bool:
        token = self.config.token
        return any(token in value for value in request.headers.values())

    def _token_in_url(self, request: web.BaseRequest) -> bool:
        token = self.config.token
        return token in request.raw_path or token in request.path_qs
