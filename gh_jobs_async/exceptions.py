"""The one exception tree of gh_jobs_async.

Every exception the library raises on purpose derives from :class:`GhJobsError`::

    GhJobsError
    ├── InvalidArgumentError (also ValueError)  bad input, raised before any request
    ├── UnsafeURLError (also ValueError)        a Link or redirect we refuse to follow
    ├── ClientClosedError (also RuntimeError)   the client was used after close()
    ├── DecodeError                             a body that does not match GitHub's schema
    ├── RunsCapError                            one second holds more runs than a search reaches
    ├── TransportError                          the connection failed, after retries
    │   ├── RequestTimeoutError                 connect or read timed out
    │   └── TLSError                            certificate or handshake failure (not retried)
    ├── RateLimitStoreError                     the shared rate-limit store (Redis) failed
    ├── LogDownloadError                        the blob host refused or broke a log download
    │   ├── LogUrlExpiredError                  the signed Location expired (403 from the blob host)
    │   ├── IncompleteLogError                  fewer bytes than Content-Length, or a broken body
    │   └── LogChangedError                     the log changed while it was read (412 on If-Match)
    └── ApiError                                GitHub answered with an error status
        ├── UnauthorizedError         401
        ├── ForbiddenError            403 that is not a rate limit (missing permission)
        ├── NotFoundError             404
        │   └── LogsNotAvailableError 404 on the logs endpoint (queued, running, never ran)
        ├── GoneError                 410
        │   └── LogsGoneError         410 on the logs endpoint (expired or deleted)
        ├── ValidationFailedError     422
        ├── RateLimitError
        │   ├── PrimaryRateLimitError     hourly budget spent; carries ``reset_at``
        │   └── SecondaryRateLimitError   abuse limit; carries ``retry_after``
        └── ServerError               5xx, after retries

Exceptions hold plain data only: never an aiohttp object, a header set that
contains ``Authorization``, or the token. URLs in them are the API URLs the
library built (no credentials); signed log URLs are reduced to their origin.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "ApiError",
    "ClientClosedError",
    "DecodeError",
    "ForbiddenError",
    "GhJobsError",
    "GoneError",
    "IncompleteLogError",
    "InvalidArgumentError",
    "LogChangedError",
    "LogDownloadError",
    "LogUrlExpiredError",
    "LogsGoneError",
    "LogsNotAvailableError",
    "NotFoundError",
    "PrimaryRateLimitError",
    "RateLimitError",
    "RateLimitStoreError",
    "RequestTimeoutError",
    "RunsCapError",
    "SecondaryRateLimitError",
    "ServerError",
    "TLSError",
    "TransportError",
    "UnauthorizedError",
    "UnsafeURLError",
    "ValidationFailedError",
]


_SHOWN_MAX = 300


def _shown(value: object, limit: int = _SHOWN_MAX) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters; never raises.

    A rejected value may be huge (a multi-megabyte string, an int too long for
    ``repr``) or have a broken ``__repr__``: the message must still be built.
    """
    try:
        text = repr(value)
    except Exception:  # e.g. an int beyond sys.get_int_max_str_digits(), a broken __repr__
        bits = f" of {value.bit_length()} bits" if isinstance(value, int) else ""
        return f"<{type(value).__name__}{bits}>"
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}...<{len(text)} chars>"


class GhJobsError(Exception):
    """Base class of every error raised by gh_jobs_async."""


class InvalidArgumentError(GhJobsError, ValueError):
    """An argument is invalid; raised before any request is sent.

    ``name`` is the parameter's name and ``value`` the rejected value; the message
    shows its ``repr``, cut short when it is very long.
    """

    def __init__(self, name: str, value: object, reason: str) -> None:
        self.name = name
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {name} {_shown(value)}: {reason}")


class UnsafeURLError(GhJobsError, ValueError):
    """A URL from GitHub (a ``Link`` or a redirect) that the client refuses to follow.

    Raised for another origin than the configured API, a downgrade from
    https to http, a non-HTTP scheme, or a redirect without a usable target.
    Only the origin of the offending URL is kept (signed URLs carry secrets).
    """

    def __init__(self, reason: str, origin: str | None = None) -> None:
        self.reason = reason
        self.origin = origin
        where = f" ({origin})" if origin else ""
        super().__init__(f"refused URL{where}: {reason}")


class ClientClosedError(GhJobsError, RuntimeError):
    """The client was used after it was closed."""


class DecodeError(GhJobsError):
    """A response body does not match the shape GitHub documents.

    ``path`` is a JSONPath-like location such as ``$.jobs[3].steps[2].started_at``
    and ``value`` the offending value (or ``None`` when it was missing).
    """

    def __init__(self, message: str, *, path: str = "$", value: object = None) -> None:
        self.path = path
        self.value = value
        super().__init__(message)


