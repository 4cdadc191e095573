"""Who we are, the I/O part: the auth kinds a :class:`~gh_jobs_async.Client` can hold.

The session asks its auth for a :class:`Credential` before every API request
(:meth:`Auth.obtain`), and tells it when GitHub refused one (:meth:`Auth.refused`), which
answers with a :class:`~gh_jobs_async._authpolicy.Reaction` (httpx's ``Auth`` flow is the
model: the session asks, the auth answers, the session tells it what came back). Every
decision is made in the pure :mod:`gh_jobs_async._authpolicy`.

Kinds: :class:`TokenAuth` (a fixed token), :class:`ProviderAuth` (an async callable the user
writes), :class:`AppAuth` (a GitHub App's JWT, for the ``/app`` endpoints) and
:class:`InstallationAuth` (an App installation's tokens, minted and renewed as needed).

Secrets (tokens, the JWT, the private key) are never in a repr, a log line, an exception
message or ``__context__``: objects show :func:`~gh_jobs_async._authpolicy.fingerprint` s.
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from . import _authpolicy as policy
from ._sansio import ApiBase
from .exceptions import ApiError, InvalidArgumentError, UnauthorizedError, UnsafeURLError

if TYPE_CHECKING:
    from ._session import Answer

__all__ = [
    "AppAuth",
    "Auth",
    "Credential",
    "InstallationAuth",
    "ProvidedToken",
    "ProviderAuth",
    "Refusal",
    "TokenAuth",
    "Transport",
    "Tries",
]

logger = logging.getLogger(__name__)

_PERMISSION_LEVELS = frozenset({"read", "write", "admin"})
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_MAX_REPOSITORIES = 500  # GitHub's limit for a mint's `repositories`


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


def _redacted(name: str, reason: str) -> InvalidArgumentError:
    return InvalidArgumentError(name, "<redacted>", reason)


def check_token(name: str, token: object) -> str:
    """``token`` if it is a usable opaque token (no length or pattern checks), else raise."""
    if not isinstance(token, str):
        raise InvalidArgumentError(name, f"<{type(token).__name__}>", "expected a string")
    if not token or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise _redacted(name, "empty, or contains whitespace")
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

    @property
    def budget_key(self) -> str:
        return "anonymous:"

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

    def credential_id(self) -> str | None:
        return None if self._current is None else self._current.id

    @property
    def renews_at(self) -> float | None:
        """When the current credential is due for renewal (epoch seconds on the client's
        clock); None without a credential or when it does not expire."""
        return None if self._current is None else self._current.schedule.refresh_at

    async def obtain(self, transport: Transport, url: str) -> Credential | None:
        current = self._current
        if current is not None and not current.schedule.due(transport.config.clock()):
            return current
        if self._flight is None:
            flight = asyncio.ensure_future(self._renew(transport))
            self._flight = flight
            flight.add_done_callback(self._landed)
        # shield: a caller cancelled mid-renewal must not cancel it for the others
        return await asyncio.shield(self._flight)

    def _landed(self, flight: asyncio.Future[Credential]) -> None:
        if self._flight is flight:
            self._flight = None
        if not flight.cancelled() and flight.exception() is None:
            self._current = flight.result()

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
        if not callable(provider):
            raise InvalidArgumentError("provider", provider, "expected an async callable")
        if name is not None and (not isinstance(name, str) or not _NAME_RE.fullmatch(name)):
            raise InvalidArgumentError("name", name, "expected letters, digits, '_', '.' or '-'")
        self._provider = provider
        self._name = name

    def __repr__(self) -> str:
        return f"<gh_jobs_async.ProviderAuth {self.budget_key}>"

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


# --------------------------------------------------------------------------- Apps


def _load_key(private_key: str | bytes | os.PathLike[str]) -> Any:
    """The RSA private key, parsed once; InvalidArgumentError never shows key material."""
    try:
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey  # noqa: PLC0415
        from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
            load_pem_private_key,
        )
    except ImportError:
        raise _missing_extra() from None
    data = _key_bytes(private_key)
    data = data.replace(b"\\n", b"\n").replace(b"\r\n", b"\n").strip() + b"\n"
    error: str | None = None
    key = None
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:
        error = "it is encrypted; give an unencrypted PEM key"
    except Exception:  # cryptography raises ValueError, or UnsupportedAlgorithm
        error = "not a readable PEM private key"
    if error is not None:
        raise _redacted("private_key", error)
    if not isinstance(key, RSAPrivateKey):
        raise _redacted("private_key", "not an RSA key (GitHub Apps sign with RS256)")
    return key


def _key_bytes(private_key: object) -> bytes:
    if isinstance(private_key, bytes):
        return private_key
    if isinstance(private_key, str) and "-----BEGIN" in private_key:
        return private_key.encode("utf-8", "replace")
    if isinstance(private_key, str | os.PathLike):
        path = Path(os.fspath(private_key))
        try:
            return path.read_bytes()
        except OSError as exc:
            reason = f"cannot read the key file ({exc.strerror or type(exc).__name__})"
        raise InvalidArgumentError("private_key", str(path), reason)
    raise InvalidArgumentError(
        "private_key", f"<{type(private_key).__name__}>", "expected PEM text, bytes or a path"
    )


def _missing_extra() -> ImportError:
    return ImportError(
        "AppAuth needs PyJWT and cryptography: install the 'app' extra, "
        "pip install 'gh_jobs_async[app]'"
    )


def _issuer(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidArgumentError(
            "app_id_or_client_id", value, "expected an app ID (int) or a client ID (str)"
        )
    text = str(value)
    if isinstance(value, int) and value <= 0:
        raise InvalidArgumentError("app_id_or_client_id", value, "expected a positive app ID")
    if not _NAME_RE.fullmatch(text):
        raise InvalidArgumentError(
            "app_id_or_client_id", value, "expected an app ID or a client ID such as Iv23li..."
        )
    return text


class AppAuth(Auth):
    """A GitHub App: signs its JWT (RS256) for the ``/app`` endpoints, and hands out
    :meth:`installation` auths, which are what a :class:`~gh_jobs_async.Client` holds.

    ``app_id_or_client_id`` becomes the JWT's ``iss``: the client ID is what GitHub
    recommends; the app ID is the safe choice on GitHub Enterprise Server. ``private_key``
    is PEM text or bytes (PKCS#1 ``BEGIN RSA PRIVATE KEY`` as GitHub's download, or PKCS#8;
    CRLF endings and literal ``\\n`` are normalised) or the path of a PEM file. It is parsed
    once, now; a missing, unreadable or non-RSA key raises
    :class:`~gh_jobs_async.InvalidArgumentError`. Needs ``pip install 'gh_jobs_async[app]'``
    (ImportError naming the extra otherwise).

    An App lives on one GitHub host: the first client using it binds it to its API root.
    """

    def __init__(
        self, app_id_or_client_id: int | str, private_key: str | bytes | os.PathLike[str]
    ) -> None:
        try:
            import jwt  # noqa: PLC0415
        except ImportError:
            raise _missing_extra() from None
        self._jwt = jwt
        self._issuer = _issuer(app_id_or_client_id)
        self._key = _load_key(private_key)
        self._api: ApiBase | None = None
        self._offset = 0.0  # GitHub's clock minus ours
        self._claims: policy.JwtClaims | None = None
        self._credential: Credential | None = None
        self._serial = 0
        self._installations: dict[tuple[object, ...], InstallationAuth] = {}

    def __repr__(self) -> str:
        return f"<gh_jobs_async.AppAuth iss={self._issuer} offset={self._offset:+.0f}s>"

    @property
    def issuer(self) -> str:
        """The JWT's ``iss``: the app ID or client ID given."""
        return self._issuer

    @property
    def clock_offset(self) -> float:
        """GitHub's clock minus the local one, in seconds, as learned from ``Date`` headers."""
        return self._offset

    @property
    def budget_key(self) -> str:
        """``app:<api origin>:<issuer>``: requests signed with the JWT spend the App's budget."""
        return f"app:{self._origin()}:{self._issuer}"

    def _origin(self) -> str:
        return "unbound" if self._api is None else self._api.origin

    def bind(self, api: ApiBase) -> None:
        """Bind to ``api`` on first use; another API root raises InvalidArgumentError."""
        if self._api is None:
            self._api = api
        elif self._api != api:
            raise InvalidArgumentError(
                "auth",
                repr(self),
                f"this App is used with {self._api.url}; an App belongs to one GitHub host",
            )

    def installation(
        self,
        installation_id: int | None = None,
        *,
        owner: str | None = None,
        repo: str | None = None,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> InstallationAuth:
        """The auth of one installation: by id, or found from ``owner``/``repo`` (``GET
        /repos/{owner}/{repo}/installation``, once). Tokens may be narrowed to
        ``repositories`` (names, at most 500) and ``permissions`` (e.g. ``{"actions":
        "read"}``). The same arguments give the same object, so tokens are shared."""
        target = _installation_target(installation_id, owner, repo)
        repos = _repositories(repositories)
        perms = _permissions(permissions)
        key = (target, repos, tuple(sorted(perms.items())))
        found = self._installations.get(key)
        if found is None:
            found = InstallationAuth(self, target, repos, perms)
            self._installations[key] = found
        return found

    # -- the JWT as a credential ---------------------------------------------------------

    async def obtain(self, transport: Transport, url: str) -> Credential | None:
        """The App's JWT, for ``/app...`` and ``.../installation`` only; re-signed when due."""
        self.bind(transport.api)
        path = url.split("?", 1)[0][len(transport.api.url) :]
        if not policy.is_jwt_endpoint(path):
            raise UnsafeURLError(
                "the App's JWT is sent only to /app/... and .../installation endpoints",
                transport.api.origin,
            )
        now = transport.config.clock()
        if self._credential is None or policy.jwt_due(self._claims, now, self._offset):
            self._credential = self._sign(now)
        return self._credential

    def _sign(self, now: float) -> Credential:
        claims = policy.jwt_claims(self._issuer, now, self._offset)
        token = self._jwt.encode(claims.as_dict(), self._key, algorithm="RS256")
        self._claims = claims
        self._serial += 1
        logger.debug(
            "signed an App JWT for %s (iat %d, exp %d)", self._issuer, claims.iat, claims.exp
        )
        expiry = policy.TokenSchedule(
            obtained_at=now, expires_at=claims.exp - self._offset, refresh_at=None
        )
        return Credential(
            token=token, budget_key=self.budget_key, serial=self._serial, schedule=expiry
        )

    def refused(
        self, credential: Credential | None, refusal: Refusal, tries: Tries
    ) -> float | None:
        """A refused JWT: learn GitHub's clock from ``Date`` and re-sign once when the
        message blames ``iat`` or ``exp``; anything else is final."""
        reaction = policy.react_to_jwt_refusal(refusal.message, resigned=tries.resigned)
        if reaction.action != "resign":
            return None
        tries.resigned = True
        offset = policy.observed_offset(refusal.date, refusal.received_at)
        if offset is not None:
            self._offset = offset
        self._credential = None
        logger.warning(
            "GitHub refused the App JWT's %s claim: clock offset %+.1f s from its Date header; "
            "signing again with corrected times",
            policy.refused_claim(refusal.message),
            self._offset,
        )
        return 0.0

    def note_date(self, date: str | None, received_at: float) -> None:
        """Adopt GitHub's clock from an answer's ``Date`` when it is off by more than the
        header's precision (called with every mint answer)."""
        offset = policy.observed_offset(date, received_at)
        if offset is not None and abs(offset - self._offset) > policy.SKEW_TOLERANCE:
            logger.warning("GitHub's clock is %+.1f s from ours (from its Date header)", offset)
            self._offset = offset


def _installation_target(
    installation_id: object, owner: object, repo: object
) -> int | tuple[str, str]:
    if installation_id is not None:
        if owner is not None or repo is not None:
            raise InvalidArgumentError(
                "installation_id", installation_id, "give an installation id or owner= and repo="
            )
        if isinstance(installation_id, bool) or not isinstance(installation_id, int):
            raise InvalidArgumentError("installation_id", installation_id, "expected an int")
        if installation_id <= 0:
            raise InvalidArgumentError("installation_id", installation_id, "expected > 0")
        return installation_id
    if owner is None or repo is None:
        raise InvalidArgumentError(
            "installation_id", None, "give an installation id, or both owner= and repo="
        )
    from ._sansio import validate_owner, validate_repo  # noqa: PLC0415

    return validate_owner(owner), validate_repo(repo)


def _repositories(repositories: object) -> tuple[str, ...] | None:
    if repositories is None:
        return None
    if isinstance(repositories, str) or not isinstance(repositories, Sequence):
        raise InvalidArgumentError("repositories", repositories, "expected a sequence of names")
    names = tuple(repositories)
    if not names or len(names) > _MAX_REPOSITORIES:
        raise InvalidArgumentError("repositories", len(names), "expected 1 to 500 names")
    for name in names:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise InvalidArgumentError("repositories", name, "expected a repository name")
    return tuple(sorted(set(names)))


def _permissions(permissions: object) -> dict[str, str]:
    if permissions is None:
        return {}
    if not isinstance(permissions, Mapping):
        raise InvalidArgumentError("permissions", permissions, 'expected e.g. {"actions": "read"}')
    checked: dict[str, str] = {}
    for name, level in permissions.items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z_]+", name):
            raise InvalidArgumentError("permissions", name, "expected a permission name")
        if level not in _PERMISSION_LEVELS:
            raise InvalidArgumentError(
                f"permissions[{name!r}]", level, "expected 'read', 'write' or 'admin'"
            )
        checked[name] = level
    return checked


