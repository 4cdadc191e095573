"""Who we are, the pure part: JWT claims, the renewal schedule, clock skew, what a 401 means.

Nothing here sends, awaits or reads a clock: every function takes ``now`` (epoch seconds on
the local clock) and ``offset`` (seconds to add to the local clock to get GitHub's, learned
from a ``Date`` header). The I/O part, which asks and mints, is :mod:`gh_jobs_async._auth`.

Sources: /work/shared/docs/github-api.md section 9 (GitHub's "Generating a JSON Web Token for
a GitHub App" and "Create an installation access token" pages).
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import attrs

__all__ = [
    "DEFAULT_MARGIN",
    "INSTALLATION_TOKEN_LIFETIME",
    "JWT_BACKDATE",
    "JWT_LIFETIME",
    "JWT_REUSE_MARGIN",
    "JwtClaims",
    "LAG_WINDOW",
    "Reaction",
    "SKEW_TOLERANCE",
    "TokenSchedule",
    "auth_refusal",
    "fingerprint",
    "is_jwt_endpoint",
    "jwt_claims",
    "jwt_due",
    "lag_pause",
    "mint_backoff",
    "mint_refused_for_good",
    "observed_offset",
    "parse_expires_at",
    "parse_http_date",
    "react_to_jwt_refusal",
    "react_to_refusal",
    "refusal_hint",
    "refused_claim",
    "renewal_margin",
    "schedule",
    "shown_key_path",
    "shown_safely",
]

#: GitHub advises an ``iat`` 60 s in the past, to tolerate clock drift.
JWT_BACKDATE = 60
#: The longest JWT GitHub accepts: ``exp`` at most 10 minutes after ``iat``.
JWT_LIFETIME = 600
#: A JWT is re-signed when less than this many seconds of it are left.
JWT_REUSE_MARGIN = 60.0
#: An installation token is renewed this long before it expires (or a quarter of its
#: lifetime, when that is shorter).
DEFAULT_MARGIN = 300.0
#: A 401 within this many seconds of a mint is GitHub's replication lag (octokit: 5 s).
LAG_WINDOW = 5.0
#: A ``Date`` more than this far from the local clock is a skew worth correcting (the header
#: has whole seconds, and the answer took some time to arrive).
SKEW_TOLERANCE = 2.0
#: Seconds an installation token lasts (GitHub: one hour), when a mint answer does not say.
INSTALLATION_TOKEN_LIFETIME = 3600.0
#: A failed mint waits this long, doubling per failure, at most ``MINT_BACKOFF_CAP``.
MINT_BACKOFF_BASE = 0.5
MINT_BACKOFF_CAP = 30.0

_CLAIM_RE = re.compile(r"\(\s*'(iat|exp)'\s*\)|\b(iat|exp)\b")
_NOT_REPLICATED_RE = re.compile(r"replicat", re.IGNORECASE)
_SUSPENDED_RE = re.compile(r"suspend", re.IGNORECASE)
_JWT_PATHS = re.compile(r"/app(/.*)?|/(repos/[^/]+/[^/]+|orgs/[^/]+|users/[^/]+)/installation")


#: What a secret can look like: GitHub's token prefixes (and the old 40-hex-digit tokens), a
#: JWT's header, a PEM armour line.
_SECRET_SHAPE = re.compile(r"^(gh[opsur]_|github_pat_|eyJ|[0-9a-f]{40}$)|-----BEGIN|PRIVATE KEY")
_SHOWN_MAX = 64


def shown_safely(value: object) -> object:
    """``value`` as an error about an auth argument may show it: numbers and short words
    as they are; anything that could be a secret (bytes, a long or multi-line string, a
    token's, a JWT's or a PEM's shape) as ``<str of N characters>`` / ``<bytes>``."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        plain = len(value) <= _SHOWN_MAX and value.isprintable() and not value.isspace()
        if plain and " " not in value and not _SECRET_SHAPE.search(value):
            return value
        return f"<str of {len(value)} characters>"
    return f"<{type(value).__name__}>"


def shown_key_path(value: object) -> str:
    """A ``private_key`` argument that was taken for a file name, as an error may show it:
    an ``os.PathLike`` or a short one-line string that names a file or looks like a path;
    anything else (a base64 key, the key's body without its armour, a token) hidden."""
    text = str(value)
    looks_like_path = "/" in text or "\\" in text or text.endswith((".pem", ".key"))
    if not isinstance(value, str) or (looks_like_path and shown_safely(text) == text):
        return text
    return "<redacted: neither PEM text nor a readable file>"


def fingerprint(secret: str) -> str:
    """A short, stable, non-reversible name for a secret: SHA-256 hex, first 16 digits."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- the JWT


@attrs.frozen
class JwtClaims:
    """The claims of an App JWT, in GitHub's clock (epoch seconds)."""

    iat: int
    exp: int
    iss: str

    def as_dict(self) -> dict[str, int | str]:
        """The claims as PyJWT takes them; ``iss`` is always a string (PyJWT >= 2.11)."""
        return {"iat": self.iat, "exp": self.exp, "iss": self.iss}


def jwt_claims(issuer: str, now: float, offset: float = 0.0) -> JwtClaims:
    """``iat`` = now - 60 s and ``exp`` = ``iat`` + 600 s, both on GitHub's (corrected) clock.

    ``exp = now + 600`` would fail on any host whose clock runs fast; this tolerates a
    minute of skew either way before ``offset`` is even known.
    """
    iat = math.floor(now + offset) - JWT_BACKDATE
    return JwtClaims(iat=iat, exp=iat + JWT_LIFETIME, iss=str(issuer))


def jwt_due(claims: JwtClaims | None, now: float, offset: float) -> bool:
    """Whether a new JWT must be signed: none yet, or less than a minute of it left."""
    return claims is None or claims.exp - (now + offset) < JWT_REUSE_MARGIN


def is_jwt_endpoint(path: str) -> bool:
    """Whether an API path (after the API root) takes the App's JWT.

    Every ``/app...`` route, and the installation lookups
    ``/repos/{owner}/{repo}/installation``, ``/orgs/{org}/installation`` and
    ``/users/{user}/installation``. Every other endpoint wants an installation token.
    """
    return _JWT_PATHS.fullmatch(path) is not None


# --------------------------------------------------------------------------- skew


def parse_http_date(value: str | None) -> float | None:
    """An HTTP ``Date`` header as epoch seconds, or None when absent or unreadable."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def observed_offset(date_header: str | None, now: float) -> float | None:
    """GitHub's clock minus ours, from an answer's ``Date`` received at ``now``.

    ``Date`` is cut to the whole second, so the middle of that second is the best guess.
    """
    server = parse_http_date(date_header)
    return None if server is None else server + 0.5 - now


def refused_claim(message: str) -> Literal["iat", "exp"] | None:
    """Which JWT claim GitHub's 401 message blames, by the claim's name, not the sentence.

    ``'Issued at' claim ('iat') must be an Integer...`` gives ``"iat"``; both ``'Expiration
    time' claim ('exp') ...`` messages give ``"exp"``; anything else (``A JSON web token could
    not be decoded``: wrong key or app) gives None.
    """
    match = _CLAIM_RE.search(message)
    if match is None:
        return None
    claim = match.group(1) or match.group(2)
    return "iat" if claim == "iat" else "exp"


# --------------------------------------------------------------------------- tokens


def parse_expires_at(value: object) -> float | None:
    """``expires_at`` of a mint answer (``2016-07-11T22:14:10Z``) as epoch seconds, or None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def renewal_margin(lifetime: float) -> float:
    """How long before expiry a token is renewed: 5 minutes, or a quarter of its lifetime."""
    return min(DEFAULT_MARGIN, max(0.0, lifetime) / 4)


