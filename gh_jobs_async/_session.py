"""The aiohttp transport: one ClientSession, the limiter and pacer, rate-limit gates, retries.

Every GitHub API request of a client goes through :meth:`Session.request`:

1. ask the :class:`~gh_jobs_async._limits.Budget` for a grant: it waits while a
   rate-limit gate is closed (a secondary limit pauses *everything*; a spent
   primary budget blocks until ``x-ratelimit-reset``), then for a slot in flight
   and room in the window; the budget lives in this process or in a shared store;
2. send, read the whole body, and let :func:`gh_jobs_async._sansio.classify`
   decide; retry transient failures with full-jitter backoff.

aiohttp exceptions are translated into ours in one place, :func:`translate`,
and never escape, not even as ``__context__``: they keep request headers,
which hold the token.
"""

from __future__ import annotations

import json as _json
import logging
import ssl
import time
from collections.abc import Mapping

import aiohttp
import attrs

from . import _authpolicy, _limits, _sansio
from ._auth import Auth, Credential, Refusal, TokenAuth, Tries, _NoAuth
from ._cache import ConditionalCache
from ._limits import Budget, BudgetSettings, Clock, Grant, LimitStore, LocalLimits, Sleep
from .exceptions import (
    ApiError,
    ClientClosedError,
    GhJobsError,
    InvalidArgumentError,
    RequestTimeoutError,
    TLSError,
    TransportError,
    UnsafeURLError,
)
from .models import RateLimit

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_BODY = 64 * 1024 * 1024
#: How often one request asks its auth again for a credential that fell due while the
#: request waited for a slot; after that the credential is sent as it is (GitHub decides).
MAX_CREDENTIAL_RECHECKS = 2


class _CredentialDue(Exception):  # a signal inside Session, never raised out of it
    """The credential of a request fell due while it waited for its slot."""


