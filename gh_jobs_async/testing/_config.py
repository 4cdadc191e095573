"""Configuration and counters of the fake GitHub.

`FakeConfig` is the immutable description of one fake server: credentials, latency, the
primary and secondary rate limits, how job logs are delivered and which random faults to
inject. `FakeStats` is the mutable record of what clients did to it; tests read it to assert
on client behaviour (pacing, token hygiene, retries) rather than on the client's own claims.
"""

from __future__ import annotations

import copy
import ssl
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = [
    "DEFAULT_TOKEN",
    "Conditional",
    "FakeConfig",
    "FakeStats",
    "LogsMode",
    "RequestRecord",
]

#: The token a fake accepts unless `FakeConfig.token` says otherwise (clearly not a real one).
DEFAULT_TOKEN = "ghs_fakeTOKEN0123456789abcdefABCDEF"  # noqa: S105 - a fake by design

#: How the logs endpoint answers: a 302 to the blob origin, a 302 to a signed path on the API
#: origin, or the log body itself with 200.
LogsMode = Literal["redirect", "same_origin", "inline"]

#: Which validators the JSON endpoints send: ``ETag`` and ``Last-Modified``, only
#: ``Last-Modified``, or none (no conditional requests at all).
Conditional = Literal["etag", "last_modified", "none"]
_CONDITIONAL = ("etag", "last_modified", "none")

_LOGS_MODES = ("redirect", "same_origin", "inline")

#: How many entries `FakeStats.requests_log` and `FakeStats.api_request_times` keep.
HISTORY_LIMIT = 100_000


