"""The protocol without I/O: what to send, and what an answer means.

Nothing here awaits or touches a socket, so every rule is tested without an
event loop. The transport (:mod:`gh_jobs_async._session`) asks this module what
to send and what an answer means.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypedDict
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

import attrs

from ._version import __version__
from .exceptions import (
    ApiError,
    ForbiddenError,
    GoneError,
    InvalidArgumentError,
    NotFoundError,
    PrimaryRateLimitError,
    SecondaryRateLimitError,
    ServerError,
    UnauthorizedError,
    UnsafeURLError,
    ValidationFailedError,
)
from .models import RateLimit

DEFAULT_BASE_URL = "https://api.github.com"
DEFAULT_API_VERSION = "2022-11-28"
USER_AGENT = f"gh_jobs_async/{__version__} (+https://pypi.org/project/gh_jobs_async/)"
MAX_ID = 2**63 - 1
FILTERS = ("latest", "all")
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
SECONDARY_FALLBACK_WAIT = 60.0  # GitHub: "wait for at least one minute"
MAX_SECONDARY_WAIT = 900.0
# GitHub's longest rate-limit window is an hour: a secondary limit asking for a longer
# pause is garbage (or a ban), and waiting it out would hang the caller, so it is final.
MAX_HONOURED_WAIT = 3600.0
_MAX_LINK_HEADER = 64 * 1024
_MAX_EPOCH = 2**37  # year ~6325: anything larger is garbage, not a reset time
_DOT_OR_EMPTY = ("", ".", "..")

# https://docs.github.com/en/site-policy/other-site-policies/username-policy plus the
# "_shortcode" suffix of Enterprise Managed Users; repository names per GitHub's form.
_OWNER_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,98}[A-Za-z0-9_])?")
_REPO_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
_HOST_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.?")
_PREFIX_RE = re.compile(r"(?:/[A-Za-z0-9._~-]+)*")
# [userinfo@](host | [IPv6 literal])[:port]
_NETLOC_RE = re.compile(r"(?:[^@]*@)?(?:\[[0-9A-Za-z:.%_-]+\]|[^@:\[\]/]+)(?::[0-9]*)?")
_SECONDARY_RE = re.compile(r"\bsecondary rate\b", re.IGNORECASE)
_LINK_RE = re.compile(r"<([^<>]*)>((?:\s*;\s*[^,;<>]*)*)")
_REL_RE = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


# --------------------------------------------------------------------------- arguments


def validate_owner(owner: object) -> str:
    """Return ``owner`` if it is a GitHub user or organisation name, else raise."""
    if not isinstance(owner, str) or not _OWNER_RE.fullmatch(owner):
        raise InvalidArgumentError(
            "owner", owner, "expected a GitHub user or organisation name (letters, digits, '-')"
        )
    return owner


def validate_repo(repo: object) -> str:
    """Return ``repo`` if it is a GitHub repository name, else raise."""
    if not isinstance(repo, str) or not _REPO_RE.fullmatch(repo) or repo in {".", ".."}:
        raise InvalidArgumentError(
            "repo", repo, "expected a repository name of 1-100 letters, digits, '.', '-' or '_'"
        )
    return repo


def validate_id(name: str, value: object) -> int:
    """Return ``value`` if it is a positive 64-bit integer id, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidArgumentError(name, value, "expected a positive integer")
    return value


def validate_per_page(per_page: object) -> int:
    """Return ``per_page`` if it is an integer from 1 to 100 (GitHub's maximum)."""
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= 100:
        raise InvalidArgumentError("per_page", per_page, "expected an integer from 1 to 100")
    return per_page


def validate_filter(filter_: object) -> str:
    """Return ``filter_`` if it is ``"latest"`` or ``"all"``."""
    if filter_ not in FILTERS:
        raise InvalidArgumentError("filter", filter_, "expected 'latest' or 'all'")
    assert isinstance(filter_, str)  # noqa: S101 - narrowed by the membership test
    return filter_


def job_segments(
    owner: object, repo: object, job_id: object
) -> tuple[str, str, str, str, str, int]:
    """Validated path segments of ``/repos/{owner}/{repo}/actions/jobs/{job_id}``."""
    return (
        "repos",
        validate_owner(owner),
        validate_repo(repo),
        "actions",
        "jobs",
        validate_id("job_id", job_id),
    )


def run_segments(
    owner: object, repo: object, run_id: object, attempt: object = None
) -> tuple[str | int, ...]:
    """Validated path of ``.../actions/runs/{run_id}`` or ``.../runs/{run_id}/attempts/{n}``."""
    segments: tuple[str | int, ...] = (
        "repos",
        validate_owner(owner),
        validate_repo(repo),
        "actions",
        "runs",
        validate_id("run_id", run_id),
    )
    if attempt is not None:
        segments += ("attempts", validate_id("attempt", attempt))
    return segments


