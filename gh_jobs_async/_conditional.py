"""Conditional requests without I/O: cache keys, validators, and what a 304 means.

GitHub answers its JSON GETs with an ``ETag`` (weak, ``W/"..."``, on listings) and a
``Last-Modified``; a request carrying them back answers 304 when nothing changed, and an
authenticated 304 costs no primary budget. The store that uses these rules is
:mod:`gh_jobs_async._cache`; the transport consults it around each exchange.

Rules (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api):

* answers vary on ``Accept``, the API version and the credential, so the key holds all three
  (the credential as a hash of the header actually sent, never the header itself);
* the ``ETag`` goes back exactly as received, quotes and ``W/`` included; ``If-Modified-Since``
  only when there is no tag;
* freshness (``Cache-Control: max-age``) is never honoured: every use asks GitHub;
* a 304 carries no body and no ``Link``: both come from the stored answer, whose headers are
  refreshed by the 304's, except that a 304 without an ``ETag`` keeps the one sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import attrs

__all__ = [
    "CacheKey",
    "Validators",
    "cache_key",
    "cacheable",
    "conditional_headers",
    "credential_identity",
    "entry_size",
    "refreshed_headers",
    "validators_of",
]

# Headers that describe the stored body (or the hop), not the answer: a 304 does not replace them.
_BODY_HEADERS = frozenset(
    {"content-length", "content-type", "content-encoding", "transfer-encoding", "link"}
)
# Headers that describe one exchange: a revived answer has the 304's, or none at all (a
# stored x-ratelimit-remaining would roll the tracked budget back to an old value).
_EXCHANGE_PREFIXES = ("x-ratelimit-", "x-github-request-id", "date", "retry-after")
_IDENTITY_CHARS = 16


@attrs.frozen
class CacheKey:
    """What an answer varies on: URL, ``Accept``, API version and who asked."""

    url: str
    accept: str
    api_version: str
    identity: str


@attrs.frozen
class Validators:
    """The validators of a stored answer, exactly as GitHub sent them."""

    etag: str | None
    last_modified: str | None


def credential_identity(authorization: str | None) -> str:
    """Who asked, for cache keys: a SHA-256 hex prefix of the ``Authorization`` value sent.

    ``"anonymous"`` without one. The value is a secret and never stored; its hash prefix
    cannot be turned back into it, and differs for every token (an App token rotation
    starts a fresh set of keys, as GitHub's token-specific ETags require).
    """
    if not authorization:
        return "anonymous"
    digest = hashlib.sha256(authorization.encode("utf-8", "surrogateescape")).hexdigest()
    return digest[:_IDENTITY_CHARS]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lower = name.lower()
    for key, value in headers.items():
        if key.lower() == lower:
            return value
    return None


def cache_key(url: str, request_headers: Mapping[str, str]) -> CacheKey:
    """The key of a GET of ``url`` sent with ``request_headers`` (the headers actually sent)."""
    return CacheKey(
        url=url,
        accept=_header(request_headers, "Accept") or "",
        api_version=_header(request_headers, "X-GitHub-Api-Version") or "",
        identity=credential_identity(_header(request_headers, "Authorization")),
    )


def validators_of(headers: Mapping[str, str]) -> Validators | None:
    """The validators of an answer (lower-cased headers), or ``None`` when it has neither."""
    etag = (headers.get("etag") or "").strip() or None
    last_modified = (headers.get("last-modified") or "").strip() or None
    if etag is None and last_modified is None:
        return None
    return Validators(etag=etag, last_modified=last_modified)


def cacheable(method: str, status: int, headers: Mapping[str, str]) -> bool:
    """Whether an answer is worth storing: a JSON 200 to a GET, with a validator, storable."""
    if method != "GET" or status != 200 or validators_of(headers) is None:
        return False
    if "no-store" in (headers.get("cache-control") or "").lower():
        return False
    return "json" in (headers.get("content-type") or "").lower()


def conditional_headers(validators: Validators) -> dict[str, str]:
    """``If-None-Match`` with the tag exactly as received, else ``If-Modified-Since``."""
    if validators.etag is not None:
        return {"If-None-Match": validators.etag}
    assert validators.last_modified is not None  # noqa: S101 - Validators has one or both
    return {"If-Modified-Since": validators.last_modified}


def refreshed_headers(stored: Mapping[str, str], not_modified: Mapping[str, str]) -> dict[str, str]:
    """The headers a 304 stands for: the stored answer's, refreshed by the 304's own.

    The stored body's headers and its ``Link`` (a 304 carries none) stay; rate-limit
    headers, request id and date come from the 304 only; an ``ETag`` the 304 omits is kept.
    """
    merged = {k: v for k, v in stored.items() if not k.startswith(_EXCHANGE_PREFIXES)}
    for name, value in not_modified.items():
        if name not in _BODY_HEADERS:
            merged[name] = value
    if not (not_modified.get("etag") or "").strip() and "etag" in stored:
        merged["etag"] = stored["etag"]
    return merged


def entry_size(key: CacheKey, headers: Mapping[str, str], body: bytes) -> int:
    """Bytes an entry holds, for the cache's byte bound: body, headers and key."""
    header_bytes = sum(len(name) + len(value) for name, value in headers.items())
    return len(body) + header_bytes + len(key.url) + len(key.accept) + 64