@dataclass(frozen=True, kw_only=True)
class FakeConfig:
    """Everything that shapes one fake server; immutable, validated on creation.

    Times are in seconds. ``None`` switches a limit off. Invalid values raise `ValueError`.
    ``api_port`` / ``blob_port`` of 0 pick free ports. ``log_url_ttl`` is rounded up to the
    whole second written into the signed URL's ``se`` field; a negative value yields URLs
    that are already expired (handy in tests). ``penalty_grace`` is how long after a
    secondary-limit answer requests still count as sent before the client could see it.
    With ``ssl_context`` (a server-side `ssl.SSLContext` whose certificate covers both
    hosts) both origins serve HTTPS. The runs listings reach at most ``runs_search_cap``
    runs of a search (any filter; later pages are empty) and refuse, with a 422, a page of
    an unfiltered listing that starts past ``runs_unfiltered_limit`` runs.
    ``app_token_lifetime`` is how long the App's installation tokens last,
    ``app_replication_lag`` how long a fresh one is refused, and ``app_clock_offset`` how
    far the fake's clock (JWT checks, ``expires_at``, ``Date``) is ahead of the host's
    (negative: behind).
    """

    token: str = field(default=DEFAULT_TOKEN, repr=False)
    require_token: bool = True
    ghes: bool = False
    api_latency: float = 0.0
    blob_latency: float = 0.0
    log_url_ttl: float = 60.0
    rate_limit: int | None = 5000
    rate_limit_window: float = 3600.0
    max_in_flight: int | None = None
    max_per_window: int | None = None
    secondary_window: float = 60.0
    secondary_retry_after: int | None = 60
    secondary_status: int = 403
    penalty_grace: float = 0.05
    logs_mode: LogsMode = "redirect"
    api_host: str = "127.0.0.1"
    api_port: int = 0
    blob_host: str = "127.0.0.2"
    blob_port: int = 0
    link_origin: str | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    chunk_size: int = 64 * 1024
    #: The blob host answers every ``Range`` with the whole body and 200, as some hosts do.
    blob_ignore_ranges: bool = False
    fault_rate_5xx: float = 0.0
    fault_rate_reset: float = 0.0
    fault_rate_truncate: float = 0.0
    seed: int = 0
    runs_search_cap: int = 1000
    runs_unfiltered_limit: int = 40_000
    app_token_lifetime: float = 3600.0
    app_replication_lag: float = 0.0
    app_clock_offset: float = 0.0
    conditional: Conditional = "etag"
    etag_on_304: bool = True

    def __post_init__(self) -> None:
        """Reject values the server could not honour."""
        if not self.token:
            raise ValueError("token must be a non-empty string")
        if self.secondary_status not in (403, 429):
            raise ValueError("secondary_status must be 403 or 429")
        if self.logs_mode not in _LOGS_MODES:
            raise ValueError(f"logs_mode must be one of {_LOGS_MODES}")
        self._check_live()
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        for name in (
            "api_latency",
            "blob_latency",
            "rate_limit_window",
            "secondary_window",
            "penalty_grace",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("rate_limit", "max_in_flight", "max_per_window", "secondary_retry_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be None or >= 0")
        for name in ("fault_rate_5xx", "fault_rate_reset", "fault_rate_truncate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        if self.ssl_context is not None and not isinstance(self.ssl_context, ssl.SSLContext):
            raise ValueError("ssl_context must be an ssl.SSLContext or None")
        _check_positive(self, ("runs_search_cap", "runs_unfiltered_limit"))
        _check_app_settings(self)
        if self.link_origin is not None and self.link_origin.endswith("/"):
            raise ValueError("link_origin must not end with '/'")

    def _check_live(self) -> None:
        if self.conditional not in _CONDITIONAL:
            raise ValueError(f"conditional must be one of {_CONDITIONAL}")


def _check_positive(config: FakeConfig, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be positive")


def _check_app_settings(config: FakeConfig) -> None:
    if config.app_token_lifetime <= 0 or config.app_replication_lag < 0:
        raise ValueError("app_token_lifetime must be > 0 and app_replication_lag >= 0")


class RequestRecord(NamedTuple):
    """One request, in arrival order; ``status`` is 0 when the connection was dropped
    before a complete answer (API resets and truncations)."""

    time: float
    origin: Literal["api", "blob"]
    method: str
    path_qs: str
    status: int
    had_authorization: bool


def _history() -> deque[RequestRecord]:
    return deque(maxlen=HISTORY_LIMIT)


def _times() -> deque[float]:
    return deque(maxlen=HISTORY_LIMIT)


@dataclass
class FakeStats:
    """Counters of one fake; mutated by the server, read by tests.

    Contracts worth knowing:

    * ``requests`` counts every request at either origin; ``api_requests`` those handled as
      GitHub API calls; ``blob_requests`` those to the signed log paths (whichever origin
      serves them) or anything else at the blob origin.
    * ``api_in_flight`` counts API requests from arrival until their answer has been handed
      to the transport, refused ones included; ``peak_api_in_flight`` is its maximum.
    * ``secondary_violations`` = ``in_flight_violations`` + ``window_violations``; injected
      ``Fault(kind="secondary")`` answers count only in ``faults_injected``.
    * ``requests_during_penalty`` counts API requests that arrived while a secondary-limit
      penalty was running: from ``penalty_grace`` seconds after the refusal was answered
      (requests already on their way then are not the client's fault) until ``retry-after``
      seconds (60 without the header) after that answer.
    * ``blob_token_leaks`` counts requests to the blob service carrying the token in any
      header value or in the URL; ``non_api_token_leaks`` counts the same for every request
      that was not a GitHub API call (blob origin, or signed paths on the API origin).
    * ``log_downloads[job_id]`` grows only when a body was written up to its last byte;
      ``blob_bytes_sent`` counts log body bytes written, inline ones included;
      ``blob_bytes_by_job[job_id]`` the same per job.
    * ``blob_suffix_ranges`` counts ``Range: bytes=-K`` requests (not a form Azure
      documents; the fake serves them, a client should never send them).
    * ``requests_log`` and ``api_request_times`` keep the newest 100,000 entries.
    * ``peak_api_per_window`` is the most API requests that arrived within any rolling
      ``secondary_window``.
    * The App: ``app_mints`` tokens minted, ``app_lookups`` installation lookups answered,
      ``app_mint_refusals`` by reason (``not_found``, ``suspended``, ``invalid``),
      ``jwt_refusals`` by reason (``iat``, ``exp_too_far``, ``exp_expired``, ``signature``,
      ``issuer``, ``undecodable``, ``wrong_endpoint``), ``app_unauthorized`` every 401/403
      about an App credential by reason (``expired``, ``revoked``, ``replication_lag``,
      ``not_replicated_403``, ``not_a_jwt``, ``jwt_<reason>``), ``requests_per_token`` by
      token label (``installation 1001 #3``), ``requests_per_installation`` by id, and
      ``app_secret_leaks``: requests off the API carrying an issued token or a JWT.
    * ``answers_200[kind]`` and ``answers_304[kind]`` count the full and not-modified answers
      of the JSON endpoints by route kind (``"job"``, ``"list"``, ``"attempt"``, ...);
      ``primary_spent`` counts the primary-budget points spent (a 304 spends none).
    """

    requests: int = 0
    api_requests: int = 0
    blob_requests: int = 0
    api_in_flight: int = 0
    peak_api_in_flight: int = 0
    blob_in_flight: int = 0
    peak_blob_in_flight: int = 0
    primary_violations: int = 0
    secondary_violations: int = 0
    in_flight_violations: int = 0
    window_violations: int = 0
    requests_during_penalty: int = 0
    blob_authorization_headers: int = 0
    blob_token_leaks: int = 0
    non_api_token_leaks: int = 0
    log_downloads: Counter[int] = field(default_factory=Counter)
    blob_bytes_sent: int = 0
    blob_bytes_by_job: Counter[int] = field(default_factory=Counter)
    blob_suffix_ranges: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    requests_log: deque[RequestRecord] = field(default_factory=_history, repr=False)
    api_request_times: deque[float] = field(default_factory=_times, repr=False)
    peak_api_per_window: int = 0
    app_mints: int = 0
    app_lookups: int = 0
    app_mint_refusals: Counter[str] = field(default_factory=Counter)
    jwt_refusals: Counter[str] = field(default_factory=Counter)
    app_unauthorized: Counter[str] = field(default_factory=Counter)
    requests_per_token: Counter[str] = field(default_factory=Counter)
    requests_per_installation: Counter[int] = field(default_factory=Counter)
    app_secret_leaks: int = 0
    answers_200: Counter[str] = field(default_factory=Counter)
    answers_304: Counter[str] = field(default_factory=Counter)
    primary_spent: int = 0

    def snapshot(self) -> FakeStats:
        """Return an independent copy that later requests do not change."""
        return copy.deepcopy(self)
