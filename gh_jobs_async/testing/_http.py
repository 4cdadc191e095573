"""Wire details shared by both origins: error bodies, request ids, ``Link`` headers, and
Azure-SAS-like signed log URLs.

Signed URLs look like
``{origin}/actions-results/{uuid}/logs/job/job-logs.txt?rsct=text%2Fplain&se=<expiry>&sig=<hmac>&sp=r&sv=2021-12-02``:
``se`` is the expiry as ISO 8601 UTC with whole seconds (``2024-01-25T10:41:26Z``, rounded
up), ``sig`` the URL-safe base64 HMAC-SHA256 of ``path + "\\n" + se`` under a secret drawn
per fake instance, so a URL from one fake never opens another's blobs. The origin is not
signed: the same signature is valid on the API origin (``same_origin`` mode).

Bodies copy what GitHub and Azure Blob Storage are documented (or were seen) to send; see
/work/shared/docs/github-api.md for the sources.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import math
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Literal
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

__all__ = [
    "BLOB_PREFIX",
    "DOCS_JOB",
    "DOCS_LOGS",
    "DOCS_RATE",
    "DOCS_RUN",
    "JSON_TYPE",
    "RequestIds",
    "UrlSigner",
    "Verdict",
    "azure_error",
    "azure_time",
    "blob_path",
    "github_error",
    "link_header",
    "page_count",
    "parse_positive",
    "secondary_message",
    "server_error",
]

JSON_TYPE = "application/json; charset=utf-8"
DOCS_JOB = "https://docs.github.com/rest/actions/workflow-jobs#get-a-job-for-a-workflow-run"
DOCS_LOGS = (
    "https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run"
)
DOCS_RATE = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
DOCS_RUN = "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run"
_UNICORN = (
    b"<!DOCTYPE html>\n<html><head><title>Unicorn! &middot; GitHub</title></head>"
    b"<body><h1>No server is currently available to service your request.</h1>"
    b"<p>Sorry about that. Please try refreshing and contact us if the problem persists.</p>"
    b"</body></html>\n"
)


def github_error(status: int, message: str, documentation_url: str) -> bytes:
    """GitHub's ``basic-error`` body: message, documentation_url and the status as text."""
    body = {"message": message, "documentation_url": documentation_url, "status": str(status)}
    return json.dumps(body).encode()


def secondary_message(request_id: str, status: int = 403) -> bytes:
    """The body of a secondary-rate-limit refusal; its status field matches the answer."""
    message = (
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
        "again. If you reach out to GitHub Support for help, please include the request ID "
        f"{request_id}."
    )
    return github_error(status, message, f"{DOCS_RATE}#about-secondary-rate-limits")


def server_error(status: int) -> tuple[bytes, str]:
    """(body, content type) of an injected API error: the HTML unicorn for 502, else JSON."""
    if status == 502:
        return _UNICORN, "text/html; charset=utf-8"
    if status == 404:
        return github_error(404, "Not Found", DOCS_JOB), JSON_TYPE
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Server Error"
    message = "Server Error" if status >= 500 else phrase
    return github_error(status, message, "https://docs.github.com/rest"), JSON_TYPE


def azure_time(wall: float) -> str:
    """An RFC 1123 date as Azure writes it in error details: ``Thu, 25 Jan 2024 10:41:26 GMT``."""
    return format_datetime(datetime.fromtimestamp(wall, UTC), usegmt=True)