@attrs.frozen
class Answer:
    """A finished API exchange: status, lower-cased headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    credential_id: str | None = None  # a hash of the credential sent, never the credential
    not_modified: bool = False  # a 304 revived from the conditional-request cache


TRANSPORT_ERRORS = (TimeoutError, aiohttp.ClientError, OSError)


def translate(exc: BaseException, method: str, url: str) -> TransportError:
    """Our :class:`TransportError` for an aiohttp or socket error.

    ``url`` must already be safe to show (an API URL, or a blob origin). The
    caller raises the result *after* its ``except`` block, so that neither
    ``__cause__`` nor ``__context__`` keeps aiohttp's exception, whose
    ``request_info`` holds the request headers and so the token.
    """
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return TLSError(_describe_tls(exc), method=method, url=url)
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return RequestTimeoutError(f"timed out ({type(exc).__name__})", method=method, url=url)
    return TransportError(_describe(exc), method=method, url=url)


def _describe_tls(exc: BaseException) -> str:
    """Why TLS failed, e.g. ``certificate verify failed: self-signed certificate``."""
    cause = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None) or exc
    detail = getattr(cause, "verify_message", None) or getattr(cause, "reason", None)
    if isinstance(cause, ssl.SSLCertVerificationError):
        text = f"TLS certificate verify failed: {detail or 'untrusted certificate'}"
        return text + " (for a private CA, pass ca_bundle=)"
    return f"TLS failed: {detail or type(cause).__name__}"


def _describe(exc: BaseException) -> str:
    """A short text for a transport error that cannot carry a URL or header."""
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "response body broken mid-way"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    return type(exc).__name__


async def _read_body(response: aiohttp.ClientResponse, url: str) -> bytes:
    """The whole body, refusing one larger than MAX_BODY (an API answer is never that big)."""
    length = response.content_length
    if length is not None and length > MAX_BODY:
        raise TransportError(f"body of {length} bytes is larger than {MAX_BODY}", url=url)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY:
            raise TransportError(f"body larger than {MAX_BODY} bytes", url=url)
        chunks.append(chunk)
    return b"".join(chunks)


def _flat_headers(headers: Mapping[str, str]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        flat[name] = f"{flat[name]}, {value}" if name in flat else value
    return flat


def make_ssl_context(ca_bundle: str | None) -> ssl.SSLContext | None:
    """A verifying TLS context trusting ``ca_bundle`` in addition to nothing else, or ``None``."""
    if ca_bundle is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgumentError("ca_bundle", ca_bundle, f"cannot load it ({exc})") from None


@attrs.define(repr=False)
class SessionConfig:
    """Tunables of the transport (validated by the client)."""

    api: _sansio.ApiBase
    token: str | None = attrs.field(repr=False)
    api_version: str
    user_agent: str
    max_concurrency: int
    requests_per_minute: int | None
    max_rate_limit_wait: float
    max_retries: int
    max_secondary_retries: int
    connect_timeout: float
    read_timeout: float
    ssl_context: ssl.SSLContext | None
    clock: Clock  # epoch seconds: compared with x-ratelimit-reset
    monotonic: Clock  # for pacing and pauses, immune to wall-clock jumps
    sleep: Sleep
    auth: Auth | None = None  # None: TokenAuth(token), or no credential without a token
    etag_cache: bool = True  # conditional requests for JSON GETs (see _cache)
    limits: LimitStore | None = None  # None: in this process


class Session:
    """Issues API requests for a client; shared by its paginator and log downloader."""

    def __init__(self, config: SessionConfig, http: aiohttp.ClientSession | None) -> None:
        self.config = config
        self.api = config.api
        self.auth: Auth = config.auth or (TokenAuth(config.token) if config.token else _NoAuth())
        self.auth.bind(self.api)
        self._limits = config.limits or LocalLimits()
        self._budget_key = self.auth.budget_key
        self._budget_settings = BudgetSettings(
            identity=budget_identity(self.api, self.auth),
            api_url=config.api.url,
            max_concurrency=config.max_concurrency,
            requests_per_minute=config.requests_per_minute,
            max_rate_limit_wait=config.max_rate_limit_wait,
            clock=config.clock,
            monotonic=config.monotonic,
            sleep=config.sleep,
        )
        self.budget: Budget = self._limits.open_budget(self._budget_settings)
        self.rate_limit: RateLimit | None = None
        self.requests_sent = 0
        self._http = http
        self._owns_http = http is None
        self._closed = False
        # the credential is asked of the auth for every request, never baked in here
        self._headers = _sansio.request_headers(None, config.api_version, config.user_agent)
        self.cache: ConditionalCache | None = ConditionalCache() if config.etag_cache else None

    def __repr__(self) -> str:
        return f"<Session {self.api.url} {self.budget!r}>"

    @property
    def budget_key(self) -> str:
        """A stable, non-secret name of the rate-limit budget the client's credential spends
        (e.g. ``installation:https://api.github.com:42``, the same across token renewals)."""
        return self.auth.budget_key

    def credential_id(self) -> str | None:
        """A hash of the current credential (SHA-256, 16 hex digits), never the credential;
        None before the first one. Each :class:`Answer` carries the one it was sent with."""
        return self.auth.credential_id()

    def paused_for(self) -> float:
        """Seconds until a secondary pause or a spent primary budget lets requests flow again."""
        return self.budget.paused_for()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def http(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use."""
        if self._closed:
            raise ClientClosedError("the client is closed")
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=self.config.ssl_context or True),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self.config.connect_timeout,
                    sock_read=self.config.read_timeout,
                ),
                auto_decompress=True,
            )
            # aiohttp resends a GET once, by itself, when a kept-alive connection
            # breaks before the answer: behind the limiter, the pacer and every
            # rate-limit pause. Retries are ours to make (aiohttp's test_utils does
            # the same; a borrowed session keeps its owner's setting).
            if hasattr(self._http, "_retry_connection"):
                self._http._retry_connection = False
        return self._http

    async def close(self) -> None:
        """Close the aiohttp session if we created it; idempotent."""
        self._closed = True
        await self.budget.aclose()
        if self._owns_http and self._http is not None:
            await self._http.close()
        self._http = None

    async def _note_rate_limit(self, headers: Mapping[str, str]) -> None:
        rate = _sansio.parse_rate_limit(headers)
        if rate is None:
            return
        self.rate_limit = rate
        await self.budget.primary(rate.remaining, rate.reset_epoch)

    # ------------------------------------------------------------------ sending

    async def request(
        self,
        url: str,
        *,
        method: str = "GET",
        follow_redirects: bool = True,
        json: object = None,
        auth: Auth | None = None,
    ) -> Answer:
        """Send an API request with every protection; return the successful answer.

        Raises the :class:`~gh_jobs_async.exceptions.ApiError` subclass for a
        final error status, :class:`TransportError` once retries are spent.
        With ``follow_redirects=False`` a 3xx answer is returned as it is.
        ``json`` (not None) is sent as a JSON body; ``auth`` overrides the
        session's auth for this request (the App's JWT for ``/app`` endpoints).
        """
        if not self.api.owns(url):  # never send the token elsewhere
            raise UnsafeURLError("request outside the configured API", _sansio.origin_of(url))
        auth = auth or self.auth
        data = None if json is None else _json.dumps(json).encode()
        tries = Tries()
        attempt = secondary = primary = 0
        for _hop in range(MAX_REDIRECTS + 1):
            while True:
                try:
                    credential, answer, grant = await self._send_authorized(auth, method, url, data)
                except TLSError:
                    raise  # a certificate does not get better by asking again
                except TransportError as exc:
                    attempt = await self._retry_or_raise(exc, attempt, 0.0)
                    continue
                decision = _sansio.classify(
                    answer.status,
                    answer.headers,
                    answer.body,
                    method=method,
                    url=url,
                    now=self.config.clock(),
                    secondary_strikes=self.budget.strikes_for(grant),
                )
                if isinstance(decision, _sansio.Success):
                    await self.budget.succeeded()
                    break
                if isinstance(decision, _sansio.SecondaryLimit):
                    secondary = await self._on_secondary(decision, grant, secondary)
                elif isinstance(decision, _sansio.PrimaryLimit):
                    primary = await self._on_primary(decision, primary, own=auth is self.auth)
                elif isinstance(decision, _sansio.Retry):
                    attempt = await self._retry_or_raise(
                        decision.error, attempt, decision.min_delay
                    )
                else:  # raises decision.error unless the auth can do something about it
                    await self._on_refused(auth, credential, answer, decision, tries)
            if credential is not None:
                answer = attrs.evolve(answer, credential_id=credential.id)
            if not (follow_redirects and answer.status in {301, 302, 303, 307, 308}):
                return answer
            url = self._same_origin_redirect(answer, url)
        raise UnsafeURLError(f"more than {MAX_REDIRECTS} redirects", self.api.origin)

    async def _send_authorized(
        self, auth: Auth, method: str, url: str, data: bytes | None
    ) -> tuple[Credential | None, Answer, Grant]:
        """One exchange with a credential from ``auth`` that is still good once the slot is
        granted (asked again, at most ``MAX_CREDENTIAL_RECHECKS`` times, when it fell due
        during the wait)."""
        rechecks = MAX_CREDENTIAL_RECHECKS
        while True:
            # asked before the limiter: a renewal sends requests through it too
            credential = await auth.obtain(self, url)
            if self.auth.budget_key != self._budget_key:  # e.g. the lookup found the id
                await self._follow_identity()
            # a credential handed out due (its renewal failing, see _auth) is not rechecked
            fresh = credential is not None and not credential.schedule.due(self.config.clock())
            try:
                answer, grant = await self._send_once(
                    method,
                    url,
                    headers=self._headers_for(credential, data),
                    data=data,
                    own_budget=auth is self.auth,
                    credential=credential if fresh and rechecks > 0 else None,
                )
            except _CredentialDue:
                rechecks -= 1
                continue
            return credential, answer, grant

    async def _follow_identity(self) -> None:
        """The auth's identity is now known better (an installation named by repository,
        once its lookup found the id): a shared store's budget is the identity's, so the
        client moves to it. In-process limits are the client's own whatever their name."""
        self._budget_key = self.auth.budget_key
        identity = budget_identity(self.api, self.auth)
        if identity == self._budget_settings.identity:
            return
        self._budget_settings = attrs.evolve(self._budget_settings, identity=identity)
        if isinstance(self._limits, LocalLimits):
            return
        previous, self.budget = self.budget, self._limits.open_budget(self._budget_settings)
        logger.debug("budget of %s from now on: %r", self._budget_key, self.budget)
        await previous.aclose()  # it served the installation's lookup alone, answered by now

    def _headers_for(self, credential: Credential | None, data: bytes | None) -> Mapping[str, str]:
        """The request's headers: the shared ones, plus the credential asked for it."""
        if credential is None and data is None:
            return self._headers
        headers = dict(self._headers)
        if credential is not None:
            headers["Authorization"] = credential.authorization
        if data is not None:
            headers["Content-Type"] = "application/json"
        return headers

    async def _on_refused(
        self,
        auth: Auth,
        credential: Credential | None,
        answer: Answer,
        decision: _sansio.Fail,
        tries: Tries,
    ) -> None:
        """Tell the auth its credential was refused (401, or 403 not replicated yet) and wait
        as it says before sending again; raise ``decision.error`` when it cannot help."""
        error = decision.error
        if not _authpolicy.auth_refusal(error.status, error.message):
            raise error
        refusal = Refusal(
            status=error.status,
            message=error.message,
            date=answer.headers.get("date"),
            received_at=self.config.clock(),
        )
        wait = auth.refused(credential, refusal, tries)
        if wait is None:
            raise error
        if wait > 0:
            await self.config.sleep(wait)

    def _same_origin_redirect(self, answer: Answer, url: str) -> str:
        target = _sansio.resolve_redirect(answer.headers.get("location"), url)
        if not self.api.owns(target):
            raise UnsafeURLError(
                "API redirect leaves the configured API origin", _sansio.origin_of(target)
            )
        logger.debug("following redirect %d to %s", answer.status, target)
        return target

    async def _send_once(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        own_budget: bool = True,
        credential: Credential | None = None,
    ) -> tuple[Answer, Grant]:
        """One exchange under the budget. ``own_budget=False``: an answer to the App's JWT
        (a mint, an installation lookup), whose ``x-ratelimit-*`` headers describe the App's
        own budget, not the installation's: they are not recorded.

        ``credential`` (the one in ``headers``) is checked again once the slot is granted:
        the wait for it can outlast the token (a spent primary budget holds requests until
        its reset), and a token due for renewal is not sent: :class:`_CredentialDue` is
        raised with the slot given back."""
        grant = await self.budget.acquire()
        if credential is not None and credential.schedule.due(self.config.clock()):
            await self.budget.give_back(grant)  # never sent: not counted in the window
            logger.debug("%r fell due while waiting for a slot; asking for a fresh one", credential)
            raise _CredentialDue
        try:
            answer = await self._exchange(method, url, headers=headers, data=data)
        finally:
            await self.budget.release(grant)
        if own_budget:
            await self._note_rate_limit(answer.headers)
        return answer, grant

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Answer:
        started = time.perf_counter()
        self.requests_sent += 1
        error: TransportError | None = None
        sent: Mapping[str, str] = self._headers if headers is None else headers
        # conditional-request hook: the cache keys on the headers actually sent
        lookup = self.cache.prepare(method, url, sent) if self.cache is not None else None
        if lookup is not None:
            sent = lookup.headers
        try:
            async with self.http.request(
                method, url, headers=sent, data=data, allow_redirects=False
            ) as response:
                body = await _read_body(response, url)
                answer = Answer(
                    status=response.status,
                    headers=_flat_headers(response.headers),
                    body=body,
                    url=url,
                )
        except TRANSPORT_ERRORS as exc:
            error = translate(exc, method, url)
        if error is not None:
            raise error
        if lookup is not None and self.cache is not None:
            status, revived, body, not_modified = self.cache.settle(
                lookup, answer.status, answer.headers, answer.body
            )
            if not_modified:
                logger.debug("%s %s -> 304, served from the conditional-request cache", method, url)
                answer = Answer(status, revived, body, url, not_modified=True)
        logger.debug(
            "%s %s -> %d (%d bytes, %.0f ms)",
            method,
            url,
            answer.status,
            len(body),
            (time.perf_counter() - started) * 1000,
        )
        return answer

    # ------------------------------------------------------------------ outcomes

    async def _on_secondary(
        self, decision: _sansio.SecondaryLimit, grant: Grant, count: int
    ) -> int:
        if count >= self.config.max_secondary_retries:
            raise decision.error
        await self.budget.refused(grant, decision.wait)
        logger.warning(
            "secondary rate limit: pausing all requests for %.1f s (concurrency now %d)",
            decision.wait,
            self.budget.limit,
        )
        return count + 1

    async def _on_primary(self, decision: _sansio.PrimaryLimit, count: int, *, own: bool) -> int:
        """Hold the budget back until the reset; ``own=False``: the App's JWT budget was
        spent (a mint, a lookup), which is not this budget's to hold: the request fails."""
        if count >= 2 or not own:
            raise decision.error
        await self.budget.primary(0, decision.reset_epoch)
        return count + 1

    async def _retry_or_raise(self, error: GhJobsError, attempt: int, min_delay: float) -> int:
        if attempt >= self.config.max_retries:
            raise error
        delay = _sansio.backoff_delay(attempt, minimum=min_delay)
        logger.warning(
            "retrying in %.2f s (attempt %d of %d) after: %s",
            delay,
            attempt + 1,
            self.config.max_retries,
            _short(error),
        )
        await self.config.sleep(delay)
        return attempt + 1


def budget_identity(api: _sansio.ApiBase, auth: Auth) -> str:
    """The default budget name of a session; the one place that says who we are to a budget.

    Built from the auth's stable, non-secret ``budget_key`` (the installation for App
    auth, the same across token renewals; a hash of a static token), never a secret.
    """
    return _limits.budget_name(api.origin, auth.budget_key)


def _short(error: GhJobsError) -> str:
    if isinstance(error, ApiError):
        return f"{error.status} {error.message}"
    return str(error)
