"""The conditional-request rules and the bounded cache, without an event loop or a server."""

from __future__ import annotations

import hashlib

import pytest

from gh_jobs_async._cache import ConditionalCache
from gh_jobs_async._conditional import (
    Validators,
    cache_key,
    cacheable,
    conditional_headers,
    credential_identity,
    refreshed_headers,
    validators_of,
)

TOKEN = "ghs_secretSECRET0123456789"
URL = "https://api.github.com/repos/o/r/actions/runs/1/jobs?per_page=100"
SENT = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "User-Agent": "gh_jobs_async/test",
    "Authorization": f"Bearer {TOKEN}",
}
WEAK = 'W/"2f6e0c7d9a1b"'
OK_HEADERS = {
    "content-type": "application/json; charset=utf-8",
    "etag": WEAK,
    "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT",
    "cache-control": "private, max-age=60, s-maxage=60",
    "link": '<https://api.github.com/x?page=2>; rel="next"',
    "x-ratelimit-remaining": "4990",
    "x-github-request-id": "AAAA:1",
}


def test_identity_is_a_hash_prefix_of_the_header_never_the_token() -> None:
    """The credential identity is a SHA-256 hex prefix of the header value sent."""
    identity = credential_identity(f"Bearer {TOKEN}")
    assert identity == hashlib.sha256(f"Bearer {TOKEN}".encode()).hexdigest()[:16]
    assert TOKEN not in identity
    assert credential_identity(None) == credential_identity("") == "anonymous"


def test_key_varies_on_url_accept_version_and_credential() -> None:
    """Each of URL, Accept, API version and Authorization gives another key."""
    base = cache_key(URL, SENT)
    assert cache_key(URL, dict(SENT)) == base
    variants = [
        cache_key(URL + "&page=2", SENT),
        cache_key(URL, {**SENT, "Accept": "application/vnd.github.raw+json"}),
        cache_key(URL, {**SENT, "X-GitHub-Api-Version": "2026-03-10"}),
        cache_key(URL, {**SENT, "Authorization": "Bearer ghs_rotated"}),
        cache_key(URL, {k: v for k, v in SENT.items() if k != "Authorization"}),
    ]
    assert all(key != base for key in variants)
    assert TOKEN not in repr(base)


def test_weak_etag_goes_back_exactly_as_received() -> None:
    """If-None-Match carries the tag byte for byte, W/ and quotes included."""
    validators = validators_of(OK_HEADERS)
    assert validators is not None
    assert conditional_headers(validators) == {"If-None-Match": WEAK}


def test_last_modified_only_when_there_is_no_tag() -> None:
    """Without an ETag, If-Modified-Since carries Last-Modified as received."""
    validators = Validators(etag=None, last_modified="Tue, 01 Dec 2026 10:00:00 GMT")
    assert conditional_headers(validators) == {"If-Modified-Since": "Tue, 01 Dec 2026 10:00:00 GMT"}
    assert validators_of({"content-type": "application/json"}) is None


def test_only_json_200s_with_a_validator_are_cacheable() -> None:
    """GET 200 JSON with a validator: yes; anything else (or no-store): no."""
    assert cacheable("GET", 200, OK_HEADERS)
    assert not cacheable("POST", 200, OK_HEADERS)
    assert not cacheable("GET", 302, OK_HEADERS)
    assert not cacheable("GET", 200, {**OK_HEADERS, "content-type": "text/plain"})
    assert not cacheable("GET", 200, {**OK_HEADERS, "cache-control": "no-store"})
    no_validator = {k: v for k, v in OK_HEADERS.items() if k not in {"etag", "last-modified"}}
    assert not cacheable("GET", 200, no_validator)


def test_a_304_keeps_link_and_the_tag_it_omits_and_brings_its_rate_limit() -> None:
    """Link and body headers stay; rate limit and request id come from the 304 only."""
    merged = refreshed_headers(OK_HEADERS, {"x-ratelimit-remaining": "4990", "date": "now"})
    assert merged["link"] == OK_HEADERS["link"]
    assert merged["etag"] == WEAK
    assert merged["content-type"] == OK_HEADERS["content-type"]
    assert merged["x-ratelimit-remaining"] == "4990"
    assert "x-github-request-id" not in merged  # the stored one described another exchange
    assert "x-ratelimit-remaining" not in refreshed_headers(OK_HEADERS, {})
    renewed = refreshed_headers(OK_HEADERS, {"etag": 'W/"new"'})
    assert renewed["etag"] == 'W/"new"'


