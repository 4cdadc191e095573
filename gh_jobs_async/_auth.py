"""Who we are, the I/O part: the auth kinds a :class:`~gh_jobs_async.Client` can hold.

The session asks its auth for a :class:`Credential` before every API request
(:meth:`Auth.obtain`), and tells it when GitHub refused one (:meth:`Auth.refused`), which
answers with a :class:`~gh_jobs_async._authpolicy.Reaction` (httpx's ``Auth`` flow is the
model: the session asks, the auth answers, the session tells it what came back). Every
decision is made in the pure :mod:`gh_jobs_async._authpolicy`.

Kinds here: :class:`TokenAuth` (a fixed token) and :class:`ProviderAuth` (an async callable
the user writes); GitHub Apps are in :mod:`gh_jobs_async._appauth`. :class:`_Renewing` is the
single-flight renewal both providers and App installations use.

Secrets (tokens, the JWT, the private key) are never in a repr, a log line, an exception
message or ``__context__``: objects show :func:`~gh_jobs_async._authpolicy.fingerprint` s.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import attrs

from . import _authpolicy as policy
from ._sansio import ApiBase
from .exceptions import (
    ApiError,
    InvalidArgumentError,
    RateLimitError,
    ServerError,
    TLSError,
)

if TYPE_CHECKING:
    from ._session import Answer

__all__ = [
    "Auth",
    "Credential",
    "ProvidedToken",
    "Provider",
    "ProviderAuth",
    "Refusal",
    "TokenAuth",
    "Transport",
    "Tries",
]

logger = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")


class _Clocks(Protocol):
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]


class Transport(Protocol):
    """What an auth needs from the session: where the API is, its clocks, and requests
    that go through the same limiter, pacer and rate-limit gates as every other."""

    @property
    def api(self) -> ApiBase: ...

    @property
    def config(self) -> _Clocks: ...

    async def request(
        self,
        url: str,
        *,
        method: str = "GET",
        follow_redirects: bool = True,
        json: object = None,
        auth: Auth | None = None,
    ) -> Answer: ...


@attrs.frozen(repr=False)
class Credential:
    """One credential as sent: ``Authorization: Bearer <token>``, never shown.

    ``serial`` grows with each renewal of the same auth; ``obtained_at`` and ``schedule`` are
    on the local clock; ``budget_key`` names the rate-limit budget it spends.
    """

    token: str = attrs.field(repr=False)
    budget_key: str
    serial: int
    schedule: policy.TokenSchedule

    def __repr__(self) -> str:
        return f"<Credential {self.budget_key} #{self.serial} id={self.id}>"

    @property
    def id(self) -> str:
        """A hash of the token (SHA-256, 16 hex digits): safe to log or use in cache keys."""
        return policy.fingerprint(self.token)

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        return f"Bearer {self.token}"


@attrs.frozen
class Refusal:
    """GitHub refused a credential: status, message, and the answer's ``Date`` header."""

    status: int
    message: str
    date: str | None
    received_at: float  # local epoch seconds


@attrs.define
class Tries:
    """What one request already did about refusals (so that it never loops)."""

    lag: int = 0
    renewed: bool = False
    resigned: bool = False


def redacted(name: str, reason: str) -> InvalidArgumentError:
    return InvalidArgumentError(name, "<redacted>", reason)


def check_token(name: str, token: object) -> str:
    """``token`` if it is a usable opaque token (no length or pattern checks), else raise."""
    if not isinstance(token, str):
        raise InvalidArgumentError(name, f"<{type(token).__name__}>", "expected a string")
    if not token or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise redacted(name, "empty, or contains whitespace")
    return token


class Auth(abc.ABC):
    """How a client authenticates; consulted on every API request.

    Subclasses: :class:`TokenAuth`, :class:`ProviderAuth`, :class:`InstallationAuth` (and
    :class:`AppAuth`, which signs only the ``/app`` endpoints). The session calls
    :meth:`obtain` and :meth:`refused`; users only construct them.
    """

    @property
    @abc.abstractmethod
    def budget_key(self) -> str:
        """A stable, non-secret name of the rate-limit budget the credentials spend."""

    def bind(self, api: ApiBase) -> None:  # noqa: B027 - most kinds work with any API root
        """Called once per client with its API root; raises if this auth cannot serve it."""

    @abc.abstractmethod
    async def obtain(self, transport: Transport, url: str) -> Credential | None:
        """The credential for a request to ``url`` (None: send none)."""

    @abc.abstractmethod
    def refused(
        self, credential: Credential | None, refusal: Refusal, tries: Tries
    ) -> float | None:
        """GitHub refused ``credential``: seconds to wait before retrying, or None to raise."""

    def credential_id(self) -> str | None:
        """A hash of the current credential (None when there is none yet)."""
        return None


