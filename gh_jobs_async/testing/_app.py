"""The fake's GitHub App: a key pair, installations, JWT checks, minted tokens.

Created the first time a test touches it (``fake.app_id``, ``fake.add_installation``...),
because generating the RSA key takes tens of milliseconds and needs ``cryptography``, which
only the App uses. It checks JWTs itself, as GitHub documents (RS256 with the app's public
key; ``iat`` at most 60 s ahead of the fake's clock; ``exp`` in the future, at most 10
minutes after ``iat`` and after now; ``iss`` the app ID or client ID), never with the
client's code. The fake's clock is ``time.time() + FakeConfig.app_clock_offset``, shown in
every API answer's ``Date``.

Installation tokens last ``app_token_lifetime`` seconds (``expires_at`` rounded up to the
whole second, GitHub's format) and answer 401 ``Bad credentials`` once expired, revoked
(installation deleted) or, for their first ``app_replication_lag`` seconds, not replicated
yet (403 ``... aren't replicated yet`` for a token narrowed to permissions). Each
installation, and the App's JWT, has a primary budget of its own.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from aiohttp import web

from gh_jobs_async.testing._config import FakeConfig, FakeStats
from gh_jobs_async.testing._http import JSON_TYPE, github_error
from gh_jobs_async.testing._limits import Limiter

__all__ = ["AppVerdict", "FakeApp", "FakeInstallation"]

_DOCS_APPS = "https://docs.github.com/rest/apps/apps"
_DOCS_JWT = (
    "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/"
    "generating-a-json-web-token-jwt-for-a-github-app"
)
#: GitHub's 401 messages for a refused JWT (see /work/shared/docs/github-api.md section 9).
JWT_MESSAGES = {
    "iat": "'Issued at' claim ('iat') must be an Integer representing the time that the "
    "assertion was issued",
    "exp_too_far": "'Expiration time' claim ('exp') is too far in the future",
    "exp_expired": "'Expiration time' claim ('exp') must be a numeric value representing the "
    "future time at which the assertion expires",
    "undecodable": "A JSON web token could not be decoded",
}
_TOKEN_LENGTH = 520  # GitHub's newer stateless installation tokens are about this long
_MAX_REPOSITORIES = 500


@dataclass
class FakeInstallation:
    """One installation of the fake's App on ``owner``; ``repos`` None means all."""

    id: int
    owner: str
    repos: tuple[str, ...] | None
    suspended: bool = False
    deleted: bool = False


@dataclass
class _Issued:
    installation_id: int
    label: str
    issued_mono: float
    expires_epoch: int  # the fake's clock
    repos: tuple[str, ...] | None
    scoped: bool


@dataclass(frozen=True)
class AppVerdict:
    """What the App makes of a request's credential: an identity, or a refusal."""

    identity: str | None = None  # "app" or "installation:<id>"
    status: int = 0
    message: str = ""
    documentation_url: str = _DOCS_APPS


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _is_jwt_path(path: str) -> bool:
    parts = path.split("/")
    if parts[1:2] == ["app"]:
        return True
    return parts[-1] == "installation" and (
        (len(parts) == 5 and parts[1] == "repos")
        or (len(parts) == 4 and parts[1] in ("orgs", "users"))
    )