class RunsCapError(GhJobsError):
    """More runs match within one second of ``created`` than GitHub lets a search reach.

    Listing runs splits the ``created`` range until each window holds at most ``cap``
    (1,000) runs; a single second cannot be split, so its runs cannot all be listed.
    Narrow the query with another filter (``workflow``, ``branch``, ``event``...).
    ``window`` is that second as a ``created`` qualifier; ``total_count`` GitHub's count.
    """

    def __init__(self, window: str, total_count: int, cap: int) -> None:
        self.window = window
        self.total_count = total_count
        self.cap = cap
        super().__init__(
            f"{total_count} runs match within the single second created={window}, more than "
            f"the {cap} a search reaches: narrow the query with another filter"
        )


class TransportError(GhJobsError):
    """The HTTP exchange failed below HTTP (connection refused or reset, broken payload)."""

    def __init__(self, message: str, *, method: str = "GET", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(f"{message} ({method} {url})" if url else message)


class RequestTimeoutError(TransportError):
    """Connecting or reading timed out."""


class TLSError(TransportError):
    """The TLS handshake or certificate verification failed; never retried.

    For GitHub Enterprise Server with a private CA, pass ``ca_bundle=`` to the client.
    """


class RateLimitStoreError(GhJobsError):
    """The shared rate-limit store stayed unreachable, failing or silent past its wait.

    ``address`` is where the store is (``redis://host:port/0``, ``unix:///path``),
    without credentials. No request is sent without the shared budget: a
    harvest ends its batch on this error, as on a 401.
    """

    def __init__(self, message: str, *, address: str) -> None:
        self.address = address
        super().__init__(f"{message} ({address})")


class LogDownloadError(GhJobsError):
    """Downloading a log from the blob host failed.

    ``origin`` is the blob host's origin only: the signed URL is a secret.
    """

    def __init__(
        self, message: str, *, job_id: int, status: int | None = None, origin: str = ""
    ) -> None:
        self.job_id = job_id
        self.status = status
        self.origin = origin
        super().__init__(message)


class LogUrlExpiredError(LogDownloadError):
    """The blob host refused the signed ``Location`` (it expires after about a minute)."""


class IncompleteLogError(LogDownloadError):
    """The log body ended early, broke mid-way, or disagreed with ``Content-Length``."""


class LogChangedError(LogDownloadError):
    """The blob changed between two reads of one log: its ETag no longer matches (412).

    A download starts again from the first byte; a reader that has already handed bytes
    to its caller raises this instead, as the rest would belong to another log.
    """


class ApiError(GhJobsError):
    """GitHub answered with an error status.

    Attributes are plain data copied from the response: ``status``, ``method``,
    ``url`` (as built by the client, never with a token), ``request_id``
    (``x-github-request-id``), ``message`` and ``documentation_url`` from the body.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "GET",
        url: str = "",
        request_id: str | None = None,
        documentation_url: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.method = method
        self.url = url
        self.request_id = request_id
        self.documentation_url = documentation_url
        text = f"{status} {message} ({method} {url})"
        if request_id:
            text += f" [request id {request_id}]"
        super().__init__(text)


class UnauthorizedError(ApiError):
    """401: the token is missing, wrong, expired or revoked."""


class ForbiddenError(ApiError):
    """403 that is not a rate limit: the token lacks a permission (e.g. ``actions:read``)."""


class NotFoundError(ApiError):
    """404: no such repository, run, attempt or job, or no access to a private one."""


class LogsNotAvailableError(NotFoundError):
    """404 on the logs endpoint: the job is queued, running, or never ran."""


class GoneError(ApiError):
    """410: the resource existed but is gone."""


class LogsGoneError(GoneError):
    """410 on the logs endpoint: the logs expired (retention) or were deleted."""


class ValidationFailedError(ApiError):
    """422: GitHub rejected the request's parameters."""


class RateLimitError(ApiError):
    """A rate limit stopped the request; see the subclasses for when to retry."""


class PrimaryRateLimitError(RateLimitError):
    """The hourly budget is spent; ``reset_at`` (aware UTC) is when it refills.

    Raised when the wait would exceed the client's ``max_rate_limit_wait``.
    """

    def __init__(
        self,
        message: str,
        *,
        reset_at: datetime | None,
        status: int,
        method: str = "GET",
        url: str = "",
        request_id: str | None = None,
        documentation_url: str | None = None,
    ) -> None:
        self.reset_at = reset_at
        super().__init__(
            message,
            status=status,
            method=method,
            url=url,
            request_id=request_id,
            documentation_url=documentation_url,
        )


class SecondaryRateLimitError(RateLimitError):
    """A secondary (abuse) limit stopped the request; ``retry_after`` is in seconds.

    Raised once the client's bounded number of secondary-limit retries is spent.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        status: int,
        method: str = "GET",
        url: str = "",
        request_id: str | None = None,
        documentation_url: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            message,
            status=status,
            method=method,
            url=url,
            request_id=request_id,
            documentation_url=documentation_url,
        )


class ServerError(ApiError):
    """5xx from GitHub, after the retries were spent."""


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a (possibly nested) exception group: what a task group
    of the library raises to its caller, rather than the group (not public)."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