class _NoAuth(Auth):
    """No ``Authorization`` header (public repositories only)."""

    def __init__(self) -> None:
        # GitHub counts unauthenticated requests per IP address: the processes of one
        # machine share a budget on a shared store, machines do not share theirs (the host
        # name stands for the address, which is not known here)
        self._key = f"anonymous:{socket.gethostname()}"

    @property
    def budget_key(self) -> str:
        """``anonymous:<host name>``."""
        return self._key

    async def obtain(self, transport: Transport, url: str) -> Credential | None:
        return None

    def refused(
        self, credential: Credential | None, refusal: Refusal, tries: Tries
    ) -> float | None:
        return None

    def __repr__(self) -> str:
        return "<gh_jobs_async.auth anonymous>"


class TokenAuth(Auth):
    """A fixed token (a personal access token, ``GITHUB_TOKEN``, an installation token).

    ``Client(token="...")`` is the shorthand for ``Client(auth=TokenAuth("..."))``. A 401 on
    it is final: there is nothing to renew.
    """

    def __init__(self, token: str) -> None:
        token = check_token("token", token)
        self._credential = Credential(
            token=token,
            budget_key="token:" + policy.fingerprint(token),
            serial=1,
            schedule=policy.schedule(0.0, None),
        )

    def __repr__(self) -> str:
        return f"<gh_jobs_async.TokenAuth {self.budget_key}>"

    @property
    def budget_key(self) -> str:
        """``token:`` and a SHA-256 prefix of the token."""
        return self._credential.budget_key

    async def obtain(self, transport: Transport, url: str) -> Credential | None:
        return self._credential

    def refused(
        self, credential: Credential | None, refusal: Refusal, tries: Tries
    ) -> float | None:
        return None

    def credential_id(self) -> str | None:
        return self._credential.id


@attrs.frozen(repr=False)
class ProvidedToken:
    """What a provider returns: a token and, optionally, when it expires (aware datetime)."""

    token: str = attrs.field(repr=False)
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        when = "never" if self.expires_at is None else self.expires_at.isoformat()
        return f"<ProvidedToken id={policy.fingerprint(self.token)} expires={when}>"


Provider = Callable[[], Awaitable["str | ProvidedToken"]]


class _Renewing(Auth):
    """A credential held until its schedule says it is due, renewed single-flight."""

    def __init__(self) -> None:
        self._current: Credential | None = None
        self._serial = 0
        self._flight: asyncio.Future[Credential] | None = None
        # after a replication-lag refusal, every request holds the fresh credential back
        # until then, instead of each one being refused in turn
        self._hold_until = 0.0
        # after a renewal failed for a passing reason, a credential that is due but still
        # usable is sent (no request waits for a renewal likely to fail again), and the
        # next renewal starts no sooner than this (0.0: no such failure)
        self._renew_failures = 0
        self._quiet_until = 0.0

    def credential_id(self) -> str | None:
        return None if self._current is None else self._current.id

    @property
    def renews_at(self) -> float | None:
        """When the current credential is due for renewal (epoch seconds on the client's
        clock); None without a credential or when it does not expire."""
        return None if self._current is None else self._current.schedule.refresh_at

    async def obtain(self, transport: Transport, url: str) -> Credential | None:
        current = self._current
        clock = transport.config.clock
        now = clock()
        if current is not None and not current.schedule.due(now):
            if now < self._hold_until:
                await transport.config.sleep(self._hold_until - now)
                return await self.obtain(transport, url)
            return current
        if current is not None and self._quiet_until and current.schedule.still_usable(now):
            # a renewal failed: the current one is sent while renewals retry in the
            # background, no sooner than the backoff, so no request waits for them
            if self._flight is None and now >= self._quiet_until:
                self._start_renewal(transport, current)  # not awaited: _landed looks after it
            return current
        flight = self._flight or self._start_renewal(transport, current)
        try:
            # shield: a caller cancelled mid-renewal must not cancel it for the others
            return await asyncio.shield(flight)
        except Exception as exc:
            if current is None or not self._keeps(current, exc, clock()):
                raise
            return current

    def _start_renewal(
        self, transport: Transport, current: Credential | None
    ) -> asyncio.Future[Credential]:
        clock = transport.config.clock
        flight = asyncio.ensure_future(self._renew(transport))
        self._flight = flight
        flight.add_done_callback(lambda landed: self._landed(landed, current, clock))
        return flight

    def _landed(
        self,
        flight: asyncio.Future[Credential],
        previous: Credential | None,
        clock: Callable[[], float],
    ) -> None:
        if self._flight is flight:
            self._flight = None
        if flight.cancelled():
            return
        error = flight.exception()
        if error is None:
            self._current = flight.result()
            self._hold_until = self._quiet_until = 0.0
            self._renew_failures = 0
            return
        self._renew_failures += 1
        now = clock()
        current = self._current
        if current is None or current is not previous or not self._keeps(current, error, now):
            self._quiet_until = 0.0
            return
        self._quiet_until = now + policy.mint_backoff(self._renew_failures)
        logger.warning(
            "renewing the credential of %s failed (%s); the current one, still valid, "
            "stays in use; renewal tried again in %.1f s",
            current.budget_key,
            type(error).__name__,
            self._quiet_until - now,
        )

    def _keeps(self, credential: Credential, error: BaseException, now: float) -> bool:
        """Whether ``credential``, still the current one and usable at ``now``, is sent on
        while its renewal failed with ``error`` for a passing reason."""
        return (
            credential is self._current
            and _transient(error)
            and credential.schedule.still_usable(now)
        )

    @abc.abstractmethod
    async def _renew(self, transport: Transport) -> Credential:
        """Obtain a new credential (called by one request at a time)."""

    def _next(self, token: str, budget_key: str, schedule: policy.TokenSchedule) -> Credential:
        self._serial += 1
        return Credential(
            token=token, budget_key=budget_key, serial=self._serial, schedule=schedule
        )

    def _drop(self, credential: Credential | None) -> None:
        """Forget ``credential`` if it is still the current one (never a newer one)."""
        if credential is not None and self._current is credential:
            self._current = None

    def _react(
        self, credential: Credential | None, refusal: Refusal, tries: Tries, lag_window: float
    ) -> float | None:
        if credential is None:
            return None
        reaction = policy.react_to_refusal(
            age=refusal.received_at - credential.schedule.obtained_at,
            expired=credential.schedule.expired(refusal.received_at),
            lag_tries=tries.lag,
            renewed=tries.renewed,
            renewable=True,
            lag_window=lag_window,
        )
        if reaction.action == "wait":
            tries.lag += 1
            if credential is self._current:  # everyone waits: obtain() holds it back
                self._hold_until = max(self._hold_until, refusal.received_at + reaction.pause)
            logger.debug(
                "%d on a credential obtained %.1f s ago (%s): retrying it in %.2f s",
                refusal.status,
                refusal.received_at - credential.schedule.obtained_at,
                credential.budget_key,
                reaction.pause,
            )
            return reaction.pause
        if reaction.action == "renew":
            tries.renewed = True
            self._drop(credential)
            logger.info("%d: renewing the credential of %s", refusal.status, credential.budget_key)
            return 0.0
        return None


