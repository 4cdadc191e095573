"""GitHub Apps, the I/O part: :class:`AppAuth` signs the App's JWT, :class:`InstallationAuth`
mints installation tokens with it and renews them (single flight, see ``_auth._Renewing``).

The decisions (claims, schedule, skew, refusals) are in :mod:`gh_jobs_async._authpolicy`.
PyJWT and ``cryptography`` come with the ``app`` extra and are imported only here, when an
:class:`AppAuth` is constructed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import _authpolicy as policy
from . import _sharedtoken as sharing
from ._auth import (
    NAME_RE,
    Auth,
    Credential,
    Refusal,
    Transport,
    Tries,
    _Renewing,
)
from ._sansio import ApiBase, validate_owner, validate_repo
from ._sharedtoken import SharedToken, TokenStore
from .exceptions import ApiError, InvalidArgumentError, UnauthorizedError, UnsafeURLError

__all__ = ["AppAuth", "InstallationAuth"]

logger = logging.getLogger(__name__)

_PERMISSION_LEVELS = frozenset({"read", "write", "admin"})
_MAX_REPOSITORIES = 500  # GitHub's limit for a mint's `repositories`
#: Seconds a refusal for good (uninstalled, suspended) is raised without asking GitHub; then
#: the installation is asked for once more, so a long-lived service recovers by itself.
REFUSAL_KEPT = 60.0


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
    # a path may be shown; key material never
    is_path = isinstance(private_key, os.PathLike) or (
        isinstance(private_key, str) and "-----BEGIN" not in private_key
    )
    shown = policy.shown_key_path(private_key) if is_path else "<redacted>"
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
        raise InvalidArgumentError("private_key", shown, error)
    if not isinstance(key, RSAPrivateKey):
        raise InvalidArgumentError(
            "private_key", shown, "not an RSA key (GitHub Apps sign with RS256)"
        )
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
        raise InvalidArgumentError("private_key", policy.shown_key_path(private_key), reason)
    raise InvalidArgumentError(
        "private_key", f"<{type(private_key).__name__}>", "expected PEM text, bytes or a path"
    )


def _missing_extra() -> ImportError:
    return ImportError(
        "AppAuth needs PyJWT and cryptography: install the 'app' extra, "
        "pip install 'gh_jobs_async[app]'"
    )


def _issuer(value: object) -> str:
    shown = policy.shown_safely(value)  # the key or a token given here by mistake stays hidden
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidArgumentError(
            "app_id_or_client_id", shown, "expected an app ID (int) or a client ID (str)"
        )
    text = str(value)
    if isinstance(value, int) and value <= 0:
        raise InvalidArgumentError("app_id_or_client_id", value, "expected a positive app ID")
    if not NAME_RE.fullmatch(text):
        raise InvalidArgumentError(
            "app_id_or_client_id", shown, "expected an app ID or a client ID such as Iv23li..."
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
        token_store: TokenStore | None = None,
    ) -> InstallationAuth:
        """The auth of one installation: by id, or found from ``owner``/``repo`` (``GET
        /repos/{owner}/{repo}/installation``, once). Tokens may be narrowed to
        ``repositories`` (names, at most 500) and ``permissions`` (e.g. ``{"actions":
        "read"}``). The same arguments give the same object, so tokens are shared.

        ``token_store`` (opt-in, e.g. a :class:`~gh_jobs_async.redis.RedisStore`) shares the
        installation token with every worker using the same store: one worker mints when it
        is missing or due (a lock in the store), the others wait for it and use it. The
        token is then readable by anyone with access to the store. Store failures raise
        :class:`~gh_jobs_async.RateLimitStoreError` (no silent per-worker mint)."""
        target = _installation_target(installation_id, owner, repo)
        repos = _repositories(repositories)
        perms = _permissions(permissions)
        if token_store is not None and not isinstance(token_store, TokenStore):
            raise InvalidArgumentError(
                "token_store", f"<{type(token_store).__name__}>", "expected a token store"
            )
        key = (target, repos, tuple(sorted(perms.items())), id(token_store))
        found = self._installations.get(key)
        if found is None:
            found = InstallationAuth(self, target, repos, perms, token_store)
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
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
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
        token_store: TokenStore | None = None,
    ) -> None:
        super().__init__()
        self._token_store = token_store
        self._refused_ids: list[str] = []  # shared tokens GitHub refused here (fingerprints)
        self._app = app
        self._target = target
        self._id = target if isinstance(target, int) else None
        self._repositories = repositories
        self._permissions = permissions
        self._failures = 0
        self._final: UnauthorizedError | None = None
        self._final_until = 0.0  # a refusal for good is kept (no request) until then
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
        an installation's budget across its tokens), and whichever way it was named.

        An installation named by repository is ``installation:<api origin>:<owner>/<repo>``
        only until its lookup found the id (the lookup is the one request it sends under
        that name); the client's budget then follows (see ``Session``), so that workers
        naming one installation by id or by any of its repositories share one budget.
        """
        if self._id is None and isinstance(self._target, tuple):
            owner, repo = self._target
            return f"installation:{self._app._origin()}:{owner.lower()}/{repo.lower()}"
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
            if transport.config.clock() < self._final_until:
                raise self._refused_for_good(self._final)
            # an uninstalled App may be installed again, a suspension lifted: ask once more
            logger.info(
                "asking again for %s, refused %.0f s ago or more", self._label(), REFUSAL_KEPT
            )
            self._final = None
        return await super().obtain(transport, url)

    async def _renew(self, transport: Transport) -> Credential:
        if self._failures:
            await transport.config.sleep(policy.mint_backoff(self._failures))
        try:
            credential = await self._obtain_token(transport)
        except ApiError as exc:
            final = self._classify_failure(exc)
            self._final_until = transport.config.clock() + REFUSAL_KEPT
        except Exception:
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
                f"{self._label()}: {exc.message} ({policy.refusal_hint(exc.status)})",
                status=exc.status,
                method=exc.method,
                url=exc.url,
                request_id=exc.request_id,
                documentation_url=exc.documentation_url,
            )
            logger.debug("cannot authenticate as %s: %d %s", self._label(), exc.status, exc.message)
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

    @property
    def share_key(self) -> str:
        """The non-secret key a token store holds this installation's token under (a hash
        of API origin, issuer, installation, repositories and permissions)."""
        return sharing.share_key(
            self._app._origin(),
            self._app.issuer,
            self._target,
            self._repositories,
            self._permissions,
        )

    async def _obtain_token(self, transport: Transport) -> Credential:
        if self._token_store is None:
            return await self._mint(transport)
        return await self._shared(transport, self._token_store)

    async def _shared(self, transport: Transport, store: TokenStore) -> Credential:
        """Fleet-wide single flight: use the store's token unless it is missing, due or
        refused here; else mint under the store's lock, or wait for the holder's token."""
        key = self.share_key
        owner = uuid.uuid4().hex
        waits = 0
        while True:
            adopted = await self._adopt(store, key, transport)
            if adopted is not None:
                if waits:
                    logger.debug("%s: took the token another worker minted", self._label())
                return adopted
            if await store.lock_token(key, owner, store.token_lock_ttl):
                break
            waits += 1
            await transport.config.sleep(sharing.POLL_INTERVAL)
        try:
            adopted = await self._adopt(store, key, transport)  # published as we locked?
            if adopted is not None:
                await store.unlock_token(key, owner)
                return adopted
            token, expires_at, received = await self._mint_answer(transport)
            credential = self._credential_of(token, expires_at, received)
            github_now = received + self._app.clock_offset
            ttl = None if expires_at is None else sharing.publish_ttl(expires_at, github_now)
            if expires_at is None or ttl is None:  # nothing worth sharing
                await store.unlock_token(key, owner)
            else:
                shared = SharedToken(token=token, expires_at=expires_at, minted_at=github_now)
                await store.publish_token(key, shared, ttl, owner)
            return credential
        except Exception:
            with contextlib.suppress(Exception):
                await store.unlock_token(key, owner)
            raise

    async def _adopt(self, store: TokenStore, key: str, transport: Transport) -> Credential | None:
        """The store's token as this worker's credential, unless missing, due or refused."""
        found = await store.load_token(key)
        if found is None:
            return None
        if found.id in self._refused_ids:  # compare-and-delete: never a newer token
            await store.discard_token(key, found.id)
            return None
        offset = self._app.clock_offset
        plan = policy.schedule(found.minted_at - offset, found.expires_at, offset)
        if plan.due(transport.config.clock()):
            return None
        return self._next(found.token, self.budget_key, plan)

    async def _mint(self, transport: Transport) -> Credential:
        return self._credential_of(*await self._mint_answer(transport))

    def _credential_of(self, token: str, expires_at: float | None, received: float) -> Credential:
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

    async def _mint_answer(self, transport: Transport) -> tuple[str, float | None, float]:
        """Mint: the token, its expiry (GitHub's clock) and when the answer came (local)."""
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
        if expires_at is None:  # never seen from GitHub; a token kept forever would 401
            expires_at = received + self._app.clock_offset + policy.INSTALLATION_TOKEN_LIFETIME
            logger.warning(
                "the mint for %s answered without a readable expires_at: taken to last %.0f s",
                self._label(),
                policy.INSTALLATION_TOKEN_LIFETIME,
            )
        self.mints += 1
        return token, expires_at, received

    def refused(
        self, credential: Credential | None, refusal: Refusal, tries: Tries
    ) -> float | None:
        """Replication lag on a fresh token: wait and retry it; an older one: renew once (a
        shared token is then dropped from the store, if it is still the one refused)."""
        renewed = tries.renewed
        wait = self._react(credential, refusal, tries, lag_window=policy.LAG_WINDOW)
        shared = self._token_store is not None and credential is not None
        if shared and credential is not None and tries.renewed and not renewed:
            self._refused_ids = [*self._refused_ids[-7:], credential.id]
        return wait


def _json_field(body: bytes, name: str) -> object:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data.get(name) if isinstance(data, dict) else None
