"""The object users hold: :class:`Client`, every operation as a method."""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

import aiohttp

from . import _sansio
from ._session import Session, SessionConfig, make_ssl_context
from .exceptions import ClientClosedError, InvalidArgumentError
from .models import Job, RateLimit, decode_job

__all__ = ["Client"]

_API_VERSION_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def _non_negative_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(name, value, "expected an integer >= 0")


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


class Client:
    """An asyncio client for GitHub's workflow-jobs endpoints.

    Use it as ``async with Client(token) as gh: ...``. It owns one
    ``aiohttp.ClientSession`` (or borrows ``session=``, which it then does not
    close), and every request it makes shares one limiter (``max_concurrency``
    requests in flight) and one pacer (at most ``requests_per_minute`` requests
    in any 60 s window; ``None`` turns pacing off). The library never reads
    environment variables: pass the token explicitly.

    ``base_url`` is ``https://api.github.com`` or a GitHub Enterprise Server
    root such as ``https://ghe.example.com/api/v3``. ``ca_bundle`` adds a CA
    file to trust (TLS verification is always on). ``sleep`` and ``clock``
    (epoch seconds) can be injected, e.g. to test waits instantly.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
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
    ) -> None:
        token = _check_token(token)
        api = _sansio.parse_base_url(base_url)
        _positive("max_concurrency", max_concurrency)
        if max_concurrency > 100:
            raise InvalidArgumentError(
                "max_concurrency", max_concurrency, "GitHub allows at most 100 requests in flight"
            )
        _positive("requests_per_minute", requests_per_minute, allow_none=True)
        if (
            isinstance(max_rate_limit_wait, bool)
            or not isinstance(max_rate_limit_wait, int | float)
            or max_rate_limit_wait < 0
        ):
            raise InvalidArgumentError(
                "max_rate_limit_wait", max_rate_limit_wait, "expected seconds >= 0"
            )
        _non_negative_int("max_retries", max_retries)
        _non_negative_int("max_secondary_retries", max_secondary_retries)
        if not isinstance(api_version, str) or not _API_VERSION_RE.fullmatch(api_version):
            raise InvalidArgumentError(
                "api_version", api_version, "expected a date like 2022-11-28"
            )
        if user_agent is not None and (not isinstance(user_agent, str) or not user_agent.strip()):
            raise InvalidArgumentError("user_agent", user_agent, "expected a non-empty string")
        _positive("connect_timeout", connect_timeout, integer=False)
        _positive("read_timeout", read_timeout, integer=False)
        if session is not None and "Authorization" in session.headers:
            raise InvalidArgumentError(
                "session",
                "<aiohttp.ClientSession>",
                "its default headers carry Authorization, which would reach the log host",
            )
        ssl_context: ssl.SSLContext | None = make_ssl_context(
            os.fspath(ca_bundle) if ca_bundle is not None else None
        )
        self._session = Session(
            SessionConfig(
                api=api,
                token=token,
                api_version=api_version,
                user_agent=user_agent or _sansio.USER_AGENT,
                max_concurrency=max_concurrency,
                requests_per_minute=requests_per_minute,
                max_rate_limit_wait=float(max_rate_limit_wait),
                max_retries=max_retries,
                max_secondary_retries=max_secondary_retries,
                connect_timeout=float(connect_timeout),
                read_timeout=float(read_timeout),
                ssl_context=ssl_context,
                clock=clock or time.time,
                sleep=sleep or asyncio.sleep,
            ),
            session,
        )

    def __repr__(self) -> str:
        state = "closed" if self._session.closed else "open"
        return (
            f"<gh_jobs_async.Client {self._session.api.url} {state} "
            f"max_concurrency={self._session.limiter.maximum} "
            f"requests_per_minute={self._session.pacer.budget}>"
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
    def rate_limit(self) -> RateLimit | None:
        """The latest primary rate-limit state GitHub reported, if any."""
        return self._session.rate_limit

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
        url = self._session.api.build(
            "repos",
            _sansio.validate_owner(owner),
            _sansio.validate_repo(repo),
            "actions",
            "jobs",
            _sansio.validate_id("job_id", job_id),
        )
        self._check_open()
        answer = await self._session.request(url)
        return decode_job(answer.body)