@attrs.frozen
class TokenSchedule:
    """When a token was obtained, expires and is due, all on the local clock."""

    obtained_at: float
    expires_at: float | None
    refresh_at: float | None

    def due(self, now: float) -> bool:
        """Whether the token must be renewed before it is used at ``now``."""
        return self.refresh_at is not None and now >= self.refresh_at

    def expired(self, now: float) -> bool:
        """Whether the token is past its expiry at ``now``."""
        return self.expires_at is not None and now >= self.expires_at

    def still_usable(self, now: float) -> bool:
        """Whether a token that is due may still be sent at ``now``, while its renewal
        fails: until a fifth of the renewal margin before it expires (a minute for an
        hour's token), so that it does not expire on the wire."""
        if self.expires_at is None or self.refresh_at is None:
            return True
        guard = max(0.0, self.expires_at - self.refresh_at) / 5
        return now < self.expires_at - guard


def schedule(now: float, expires_at: float | None, offset: float = 0.0) -> TokenSchedule:
    """The schedule of a token obtained at ``now`` that expires at ``expires_at`` (GitHub's
    clock; None: never). Renewal comes ``renewal_margin(lifetime)`` before the expiry."""
    if expires_at is None:
        return TokenSchedule(obtained_at=now, expires_at=None, refresh_at=None)
    local_expiry = expires_at - offset
    lifetime = local_expiry - now
    return TokenSchedule(
        obtained_at=now,
        expires_at=local_expiry,
        refresh_at=local_expiry - renewal_margin(lifetime),
    )