def azure_error(code: str, message: str, detail: str | None = None) -> bytes:
    """An Azure Storage XML error body with a fresh RequestId and Time line."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond * 10:07d}Z"
    text = f"{message}\nRequestId:{uuid.uuid4()}\nTime:{stamp}"
    extra = (
        f"<AuthenticationErrorDetail>{escape(detail)}</AuthenticationErrorDetail>" if detail else ""
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(text)}</Message>{extra}</Error>"
    )
    return xml.encode()


class RequestIds:
    """Unique ``x-github-request-id`` values shaped like ``C0DE:1234:ABCDEF:123456:5F5E5F5E``."""

    def __init__(self) -> None:
        """Ids embed the process id and start time, then a counter."""
        self._counter = itertools.count(1)
        self._pid = os.getpid() & 0xFFFF
        self._epoch = int(time.time()) & 0xFFFFFFFF

    def next(self) -> str:
        """A new id; never repeats within this fake."""
        n = next(self._counter)
        return f"C0DE:{self._pid:04X}:{n:06X}:{(n * 2654435761) & 0xFFFFFF:06X}:{self._epoch:08X}"


def parse_positive(value: str | None, default: int) -> int:
    """``value`` as a positive int; GitHub ignores garbage, so anything else is ``default``."""
    if value is None or not value.isdigit() or int(value) < 1:
        return default
    return int(value)


def page_count(total: int, per_page: int) -> int:
    """Pages needed for ``total`` items (at least 1: an empty list still has page 1)."""
    return max(1, -(-total // per_page))


def link_header(base: str, query: Iterable[tuple[str, str]], page: int, last: int) -> str | None:
    """GitHub's ``Link`` value for ``page`` of ``last`` pages, or None when there is none.

    ``base`` is the absolute URL without query; the request's other query parameters are
    kept in their order and ``page`` is replaced (or appended). Rels come in GitHub's order
    ``prev, next, last, first``: no ``prev``/``first`` on page 1, no ``next``/``last`` on the
    last page or past it; a single page gives no header at all.
    """
    if page == 1 and last == 1:
        return None
    pairs = list(query)
    slot = next((i for i, (key, _) in enumerate(pairs) if key == "page"), len(pairs))
    before = [pair for pair in pairs[:slot] if pair[0] != "page"]
    after = [pair for pair in pairs[slot:] if pair[0] != "page"]

    def url(n: int) -> str:
        return f"<{base}?{urlencode([*before, ('page', str(n)), *after])}>"

    rels = []
    if page > 1:
        rels.append(f'{url(page - 1)}; rel="prev"')
    if page < last:
        rels.append(f'{url(page + 1)}; rel="next"')
        rels.append(f'{url(last)}; rel="last"')
    if page > 1:
        rels.append(f'{url(1)}; rel="first"')
    return ", ".join(rels)


BLOB_PREFIX = "/actions-results/"
Verdict = Literal["ok", "bad_signature", "expired"]


def blob_path(blob_id: str) -> str:
    """The path of a job's log blob."""
    return f"{BLOB_PREFIX}{blob_id}/logs/job/job-logs.txt"


class UrlSigner:
    """Issues and checks signed blob URLs; the secret never leaves the instance."""

    def __init__(self, secret: bytes | None = None) -> None:
        """Use ``secret`` (tests) or 32 fresh random bytes."""
        self._secret = secret if secret is not None else os.urandom(32)

    def _sig(self, path: str, se: str) -> str:
        mac = hmac.new(self._secret, f"{path}\n{se}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def sign(self, origin: str, path: str, ttl: float, *, wall: float | None = None) -> str:
        """An absolute URL for ``path`` on ``origin`` that expires ``ttl`` seconds from now."""
        now = time.time() if wall is None else wall
        se = datetime.fromtimestamp(math.ceil(now + ttl), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = (
            f"rsct=text%2Fplain&se={quote(se, safe='')}&sig={self._sig(path, se)}"
            "&sp=r&sv=2021-12-02"
        )
        return f"{origin}{path}?{query}"

    def verify(
        self, path: str, query: Mapping[str, str], *, wall: float | None = None
    ) -> tuple[Verdict, float]:
        """Check a request's signature, then its expiry; returns (verdict, expiry epoch)."""
        se = query.get("se", "")
        sig = query.get("sig", "")
        if not se or not hmac.compare_digest(sig.encode(), self._sig(path, se).encode()):
            return "bad_signature", 0.0
        try:
            expiry = datetime.fromisoformat(se).timestamp()
        except ValueError:
            return "bad_signature", 0.0
        now = time.time() if wall is None else wall
        return ("expired" if now > expiry else "ok"), expiry
