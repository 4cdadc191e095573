"""The conditional-request cache: answers kept in memory, revalidated on every use.

The transport (:mod:`gh_jobs_async._session`) asks :meth:`ConditionalCache.prepare` for
the headers of a GET (adding ``If-None-Match`` or ``If-Modified-Since`` when it holds the
URL's answer for the same ``Accept``, API version and credential), sends it, and hands the
answer to :meth:`ConditionalCache.settle`: a 200 is stored, a 304 becomes the stored answer
(body and ``Link`` included) with the 304's rate-limit headers. Nothing is ever answered
without asking GitHub. Bounded in entries and bytes, least recently used evicted first.
The rules themselves are pure and live in :mod:`gh_jobs_async._conditional`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping

import attrs

from . import _conditional
from ._conditional import CacheKey
from .models import CacheStats

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_ENTRIES", "CachedAnswer", "ConditionalCache", "Lookup"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 2048
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


@attrs.frozen
class CachedAnswer:
    """A stored 200: its lower-cased headers and body."""

    headers: Mapping[str, str]
    body: bytes
    size: int


@attrs.frozen
class Lookup:
    """What :meth:`ConditionalCache.prepare` decided for one GET."""

    key: CacheKey
    headers: Mapping[str, str]  # the headers to send
    stored: CachedAnswer | None  # what a 304 will stand for


@attrs.define(repr=False)
class ConditionalCache:
    """Answers by :class:`~gh_jobs_async._conditional.CacheKey`, bounded in entries and bytes."""

    max_entries: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    _entries: OrderedDict[CacheKey, CachedAnswer] = attrs.field(factory=OrderedDict)
    _bytes: int = 0
    _hits: int = 0
    _misses: int = 0

    def __repr__(self) -> str:
        return (
            f"<ConditionalCache entries={len(self._entries)}/{self.max_entries} "
            f"bytes={self._bytes}/{self.max_bytes} hits={self._hits} misses={self._misses}>"
        )

    @property
    def stats(self) -> CacheStats:
        """Hits (304s served), misses (full answers), what is held now, and the bounds."""
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            entries=len(self._entries),
            bytes=self._bytes,
            max_entries=self.max_entries,
            max_bytes=self.max_bytes,
        )

    def prepare(self, method: str, url: str, headers: Mapping[str, str]) -> Lookup | None:
        """The headers to send a request with, or ``None`` when the cache has no say (not a GET).

        ``headers`` are the request's headers as they will be sent; the key is derived from
        them, so a credential change never revalidates another credential's answer.
        """
        if method != "GET":
            return None
        key = _conditional.cache_key(url, headers)
        stored = self._entries.get(key)
        if stored is None:
            return Lookup(key=key, headers=headers, stored=None)
        self._entries.move_to_end(key)
        validators = _conditional.validators_of(stored.headers)
        assert validators is not None  # noqa: S101 - only answers with validators are stored
        sent = dict(headers)
        sent.update(_conditional.conditional_headers(validators))
        return Lookup(key=key, headers=sent, stored=stored)

    def settle(
        self, lookup: Lookup, status: int, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes, bool]:
        """``(status, headers, body, not_modified)`` of an answer, after storing or reviving it.

        A 304 to a revalidation is the stored answer as a 200, with refreshed headers; any
        other answer is returned unchanged (a cacheable 200 is stored first).
        """
        if status == 304 and lookup.stored is not None:
            self._hits += 1
            merged = _conditional.refreshed_headers(lookup.stored.headers, headers)
            self._put(lookup.key, merged, lookup.stored.body)
            return 200, merged, lookup.stored.body, True
        if _conditional.cacheable("GET", status, headers):
            self._misses += 1
            self._put(lookup.key, headers, body)
        elif status == 200:
            self._drop(lookup.key)  # a fresh answer without validators replaces the old one
        return status, headers, body, False

    def _put(self, key: CacheKey, headers: Mapping[str, str], body: bytes) -> None:
        size = _conditional.entry_size(key, headers, body)
        self._drop(key)
        if size > self.max_bytes:
            logger.debug("not caching %s: %d bytes is more than the whole cache", key.url, size)
            return
        self._entries[key] = CachedAnswer(headers=dict(headers), body=body, size=size)
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _key, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

    def _drop(self, key: CacheKey) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size

    def clear(self) -> None:
        """Forget every answer (the counters stay)."""
        self._entries.clear()
        self._bytes = 0
