"""The pure decisions of a shared installation token: its key, its TTL, its repr."""

from __future__ import annotations

import pytest

from gh_jobs_async import SharedToken
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