def test_cache_revalidates_every_use_and_revives_a_304() -> None:
    """A stored answer is never served without asking; a 304 brings back body and Link."""
    cache = ConditionalCache()
    first = cache.prepare("GET", URL, SENT)
    assert first is not None
    assert "If-None-Match" not in first.headers
    assert cache.settle(first, 200, OK_HEADERS, b'{"jobs":[]}')[3] is False
    again = cache.prepare("GET", URL, SENT)
    assert again is not None
    assert again.headers["If-None-Match"] == WEAK
    assert SENT["Authorization"] == again.headers["Authorization"]
    status, headers, body, not_modified = cache.settle(again, 304, {"etag": WEAK}, b"")
    assert (status, body, not_modified) == (200, b'{"jobs":[]}', True)
    assert headers["link"] == OK_HEADERS["link"]
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.entries) == (1, 1, 1)
    assert stats.bytes > len(b'{"jobs":[]}')


def test_another_credential_never_revalidates_a_stored_answer() -> None:
    """An answer stored under one token is not offered under another."""
    cache = ConditionalCache()
    first = cache.prepare("GET", URL, SENT)
    assert first is not None
    cache.settle(first, 200, OK_HEADERS, b"{}")
    other = cache.prepare("GET", URL, {**SENT, "Authorization": "Bearer ghs_rotated"})
    assert other is not None
    assert "If-None-Match" not in other.headers
    assert other.stored is None


def test_non_gets_are_left_alone() -> None:
    """The cache has no say on other methods."""
    assert ConditionalCache().prepare("POST", URL, SENT) is None


def test_a_fresh_200_without_validators_replaces_the_stored_answer() -> None:
    """A later 200 that cannot be revalidated drops the stale entry."""
    cache = ConditionalCache()
    first = cache.prepare("GET", URL, SENT)
    assert first is not None
    cache.settle(first, 200, OK_HEADERS, b"{}")
    second = cache.prepare("GET", URL, SENT)
    assert second is not None
    cache.settle(second, 200, {"content-type": "application/json"}, b"{}")
    assert cache.stats.entries == 0
    assert cache.stats.bytes == 0


def _fill(cache: ConditionalCache, page: int) -> None:
    lookup = cache.prepare("GET", f"{URL}&page={page}", SENT)
    assert lookup is not None
    cache.settle(lookup, 200, OK_HEADERS, b"x" * 1000)


def _held(cache: ConditionalCache, pages: range) -> list[int]:
    held = []
    for page in pages:
        lookup = cache.prepare("GET", f"{URL}&page={page}", SENT)
        if lookup is not None and lookup.stored is not None:
            held.append(page)
    return held


@pytest.mark.parametrize("bound", ["entries", "bytes"])
def test_bounded_in_entries_and_bytes_least_recently_used_first(bound: str) -> None:
    """Beyond either bound the least recently used entry goes; the bounds always hold."""
    probe = ConditionalCache()
    _fill(probe, 0)
    size = probe.stats.bytes
    if bound == "entries":
        cache = ConditionalCache(max_entries=3, max_bytes=10**9)
    else:
        cache = ConditionalCache(max_entries=100, max_bytes=3 * size + size // 2)
    for page in range(3):
        _fill(cache, page)
    assert _held(cache, range(1)) == [0]  # page 0 used again: now the most recent
    _fill(cache, 3)
    stats = cache.stats
    assert stats.entries == 3
    assert stats.bytes <= stats.max_bytes
    assert _held(cache, range(4)) == [0, 2, 3]  # page 1 was the least recently used


def test_an_answer_larger_than_the_cache_is_not_stored() -> None:
    """One huge answer does not evict everything else."""
    cache = ConditionalCache(max_bytes=5000)
    small = cache.prepare("GET", URL, SENT)
    assert small is not None
    cache.settle(small, 200, OK_HEADERS, b"{}")
    huge = cache.prepare("GET", URL + "&page=2", SENT)
    assert huge is not None
    cache.settle(huge, 200, OK_HEADERS, b"x" * 10_000)
    assert cache.stats.entries == 1
