"""The pure part of the shared store: keys, addresses, options, replies, schedules (no loop)."""

from __future__ import annotations

import random

import pytest

from gh_jobs_async import InvalidArgumentError
from gh_jobs_async._limits import budget_name
from gh_jobs_async._store import (
    Keys,
    Reply,
    address_of,
    busy_poll,
    check_name,
    check_seconds,
    check_url,
    refused_url,
    retry_delay,
    safe_address,
)

TOKEN = "ghp_secretTOKEN0123456789"


def test_keys_share_one_cluster_slot_through_the_hash_tag() -> None:
    """Every key is `<namespace>:{<budget>}:...`: one Redis Cluster slot per budget."""
    keys = Keys.of("gh-jobs", "abc123")
    assert keys.all() == [
        "gh-jobs:{abc123}:state",
        "gh-jobs:{abc123}:leases",
        "gh-jobs:{abc123}:done",
    ]


def test_default_budget_name_is_a_hash_never_the_token() -> None:
    """The default budget is a stable SHA-256 prefix of origin and token, without the token."""
    name = budget_name("https://api.github.com", TOKEN)
    assert name == budget_name("https://api.github.com", TOKEN)
    assert TOKEN not in name
    assert "secret" not in name
    assert len(name) == 24
    assert name != budget_name("https://api.github.com", TOKEN + "x")
    assert name != budget_name("https://ghe.example.com", TOKEN)


@pytest.mark.parametrize("bad", ["", "a{b}", "has space", "x" * 201, 7, None])
def test_bad_names_are_refused(bad: object) -> None:
    """A name that could break a key or its hash tag raises InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError):
        check_name("budget", bad)


def test_good_names_pass() -> None:
    """User names, e-mails and dotted names are fine budget names."""
    for name in ("octocat", "ci@example.com", "org.team-1", "a:b"):
        assert check_name("budget", name) == name


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:hunter2@redis.internal:6380/2", "redis://redis.internal:6380/2"),
        ("rediss://:hunter2@cache.example.com/0?password=hunter2", "rediss://cache.example.com/0"),
        ("unix:///run/redis.sock?password=hunter2", "unix:///run/redis.sock"),
        ("redis://[::1]:6379", "redis://[::1]:6379"),
    ],
)
def test_safe_address_drops_credentials(url: str, shown: str) -> None:
    """The address in messages and logs has no user, password or query."""
    assert safe_address(url) == shown
    assert "hunter2" not in safe_address(url)


def test_bad_urls_are_refused_without_showing_the_password() -> None:
    """A URL of another scheme raises InvalidArgumentError naming it without credentials."""
    with pytest.raises(InvalidArgumentError) as info:
        check_url("http://user:hunter2@example.com:6379")
    assert "hunter2" not in str(info.value)
    with pytest.raises(InvalidArgumentError):
        check_url("unix://")
    with pytest.raises(InvalidArgumentError):
        check_url("redis://host:notaport")


@pytest.mark.parametrize("path", ["/abc", "/0x", "/1/2", "/-1"])
def test_a_db_path_that_is_no_number_is_refused(path: str) -> None:
    """`redis://host/abc` names no database (redis-py used 0): refused, without the password."""
    with pytest.raises(InvalidArgumentError, match="database number") as info:
        check_url(f"redis://:hunter2@db.internal{path}")
    assert f"redis://db.internal{path}" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["redis://h", "redis://h/", "redis://h/0", "rediss://h:6380/15/", "unix:///r.sock"]
)
def test_urls_with_or_without_a_db_number_pass(url: str) -> None:
    """No path, `/` or a number: accepted as they are."""
    assert check_url(url) == url


def test_a_url_redis_py_refused_is_named_without_credentials() -> None:
    """redis-py's reason is kept, the query and the password are not (even if it quoted them)."""
    error = refused_url(
        "redis://u:hunter2@db:6379/0?socket_timeout=abc&password=hunter3",
        ValueError("Invalid value hunter2 / hunter3\nmore"),
    )
    assert isinstance(error, InvalidArgumentError)
    assert str(error) == (
        "invalid url 'redis://db:6379/0': redis-py refused it: "
        "Invalid value <redacted> / <redacted>"
    )


def test_address_of_a_callers_client() -> None:
    """The address of a redis-py connection: its socket path, or host, port and db."""
    assert address_of({"path": "/run/r.sock"}) == "unix:///run/r.sock"
    assert address_of({"host": "r", "port": 7000, "db": 3, "password": "x"}) == "redis://r:7000/3"
    assert address_of({"host": "r", "port": 6380}, tls=True) == "rediss://r:6380/0"


def test_seconds_options_are_checked() -> None:
    """Seconds must be finite numbers at least the minimum."""
    assert check_seconds("lease_ttl", 1, minimum=1.0) == 1.0
    for bad in (0.5, float("nan"), float("inf"), True, "3"):
        with pytest.raises(InvalidArgumentError):
            check_seconds("lease_ttl", bad, minimum=1.0)


def test_reply_parses_the_scripts_answer() -> None:
    """A script's list (bytes from redis-py) becomes a typed Reply."""
    raw = [b"window", b"12.5", 7, 3, 2, b"0", b"1700000000", 4, 2]
    assert Reply.parse(raw) == Reply("window", 12.5, 7, 3, 2, 0.0, 1_700_000_000.0, 4, 2)
    with pytest.raises(ValueError, match="unexpected script reply"):
        Reply.parse([b"ok"])


def test_retry_delay_doubles_up_to_a_second_with_jitter() -> None:
    """Retries of an unreachable store back off from about 0.05 s to at most 1 s."""
    rng = random.Random(1)
    first = [retry_delay(0, rng=rng) for _ in range(50)]
    late = [retry_delay(10, rng=rng) for _ in range(50)]
    assert all(0.025 <= d <= 0.05 for d in first)
    assert all(0.5 <= d <= 1.0 for d in late)


def test_busy_poll_is_short_but_bounded() -> None:
    """Asking again for a slot happens every 5-50 ms, sooner for large limits."""
    assert busy_poll(1) == 0.05
    assert busy_poll(100) == 0.005
    assert 0.005 <= busy_poll(20) <= 0.05


def test_missing_redis_server_skips_but_fails_on_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Without redis-server the Redis tests skip with the reason, except with CI=true: fail."""
    from redis_server import SKIP_REASON, require_redis_server

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server not on PATH"):
        require_redis_server()
    assert "apt-get install redis-server" in SKIP_REASON
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing on CI"):
        require_redis_server()