def mint_backoff(failures: int) -> float:
    """Seconds to wait before the next mint after ``failures`` failed ones in a row."""
    if failures <= 0:
        return 0.0
    return float(min(MINT_BACKOFF_CAP, MINT_BACKOFF_BASE * 2 ** min(failures - 1, 30)))


def mint_refused_for_good(status: int, message: str) -> bool:
    """Whether a mint refusal will not change by asking again: an unknown installation (404),
    a rejected request (422), a suspended installation (403 ``... suspended``)."""
    return status in {404, 422} or (status == 403 and bool(_SUSPENDED_RE.search(message)))


def refusal_hint(status: int) -> str:
    """What a refusal for good most likely means, for its error message."""
    if status == 422:
        return "repositories= or permissions= beyond what the installation was granted?"
    if status == 403:
        return "suspended?"
    return "deleted, suspended or uninstalled?"


# --------------------------------------------------------------------------- refusals


def auth_refusal(status: int, message: str) -> bool:
    """Whether an error answer is about the credential: 401, or GitHub's 403 saying a fresh
    token's permissions are not replicated yet."""
    return status == 401 or (status == 403 and bool(_NOT_REPLICATED_RE.search(message)))


@attrs.frozen
class Reaction:
    """What to do after a refused credential.

    ``"wait"``: retry with the same credential after ``pause`` s (replication lag);
    ``"renew"``: drop the credential, obtain a new one, retry once; ``"resign"``: learn the
    clock offset and sign anew, once; ``"fail"``: raise the error.
    """

    action: Literal["wait", "renew", "resign", "fail"]
    pause: float = 0.0


def lag_pause(tries: int) -> float:
    """The pause before the ``tries``-th retry of a fresh token: 0.25, 0.5, then 1 s."""
    return float(min(1.0, 0.25 * 2 ** min(tries, 10)))


def react_to_refusal(
    *,
    age: float,
    expired: bool,
    lag_tries: int,
    renewed: bool,
    renewable: bool,
    lag_window: float = LAG_WINDOW,
) -> Reaction:
    """What a refused token means, for one request; never a loop.

    ``age`` is how long ago the token was obtained; ``lag_tries`` and ``renewed`` count what
    this request already did. A token minted moments ago (younger than ``lag_window``, not
    expired) is being replicated: wait and retry it as it is, until ``lag_window`` is spent.
    An older one is dropped and renewed once (when ``renewable``). Then it is an error.
    """
    if lag_window > 0 and not expired and age + lag_pause(lag_tries) < lag_window:
        return Reaction("wait", pause=lag_pause(lag_tries))
    if renewable and not renewed:
        return Reaction("renew")
    return Reaction("fail")


def react_to_jwt_refusal(message: str, *, resigned: bool) -> Reaction:
    """A refused App JWT: re-sign once on GitHub's clock when its ``iat`` or ``exp`` was
    blamed; anything else (wrong key, wrong issuer) is final."""
    if refused_claim(message) is not None and not resigned:
        return Reaction("resign")
    return Reaction("fail")
