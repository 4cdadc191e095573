"""The pure decisions of a shared installation token: its key, its TTL, its repr, and
which installation object a token store gives (no event loop, no request)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gh_jobs_async import AppAuth, InvalidArgumentError, SharedToken, TokenStore
from gh_jobs_async._sharedtoken import publish_ttl, share_key
from gh_jobs_async._store import TokenKeys, check_name, milliseconds

ORIGIN, ISSUER = "https://api.github.com", "Iv23liExample"


def _key(**changes: object) -> str:
    parts: dict[str, object] = {
        "origin": ORIGIN,
        "issuer": ISSUER,
        "target": 42,
        "repositories": None,
        "permissions": {"actions": "read"},
        **changes,
    }
    return share_key(**parts)  # type: ignore[arg-type]


def test_the_share_key_is_stable_and_a_valid_hash_tag_name() -> None:
    """The same identity gives the same key, fit for a key's hash tag."""
    assert _key() == _key()
    assert _key().startswith("installation-token:")
    assert len(_key()) == len("installation-token:") + 32
    assert check_name("share_key", _key()) == _key()


@pytest.mark.parametrize(
    "change",
    [
        {"origin": "https://ghe.example.com"},
        {"issuer": "12345"},
        {"target": 43},
        {"target": ("octo-org", "hello-world")},
        {"repositories": ("hello-world",)},
        {"permissions": {"actions": "write"}},
        {"permissions": {}},
    ],
)
def test_every_part_of_the_identity_changes_the_key(change: dict[str, object]) -> None:
    """Origin, issuer, installation, repositories and permissions each make another key."""
    assert _key(**change) != _key()


def test_a_repository_target_is_case_insensitive_and_permissions_unordered() -> None:
    """GitHub names are case-insensitive; permission order does not matter."""
    assert _key(target=("Octo-Org", "Hello-World")) == _key(target=("octo-org", "hello-world"))
    both = {"actions": "read", "metadata": "read"}
    assert _key(permissions=both) == _key(permissions=dict(reversed(list(both.items()))))


def test_token_keys_are_namespaced_and_share_one_hash_tag() -> None:
    """``<namespace>:{<share key>}:token`` and ``:token-lock``, one Redis Cluster slot."""
    keys = TokenKeys.of("gh-jobs", "installation-token:ab")
    assert keys.token == "gh-jobs:{installation-token:ab}:token"
    assert keys.lock == "gh-jobs:{installation-token:ab}:token-lock"


def test_the_stored_ttl_ends_at_the_expiry() -> None:
    """Kept until the token expires; a token about to expire is not worth storing."""
    assert publish_ttl(1060.0, 1000.0) == 60.0
    assert publish_ttl(1000.01, 1000.0) is None
    assert publish_ttl(990.0, 1000.0) is None
    assert milliseconds(1.5) == 1500
    assert milliseconds(0.0001) == 1


def test_a_shared_token_never_shows_the_token() -> None:
    """The repr shows a fingerprint and the expiry, never the token."""
    shared = SharedToken(token="ghs_secretsecret", expires_at=1000.0, minted_at=900.0)
    assert "ghs_secretsecret" not in repr(shared)
    assert shared.id in repr(shared)
    assert shared.id != "ghs_secretsecret"


@pytest.fixture(name="app", scope="module")
def fixture_app() -> AppAuth:
    """An App with a real RSA key (no request is sent)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return AppAuth("Iv23liExample", text)


class _Store:
    """The smallest TokenStore (never called here)."""

    token_lock_ttl = 5.0

    async def load_token(self, key: str) -> SharedToken | None:
        return None

    async def lock_token(self, key: str, owner: str, ttl: float) -> bool:
        return True

    async def publish_token(self, key: str, shared: SharedToken, ttl: float, owner: str) -> None:
        return None

    async def unlock_token(self, key: str, owner: str) -> None:
        return None

    async def discard_token(self, key: str, token_id: str) -> bool:
        return False


def test_sharing_is_per_store_and_opt_in(app: AppAuth) -> None:
    """The same store gives the same installation object, another store (or none) another."""
    store = _Store()
    assert isinstance(store, TokenStore)
    shared = app.installation(42, token_store=store)
    assert app.installation(42, token_store=store) is shared
    assert app.installation(42, token_store=_Store()) is not shared
    assert app.installation(42) is not shared
    assert shared.share_key == app.installation(42).share_key  # the same identity


def test_a_token_store_that_is_not_one_is_refused(app: AppAuth) -> None:
    """token_store= must implement TokenStore: InvalidArgumentError before any request."""
    with pytest.raises(InvalidArgumentError, match="token_store"):
        app.installation(42, token_store=object())  # type: ignore[arg-type]
