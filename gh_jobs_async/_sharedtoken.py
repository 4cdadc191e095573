"""An installation token shared by a fleet: the seam between the auth layer and a store.

:class:`TokenStore` is what :class:`~gh_jobs_async.InstallationAuth` needs from a store
that holds its token for every worker (``RedisStore`` implements it; this module never
imports redis). :func:`share_key` and :func:`publish_ttl` are the pure decisions: the store's
key is a hash of the installation's non-secret identity, never the token.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

import attrs

from . import _authpolicy as policy

__all__ = ["SharedToken", "TokenStore", "publish_ttl", "share_key"]

#: Seconds between two looks at the store while another worker mints.
POLL_INTERVAL = 0.05


@attrs.frozen(repr=False)
class SharedToken:
    """A token as the store holds it: times on GitHub's clock (epoch seconds)."""

    token: str = attrs.field(repr=False)
    expires_at: float
    minted_at: float

    def __repr__(self) -> str:
        return f"<SharedToken id={self.id} expires_at={self.expires_at:.0f}>"

    @property
    def id(self) -> str:
        """The token's fingerprint: what compare-and-delete compares."""
        return policy.fingerprint(self.token)


@runtime_checkable
class TokenStore(Protocol):
    """Where a fleet's workers find the installation token one of them minted.

    ``key`` is :func:`share_key`'s (non-secret); ``owner`` names one worker's attempt.
    A worker that dies holding the lock blocks the others for ``token_lock_ttl`` s at most.
    """

    @property
    def token_lock_ttl(self) -> float:
        """Seconds the mint lock lasts unless its holder releases it."""
        ...

    async def load_token(self, key: str) -> SharedToken | None:
        """The shared token, or None when there is none (or it expired)."""
        ...

    async def lock_token(self, key: str, owner: str, ttl: float) -> bool:
        """Take the mint lock for ``ttl`` s unless another holds it."""
        ...

    async def publish_token(self, key: str, shared: SharedToken, ttl: float, owner: str) -> None:
        """Store ``shared`` for ``ttl`` s (until it expires) and release ``owner``'s lock."""
        ...

    async def unlock_token(self, key: str, owner: str) -> None:
        """Release the lock if ``owner`` still holds it."""
        ...

    async def discard_token(self, key: str, token_id: str) -> bool:
        """Delete the shared token only if it is still the one with ``token_id``."""
        ...


def share_key(
    origin: str,
    issuer: str,
    target: int | tuple[str, str],
    repositories: tuple[str, ...] | None,
    permissions: dict[str, str],
) -> str:
    """``installation-token:`` and a SHA-256 of the installation's identity (API origin,
    issuer, installation, repositories, permissions), the in-process cache's key."""
    where = str(target) if isinstance(target, int) else f"{target[0]}/{target[1]}".lower()
    repos = ",".join(repositories) if repositories is not None else "*"
    perms = ",".join(f"{name}={level}" for name, level in sorted(permissions.items()))
    identity = "\n".join((origin, issuer, where, repos, perms))
    return "installation-token:" + hashlib.sha256(identity.encode()).hexdigest()[:32]


def publish_ttl(expires_at: float, github_now: float) -> float | None:
    """Seconds the store keeps a token expiring at ``expires_at``; None: not worth storing."""
    left = expires_at - github_now
    return left if left > 0.05 else None