class InstallationAuth(_Renewing):
    """An App installation's tokens: minted with ``POST /app/installations/{id}/access_tokens``
    through the client's limiter and pacer, kept until shortly before ``expires_at`` and
    renewed single-flight; the rate-limit budget (:attr:`budget_key`) stays the
    installation's across renewals.

    Made by :meth:`AppAuth.installation`. A failed mint is not kept: the next request tries
    again, after a backoff. A mint refused for good (unknown or deleted installation,
    suspended, 422) raises :class:`~gh_jobs_async.UnauthorizedError` naming the installation,
    now and for every later request, without sending anything more.
    """

    def __init__(
        self,
        app: AppAuth,
        target: int | tuple[str, str],
        repositories: tuple[str, ...] | None,
        permissions: dict[str, str],
    ) -> None:
        super().__init__()
        self._app = app
        self._target = target
        self._id = target if isinstance(target, int) else None
        self._repositories = repositories
        self._permissions = permissions
        self._failures = 0
        self._final: UnauthorizedError | None = None
        self.mints = 0

    def __repr__(self) -> str:
        return f"<gh_jobs_async.InstallationAuth {self.budget_key} mints={self.mints}>"

    @property
    def app(self) -> AppAuth:
        """The App this installation belongs to."""
        return self._app

    @property
    def installation_id(self) -> int | None:
        """The installation's id (None until found from owner/repo)."""
        return self._id

    @property
    def budget_key(self) -> str:
        """``installation:<api origin>:<id>``, the same across token renewals (GitHub counts
        an installation's budget across its tokens); the App's key until the id is found."""
        if self._id is None:
            return self._app.budget_key
        return f"installation:{self._app._origin()}:{self._id}"

    def bind(self, api: ApiBase) -> None:
        """Bind the App to ``api`` (see :meth:`AppAuth.bind`)."""
        self._app.bind(api)

    def _label(self) -> str:
        if self._id is not None:
            return f"installation {self._id} of app {self._app.issuer}"
        owner, repo = self._target if isinstance(self._target, tuple) else ("?", "?")
        return f"the installation on {owner}/{repo} of app {self._app.issuer}"

    async def obtain(self, transport: Transport, url: str) -> Credential | None:
        if self._final is not None:
            raise self._refused_for_good(self._final)
        return await super().obtain(transport, url)

    async def _renew(self, transport: Transport) -> Credential:
        if self._failures:
            await transport.config.sleep(policy.mint_backoff(self._failures))
        try:
            credential = await self._mint(transport)
        except ApiError as exc:
            final = self._classify_failure(exc)
        except BaseException:
            self._failures += 1
            raise
        else:
            self._failures = 0
            return credential
        raise final

    def _classify_failure(self, exc: ApiError) -> ApiError:
        """What a failed lookup or mint raises; a refusal for good is kept."""
        if policy.mint_refused_for_good(exc.status, exc.message):
            self._final = UnauthorizedError(
                f"{self._label()}: {exc.message} (deleted, suspended or uninstalled?)",
                status=exc.status,
                method=exc.method,
                url=exc.url,
                request_id=exc.request_id,
                documentation_url=exc.documentation_url,
            )
            logger.error("cannot authenticate as %s: %d %s", self._label(), exc.status, exc.message)
            return self._refused_for_good(self._final)
        self._failures += 1
        logger.warning(
            "minting a token for %s failed: %d %s", self._label(), exc.status, exc.message
        )
        return exc

    @staticmethod
    def _refused_for_good(error: UnauthorizedError) -> UnauthorizedError:
        return UnauthorizedError(
            error.message,
            status=error.status,
            method=error.method,
            url=error.url,
            request_id=error.request_id,
            documentation_url=error.documentation_url,
        )

    async def _lookup(self, transport: Transport) -> int:
        owner, repo = self._target if isinstance(self._target, tuple) else ("", "")
        url = transport.api.build("repos", owner, repo, "installation")
        answer = await transport.request(url, auth=self._app)
        installation_id = _json_field(answer.body, "id")
        if isinstance(installation_id, bool) or not isinstance(installation_id, int):
            raise ApiError(
                "installation lookup answered without an id", status=answer.status, url=url
            )
        logger.info("found installation %d for %s/%s", installation_id, owner, repo)
        return installation_id

    async def _mint(self, transport: Transport) -> Credential:
        if self._id is None:
            self._id = await self._lookup(transport)
        url = transport.api.build("app", "installations", self._id, "access_tokens")
        body: dict[str, object] = {}
        if self._repositories is not None:
            body["repositories"] = list(self._repositories)
        if self._permissions:
            body["permissions"] = dict(self._permissions)
        answer = await transport.request(url, method="POST", json=body or None, auth=self._app)
        received = transport.config.clock()
        self._app.note_date(answer.headers.get("date"), received)
        token = _json_field(answer.body, "token")
        if not isinstance(token, str) or not token or any(ch.isspace() for ch in token):
            raise ApiError("mint answered without a usable token", status=answer.status, url=url)
        expires_at = policy.parse_expires_at(_json_field(answer.body, "expires_at"))
        self.mints += 1
        credential = self._next(
            token, self.budget_key, policy.schedule(received, expires_at, self._app.clock_offset)
        )
        logger.debug(
            "minted token #%d for %s (id %s), renewing in %.0f s",
            credential.serial,
            self._label(),
            credential.id,
            (credential.schedule.refresh_at or received) - received,
        )
        return credential

    def refused(
        self, credential: Credential | None, refusal: Refusal, tries: Tries
    ) -> float | None:
        """Replication lag on a fresh token: wait and retry it; an older one: renew once."""
        return self._react(credential, refusal, tries, lag_window=policy.LAG_WINDOW)


def _json_field(body: bytes, name: str) -> object:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data.get(name) if isinstance(data, dict) else None