@dataclass
class FakeApp:
    """The App of one fake; single event loop, so no locks."""

    config: FakeConfig
    stats: FakeStats
    app_id: int = 4242
    slug: str = "fake-app"
    client_id: str = field(default_factory=lambda: "Iv23li" + secrets.token_hex(7))
    installations: dict[int, FakeInstallation] = field(default_factory=dict)
    _tokens: dict[str, _Issued] = field(default_factory=dict, repr=False)
    _limiters: dict[str, Limiter] = field(default_factory=dict, repr=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _serials: dict[int, int] = field(default_factory=dict)
    jwts_seen: set[str] = field(default_factory=set, repr=False)
    _key: Any = field(default=None, repr=False)
    private_key_pem: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        """Generate the App's RSA key pair (2048 bits) and its PKCS#1 PEM, as GitHub's."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()

    # -- clock -----------------------------------------------------------------------------

    def now(self) -> float:
        """The fake's clock (epoch seconds), ``app_clock_offset`` away from the host's."""
        return time.time() + self.config.app_clock_offset

    def date_header(self) -> str:
        """``Date`` on the fake's clock."""
        return formatdate(self.now(), usegmt=True)

    # -- installations ---------------------------------------------------------------------

    def add_installation(self, owner: str, repos: tuple[str, ...] | None) -> FakeInstallation:
        """Install the App on ``owner`` (on ``repos`` only, or all repositories)."""
        inst = FakeInstallation(next(self._ids), owner, repos)
        self.installations[inst.id] = inst
        return inst

    @property
    def issued_tokens(self) -> list[str]:
        """Every installation token minted so far, oldest first."""
        return list(self._tokens)

    def limiter(self, identity: str) -> Limiter:
        """The primary budget of ``identity`` ("app" or "installation:<id>")."""
        found = self._limiters.get(identity)
        if found is None:
            found = self._limiters[identity] = Limiter(self.config)
        return found

    def leaked(self, values: list[str]) -> int:
        """How many of ``values`` (headers, URL) hold an issued token or a JWT-shaped value."""
        return sum(
            1 for value in values if "eyJ" in value or any(token in value for token in self._tokens)
        )

    # -- credentials -----------------------------------------------------------------------

    def check(self, authorization: str | None, path: str) -> AppVerdict | None:
        """The App's verdict on a request's ``Authorization`` (None: not an App credential)."""
        if authorization is None:
            return None
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() not in ("bearer", "token"):
            return None
        if credential.count(".") == 2 and credential.startswith("eyJ"):
            self.jwts_seen.add(credential)
            return self._check_jwt(credential, path)
        issued = self._tokens.get(credential)
        if issued is None:
            return None
        return self._check_token(issued, path)

    def _refuse_jwt(self, reason: str) -> AppVerdict:
        self.stats.jwt_refusals[reason] += 1
        self.stats.app_unauthorized["jwt_" + reason] += 1
        message = JWT_MESSAGES.get(reason, JWT_MESSAGES["undecodable"])
        return AppVerdict(status=401, message=message, documentation_url=_DOCS_JWT)

    def _check_jwt(self, token: str, path: str) -> AppVerdict:
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415

        head, body, signature = token.split(".")
        try:
            header = json.loads(_b64url(head))
            claims = json.loads(_b64url(body))
            raw_signature = _b64url(signature)
        except (ValueError, binascii.Error):
            return self._refuse_jwt("undecodable")
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return self._refuse_jwt("undecodable")
        try:
            self._key.public_key().verify(
                raw_signature, f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return self._refuse_jwt("signature")
        reason = self._claims_problem(claims)
        if reason is not None:
            return self._refuse_jwt(reason)
        if not _is_jwt_path(path):
            return self._refuse_jwt("wrong_endpoint")
        return AppVerdict(identity="app")

    def _claims_problem(self, claims: object) -> str | None:
        if not isinstance(claims, dict):
            return "undecodable"
        iat, exp, iss = claims.get("iat"), claims.get("exp"), claims.get("iss")
        now = self.now()
        if not isinstance(iat, int) or isinstance(iat, bool) or iat > now + 60:
            return "iat"
        if not isinstance(exp, int) or isinstance(exp, bool) or exp <= now:
            return "exp_expired"
        if exp - iat > 600 or exp > now + 600:
            return "exp_too_far"
        if str(iss) not in (str(self.app_id), self.client_id):
            return "issuer"
        return None

    def _check_token(self, issued: _Issued, path: str) -> AppVerdict:
        stats = self.stats
        inst = self.installations[issued.installation_id]
        if inst.deleted:
            return self._refuse_token("revoked")
        if self.now() >= issued.expires_epoch:
            return self._refuse_token("expired")
        if time.monotonic() - issued.issued_mono < self.config.app_replication_lag:
            if issued.scoped:
                stats.app_unauthorized["not_replicated_403"] += 1
                return AppVerdict(
                    status=403,
                    message="Resource not accessible by integration: the permissions of this "
                    "token aren't replicated yet",
                )
            return self._refuse_token("replication_lag")
        if _is_jwt_path(path):
            return self._refuse_token("not_a_jwt")  # these endpoints want the App's JWT
        parts = path.split("/")
        if parts[1:2] == ["repos"] and len(parts) > 3:
            allowed = issued.repos if issued.repos is not None else inst.repos
            if parts[2] != inst.owner or (allowed is not None and parts[3] not in allowed):
                return AppVerdict(status=404, message="Not Found")
        stats.requests_per_token[issued.label] += 1
        stats.requests_per_installation[inst.id] += 1
        return AppVerdict(identity=f"installation:{inst.id}")

    def _refuse_token(self, reason: str) -> AppVerdict:
        self.stats.app_unauthorized[reason] += 1
        return AppVerdict(status=401, message="Bad credentials", documentation_url=_DOCS_APPS)

    # -- endpoints -------------------------------------------------------------------------

    async def answer(
        self, request: web.Request, identity: str | None, headers: dict[str, str]
    ) -> web.Response | None:
        """The answer of an App endpoint (None: not one of them)."""
        parts = request.path.split("/")
        if self.config.ghes and parts[1:3] == ["api", "v3"]:
            parts = ["", *parts[3:]]
        method = request.method
        if method == "GET" and parts == ["", "app"]:
            return self._json(200, self._app_body(), headers) if identity == "app" else None
        if (
            method == "GET"
            and len(parts) == 5
            and parts[1] == "repos"
            and parts[4] == "installation"
        ):
            return self._lookup(parts[2], parts[3], identity, headers)
        if (
            method == "POST"
            and len(parts) == 5
            and parts[1:3] == ["app", "installations"]
            and parts[4] == "access_tokens"
            and parts[3].isdigit()
        ):
            body = await request.read()
            return self._mint(int(parts[3]), body, identity, headers)
        return None

    def _json(self, status: int, body: object, headers: dict[str, str]) -> web.Response:
        headers["Content-Type"] = JSON_TYPE
        return web.Response(status=status, body=json.dumps(body).encode(), headers=headers)

    def _error(self, status: int, message: str, headers: dict[str, str]) -> web.Response:
        headers["Content-Type"] = JSON_TYPE
        return web.Response(
            status=status, body=github_error(status, message, _DOCS_APPS), headers=headers
        )

    def _app_body(self) -> dict[str, object]:
        return {
            "id": self.app_id,
            "slug": self.slug,
            "client_id": self.client_id,
            "name": "Fake App",
            "owner": {"login": "octo-org", "type": "Organization"},
            "permissions": {"actions": "read", "metadata": "read"},
            "events": [],
            "installations_count": sum(1 for i in self.installations.values() if not i.deleted),
        }

    def _installation_body(self, inst: FakeInstallation) -> dict[str, object]:
        return {
            "id": inst.id,
            "app_id": self.app_id,
            "app_slug": self.slug,
            "account": {"login": inst.owner},
            "repository_selection": "all" if inst.repos is None else "selected",
            "access_tokens_url": f"/app/installations/{inst.id}/access_tokens",
            "suspended_at": "2024-01-01T00:00:00Z" if inst.suspended else None,
        }

    def _lookup(
        self, owner: str, repo: str, identity: str | None, headers: dict[str, str]
    ) -> web.Response:
        if identity != "app":
            return self._error(401, JWT_MESSAGES["undecodable"], headers)
        self.stats.app_lookups += 1
        for inst in self.installations.values():
            if (
                inst.owner == owner
                and not inst.deleted
                and (inst.repos is None or repo in inst.repos)
            ):
                return self._json(200, self._installation_body(inst), headers)
        return self._error(404, "Not Found", headers)

    def _mint(
        self, installation_id: int, raw: bytes, identity: str | None, headers: dict[str, str]
    ) -> web.Response:
        if identity != "app":
            return self._error(401, JWT_MESSAGES["undecodable"], headers)
        inst = self.installations.get(installation_id)
        if inst is None or inst.deleted:
            self.stats.app_mint_refusals["not_found"] += 1
            return self._error(404, "Not Found", headers)
        if inst.suspended:
            self.stats.app_mint_refusals["suspended"] += 1
            return self._error(403, "This installation has been suspended", headers)
        try:
            request = json.loads(raw) if raw else {}
        except ValueError:
            request = None
        problem = self._mint_problem(inst, request)
        if problem is not None or not isinstance(request, dict):
            self.stats.app_mint_refusals["invalid"] += 1
            return self._error(422, problem or "Problems parsing JSON", headers)
        return self._json(201, self._issue(inst, request), headers)

    def _mint_problem(self, inst: FakeInstallation, request: object) -> str | None:
        if not isinstance(request, dict):
            return "Problems parsing JSON"
        repos = request.get("repositories")
        if repos is not None:
            if not isinstance(repos, list) or not repos or len(repos) > _MAX_REPOSITORIES:
                return "repositories must be a list of 1 to 500 names"
            if inst.repos is not None and any(name not in inst.repos for name in repos):
                return (
                    "There is at least one repository that does not exist or is not "
                    "accessible to the parent installation."
                )
        permissions = request.get("permissions")
        if permissions is not None and (
            not isinstance(permissions, dict)
            or any(level not in ("read", "write", "admin") for level in permissions.values())
        ):
            return "The permissions requested are not granted to this installation."
        return None

    def _issue(self, inst: FakeInstallation, request: dict[str, Any]) -> dict[str, object]:
        token = "ghs_" + secrets.token_urlsafe(_TOKEN_LENGTH)[: _TOKEN_LENGTH - 4]
        expires = math.ceil(self.now() + self.config.app_token_lifetime)
        serial = self._serials[inst.id] = self._serials.get(inst.id, 0) + 1
        repos = request.get("repositories")
        permissions = request.get("permissions")
        self._tokens[token] = _Issued(
            installation_id=inst.id,
            label=f"installation {inst.id} #{serial}",
            issued_mono=time.monotonic(),
            expires_epoch=expires,
            repos=tuple(repos) if repos else None,
            scoped=bool(permissions),
        )
        self.stats.app_mints += 1
        return {
            "token": token,
            "expires_at": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": permissions or {"actions": "read", "metadata": "read"},
            "repository_selection": "selected" if repos or inst.repos else "all",
        }
