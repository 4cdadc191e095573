"""ETag, Last-Modified and 304 for the fake's JSON endpoints, GitHub style.

* The tag is weak (``W/"..."``, as GitHub's listings send) and derived from the body, the
  ``Accept`` header and the credential: it changes exactly when the content changes, and a
  tag issued to one token does not validate under another (GitHub's tags are token-specific).
* ``If-None-Match`` matches only a tag exactly as issued (or ``*``); when present it decides
  alone. Otherwise ``If-Modified-Since`` matches when the content is not newer, to the second.
* A 304 has no body and no ``Link``, spends no primary budget (the caller refunds the point),
  and carries the ``ETag`` unless ``FakeConfig.etag_on_304`` is False.
"""

from __future__ import annotations

import hashlib
import math
from email.utils import formatdate, parsedate_to_datetime

from aiohttp import web

__all__ = ["CACHE_CONTROL", "etag_for", "http_date", "not_modified"]

CACHE_CONTROL = "private, max-age=60, s-maxage=60"
VARY = "Accept, Authorization, Cookie, X-GitHub-OTP"


def etag_for(body: bytes, request: web.BaseRequest) -> str:
    """The weak tag of ``body`` as served to this request's credential and ``Accept``."""
    digest = hashlib.sha256()
    for part in (request.headers.get("Authorization", ""), request.headers.get("Accept", "")):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(body)
    return f'W/"{digest.hexdigest()[:40]}"'


def http_date(epoch: float) -> str:
    """An IMF-fixdate (``Last-Modified``) for epoch seconds."""
    return formatdate(math.floor(epoch), usegmt=True)


def not_modified(request: web.BaseRequest, etag: str | None, modified: float | None) -> bool:
    """Whether the request's validators match the current content."""
    tags = request.headers.get("If-None-Match")
    if tags is not None:
        if etag is None:
            return False
        return any(tag.strip() in (etag, "*") for tag in tags.split(","))
    since = request.headers.get("If-Modified-Since")
    if since is None or modified is None:
        return False
    try:
        when = parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return math.floor(modified) <= when
