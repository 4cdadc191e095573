"""Azure-SAS-like signed log URLs.

``{origin}/actions-results/{uuid}/logs/job/job-logs.txt?rsct=text%2Fplain&se=<expiry>&sig=<hmac>&sp=r&sv=2021-12-02``

``se`` is the expiry as ISO 8601 UTC with whole seconds (``2024-01-25T10:41:26Z``, rounded
up), ``sig`` the URL-safe base64 HMAC-SHA256 of ``path + "\\n" + se`` under a secret drawn
per fake instance, so a URL from one fake never opens another's blobs. The origin is not
signed: the same signature is valid on the API origin (``same_origin`` mode).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote

__all__ = ["BLOB_PREFIX", "UrlSigner", "Verdict", "blob_path"]

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