# --------------------------------------------------------------------------- URLs


@attrs.frozen
class ApiBase:
    """The configured API root, e.g. ``https://api.github.com`` or ``https://ghe.example.com/api/v3``."""

    scheme: str
    host: str
    port: int
    prefix: str  # path without a trailing slash: "" or "/api/v3"

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``, the port shown only when not the default."""
        default = {"http": 80, "https": 443}[self.scheme]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    @property
    def url(self) -> str:
        """The API root as a string, without a trailing slash."""
        return self.origin + self.prefix

    def build(self, *segments: str | int, query: Mapping[str, str | int] | None = None) -> str:
        """Join escaped path ``segments`` under the root, with an optional query string.

        Raises ``ValueError`` for an empty, ``.`` or ``..`` segment: escaping cannot
        neutralise those (they would give ``//`` or be normalised away by yarl).
        """
        texts = [str(segment) for segment in segments]
        if any(text in _DOT_OR_EMPTY for text in texts):
            raise ValueError(f"empty or dot path segment in {texts!r}")
        path = "/".join(quote(text, safe="") for text in texts)
        url = f"{self.url}/{path}"
        if query:
            url += "?" + urlencode(query)
        return url

    def owns(self, url: str) -> bool:
        """Whether ``url`` is on this API's origin and under its path prefix."""
        try:
            parts = urlsplit(url)
            target = _origin_tuple(parts.scheme, parts.hostname, parts.port)
            _check_netloc(parts.netloc)
        except ValueError:
            return False
        if target != (self.scheme, self.host, self.port):
            return False
        if parts.username is not None or parts.password is not None:
            return False  # GitHub never sends credentials in a URL; aiohttp would use them
        if any(seg in _DOT_OR_EMPTY[1:] for seg in unquote(parts.path).split("/")):
            return False  # yarl would resolve "/api/v3/../x" (or %2e%2e) to "/x"
        return (
            not self.prefix or parts.path == self.prefix or parts.path.startswith(self.prefix + "/")
        )


def _check_netloc(netloc: str) -> None:
    """Raise ValueError for an authority that urlsplit tolerates but yarl (aiohttp) refuses."""
    if not _NETLOC_RE.fullmatch(netloc):
        raise ValueError("not a valid host and port")


def _origin_tuple(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int]:
    scheme = scheme.lower()
    if scheme not in {"http", "https"} or not host:
        raise ValueError("not an absolute http(s) URL")
    return scheme, host.lower(), port if port is not None else (443 if scheme == "https" else 80)


def parse_base_url(base_url: object) -> ApiBase:
    """Validate the API root; GHES roots end in ``/api/v3``.

    Errors show the URL without userinfo, query or fragment: they may hold a secret.
    """
    if not isinstance(base_url, str):
        raise InvalidArgumentError("base_url", base_url, "expected an http(s) URL string")
    shown = _redact_url(base_url)
    try:
        parts = urlsplit(base_url.strip())
        scheme, host, port = _origin_tuple(parts.scheme, parts.hostname, parts.port)
    except ValueError as exc:
        detail = f" ({exc})" if shown == base_url else ""  # exc may quote the password
        raise InvalidArgumentError("base_url", shown, f"expected an http(s) URL{detail}") from None
    if parts.username is not None or parts.password is not None:
        raise InvalidArgumentError("base_url", shown, "credentials in the URL")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise InvalidArgumentError("base_url", shown, "a query or fragment is not allowed")
    prefix = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    try:
        _check_netloc(parts.netloc)
        host = _check_host(host)
    except ValueError as exc:
        raise InvalidArgumentError("base_url", shown, str(exc)) from None
    if port == 0:
        raise InvalidArgumentError("base_url", shown, "port 0 cannot be connected to")
    if not _PREFIX_RE.fullmatch(prefix) or {".", ".."} & set(prefix.split("/")):
        raise InvalidArgumentError(
            "base_url", shown, "the path may hold only letters, digits, '-._~' and '/'"
        )
    return ApiBase(scheme=scheme, host=host, port=port, prefix=prefix)


def _check_host(host: str) -> str:
    """A DNS name (IDNA-encoded when not ASCII), an IPv4 address or an IPv6 literal."""
    if ":" in host:
        ipaddress.IPv6Address(host)  # ValueError when it is not one
        return host
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("not a valid host name") from None
    if not _HOST_RE.fullmatch(host):
        raise ValueError("not a valid host name")
    return host


def _redact_url(url: str) -> str:
    """``url`` fit for an error message: userinfo, query and fragment replaced by markers.

    Everything up to the last '@' goes: a password may hold '@', '/', '?' or '#'
    (unencoded), and every part of it must go.
    """
    text = url.strip()
    scheme, sep, rest = text.partition("//")
    if not sep:
        scheme, rest = "", text
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    shown = scheme + sep + rest
    cuts = [i for i in (shown.find("?"), shown.find("#")) if i >= 0]
    return shown[: min(cuts)] + "?..." if cuts else shown


def origin_of(url: str) -> str:
    """The ``scheme://host[:port]`` of a URL, for messages: never its path or query."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal
        return "<unparsable URL>"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def check_link(url: str, api: ApiBase) -> str:
    """Return a pagination URL if it points at the configured API, else raise UnsafeURLError."""
    if not api.owns(url):
        raise UnsafeURLError("pagination link leaves the configured API origin", origin_of(url))
    return url


def resolve_redirect(location: str | None, request_url: str) -> str:
    """Resolve a redirect's ``Location`` against the request URL and check it is safe to follow.

    Refuses a missing or empty Location, non-HTTP schemes, and a downgrade
    from https to http.
    """
    if not location or not location.strip():
        raise UnsafeURLError("redirect without a Location header")
    try:
        target = urljoin(request_url, location.strip())
        parts = urlsplit(target)
    except ValueError:  # e.g. a broken IPv6 literal
        raise UnsafeURLError("redirect to an unparsable URL") from None
    try:
        _origin_tuple(parts.scheme, parts.hostname, parts.port)
    except ValueError:
        raise UnsafeURLError("redirect to a non-HTTP URL", parts.scheme + ":") from None
    try:
        _check_netloc(parts.netloc)
        _check_host(parts.hostname or "")
    except ValueError:
        raise UnsafeURLError("redirect to an invalid host name", parts.scheme + ":") from None
    if urlsplit(request_url).scheme.lower() == "https" and parts.scheme.lower() != "https":
        raise UnsafeURLError("redirect downgrades https to http", origin_of(target))
    return target


# --------------------------------------------------------------------------- headers


def request_headers(token: str | None, api_version: str, user_agent: str) -> dict[str, str]:
    """Headers for an API request; ``Authorization`` only when a token is given."""
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": api_version,
        "User-Agent": user_agent,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name, "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """Read ``x-ratelimit-*``; ``None`` when absent or garbled (e.g. GHES with limits off)."""
    lower = _lower(headers)
    limit = _int_header(lower, "x-ratelimit-limit")
    remaining = _int_header(lower, "x-ratelimit-remaining")
    reset = _int_header(lower, "x-ratelimit-reset")
    if limit is None or remaining is None or reset is None or reset > _MAX_EPOCH:
        return None
    resource = lower.get("x-ratelimit-resource")
    return RateLimit(
        limit=limit,
        remaining=remaining,
        used=_int_header(lower, "x-ratelimit-used"),
        reset_at=datetime.fromtimestamp(reset, tz=UTC),
        resource=resource[:64] if resource else None,
    )


def parse_link(value: str | None) -> dict[str, str]:
    """Parse an RFC 8288 ``Link`` header into ``{rel: url}``; garbage is skipped, never raised."""
    links: dict[str, str] = {}
    if not value or len(value) > _MAX_LINK_HEADER:
        return links
    for match in _LINK_RE.finditer(value):
        url, params = match.group(1).strip(), match.group(2)
        rel = _REL_RE.search(params)
        if not url or rel is None:
            continue
        for name in (rel.group(1) or rel.group(2) or "").lower().split():
            links.setdefault(name, url)
    return links


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``retry-after`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):  # e.g. a zone of +99999999999
        return None


# --------------------------------------------------------------------------- answers


@attrs.frozen
class Success:
    """The answer is a value (2xx or 3xx); the caller reads the body or Location."""


@attrs.frozen
class Retry:
    """A transient failure: retry after ``min_delay`` s or more, raise ``error`` at the end."""

    error: ApiError
    min_delay: float = 0.0


@attrs.frozen
class PrimaryLimit:
    """The hourly budget is spent; nothing may be sent before ``reset_epoch``."""

    error: PrimaryRateLimitError
    reset_epoch: float


@attrs.frozen
class SecondaryLimit:
    """A secondary limit: every request of the client pauses ``wait`` seconds."""

    error: SecondaryRateLimitError
    wait: float


@attrs.frozen
class Fail:
    """A final error: raise it."""

    error: ApiError


Decision = Success | Retry | PrimaryLimit | SecondaryLimit | Fail


class _Common(TypedDict):
    status: int
    method: str
    url: str
    request_id: str | None
    documentation_url: str | None


_STATUS_ERRORS: dict[int, type[ApiError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    410: GoneError,
    422: ValidationFailedError,
}


def _bounded(value: str | None, limit: int) -> str | None:
    """``value`` cut to ``limit`` characters: header values end up in exception messages."""
    return value if value is None or len(value) <= limit else value[:limit] + "..."


def _error_fields(body: bytes, status: int) -> tuple[str, str | None]:
    """``message`` and ``documentation_url`` from an error body, tolerating non-JSON bodies."""
    try:
        data = json.loads(body[:65536]) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..."
        data = None
    if isinstance(data, dict):
        message = data.get("message")
        doc = data.get("documentation_url")
        return (
            str(message)[:500] if message is not None else f"HTTP {status}",
            str(doc)[:300] if doc is not None else None,
        )
    text = body[:200].decode("utf-8", "replace").strip()
    return (text or f"HTTP {status}"), None


def classify(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    url: str,
    now: float,
    secondary_strikes: int = 0,
) -> Decision:
    """Decide what an answer means.

    ``secondary_strikes`` counts the secondary limits hit in a row before this
    answer; the wait grows exponentially with it. ``now`` is epoch seconds. A
    secondary limit asking for more than an hour (``MAX_HONOURED_WAIT``) is final.
    """
    if status < 400:
        return Success()
    lower = _lower(headers)
    message, doc_url = _error_fields(body, status)
    common: _Common = {
        "status": status,
        "method": method,
        "url": url,
        "request_id": _bounded(lower.get("x-github-request-id"), 100),
        "documentation_url": doc_url,
    }
    if status in {403, 429}:
        limited = _rate_limit_decision(
            status, lower=lower, message=message, common=common, now=now, strikes=secondary_strikes
        )
        if limited is not None:
            return limited
    if status in RETRYABLE_STATUSES:
        retry_after = parse_retry_after(lower.get("retry-after"), now) or 0.0
        return Retry(
            error=ServerError(message, **common), min_delay=min(retry_after, MAX_SECONDARY_WAIT)
        )
    if status >= 500:
        return Fail(error=ServerError(message, **common))
    return Fail(error=_STATUS_ERRORS.get(status, ApiError)(message, **common))


def _rate_limit_decision(
    status: int,
    *,
    lower: Mapping[str, str],
    message: str,
    common: _Common,
    now: float,
    strikes: int,
) -> Decision | None:
    remaining = _int_header(lower, "x-ratelimit-remaining")
    reset = _int_header(lower, "x-ratelimit-reset")
    retry_after = parse_retry_after(lower.get("retry-after"), now)
    is_secondary = bool(_SECONDARY_RE.search(message)) or (
        remaining != 0 and (status == 429 or retry_after is not None)
    )
    if is_secondary:
        wait = secondary_wait(retry_after, remaining, reset, now, strikes)
        err = SecondaryRateLimitError(message, retry_after=wait, **common)
        if wait > MAX_HONOURED_WAIT:
            return Fail(error=err)
        return SecondaryLimit(error=err, wait=wait)
    if remaining == 0:
        reset_epoch = float(reset) if reset is not None and reset <= _MAX_EPOCH else now + 60.0
        reset_at = datetime.fromtimestamp(reset_epoch, tz=UTC)
        err_p = PrimaryRateLimitError(message, reset_at=reset_at, **common)
        return PrimaryLimit(error=err_p, reset_epoch=reset_epoch)
    return None


def secondary_wait(
    retry_after: float | None, remaining: int | None, reset: int | None, now: float, strikes: int
) -> float:
    """How long every request pauses after a secondary limit.

    GitHub: ``retry-after`` if present, else until ``x-ratelimit-reset`` when
    remaining is 0, else at least one minute; back off exponentially on repeats.
    https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
    """
    if retry_after is not None:
        base = retry_after
    elif remaining == 0 and reset is not None and reset <= _MAX_EPOCH:
        base = max(0.0, reset - now) + 1.0
    else:
        base = SECONDARY_FALLBACK_WAIT
    return float(min(max(base, 0.0) * 2 ** min(strikes, 10), max(MAX_SECONDARY_WAIT, base)))


def backoff_delay(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    minimum: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Full-jitter exponential backoff for retry ``attempt`` (0-based), at least ``minimum``."""
    return float(max(minimum, rand() * min(cap, base * 2 ** min(attempt, 30))))