def _transient(error: BaseException) -> bool:
    """Whether a failed renewal may be waited out with the current credential: GitHub or
    the network failing, a rate limit, a provider's own error; not a refusal (401, 403,
    404, 422), a bad token from a provider or a certificate problem."""
    if isinstance(error, InvalidArgumentError | TLSError):
        return False
    if isinstance(error, ApiError):
        return isinstance(error, ServerError | RateLimitError)
    return isinstance(error, Exception)


class ProviderAuth(_Renewing):
    """Tokens from an async callable you write (Vault, a secrets manager, another service).

    ``provider()`` returns a token, or a :class:`ProvidedToken` with its expiry; it is called
    on the first request, again once that expiry is near (5 minutes before, or a quarter of
    the lifetime when shorter), and once more after a 401. Concurrent requests share one
    call. ``name`` names the rate-limit budget (``provider:<name>``); without it the budget
    is named after the current token's hash.
    """

    def __init__(self, provider: Provider, *, name: str | None = None) -> None:
        super().__init__()
        if not callable(provider):  # e.g. the token itself, given by mistake: not shown
            raise InvalidArgumentError(
                "provider", f"<{type(provider).__name__}>", "expected an async callable"
            )
        if name is not None and (not isinstance(name, str) or not NAME_RE.fullmatch(name)):
            raise InvalidArgumentError(
                "name", policy.shown_safely(name), "expected letters, digits, '_', '.' or '-'"
            )
        self._provider = provider
        self._name = name

    def __repr__(self) -> str:
        return f"<gh_jobs_async.ProviderAuth {self.budget_key}>"

    @property
    def name(self) -> str | None:
        """The budget's name given at construction (None: named after the token)."""
        return self._name

    @property
    def budget_key(self) -> str:
        """``provider:<name>``, else ``token:`` and a hash of the current token."""
        if self._name is not None:
            return f"provider:{self._name}"
        if self._current is None:
            return "provider:pending"
        return "token:" + self._current.id

    async def _renew(self, transport: Transport) -> Credential:
        answer = await self._provider()
        now = transport.config.clock()
        if isinstance(answer, ProvidedToken):
            token, expires = answer.token, answer.expires_at
        else:
            token, expires = answer, None
        check_token("provider's token", token)
        if expires is not None and expires.tzinfo is None:
            raise InvalidArgumentError(
                "provider's expires_at", expires, "expected an aware datetime (with a time zone)"
            )
        expires_at = None if expires is None else expires.timestamp()
        key = f"provider:{self._name}" if self._name else "token:" + policy.fingerprint(token)
        logger.debug("provider gave a token (%s)", key)
        return self._next(token, key, policy.schedule(now, expires_at))

    def refused(
        self, credential: Credential | None, refusal: Refusal, tries: Tries
    ) -> float | None:
        """Asked again once after a 401; the second 401 is the caller's error."""
        return self._react(credential, refusal, tries, lag_window=0.0)
