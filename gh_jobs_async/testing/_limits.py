"""The fake's primary and secondary rate limits.

Primary (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api):
every API request, whatever its answer, spends one point of a budget of
``FakeConfig.rate_limit`` that refills ``rate_limit_window`` seconds after the window
opened. With no points left the request is refused (403, ``x-ratelimit-remaining: 0``).

Secondary: a request is refused when, counting itself, more than ``max_in_flight`` API
requests are being served, or when the rolling ``secondary_window`` already holds
``max_per_window`` accepted requests. Choices (GitHub does not document them):

* a refused request is not added to the window (GitHub counts points of answered requests);
* ``retry-after`` is ``FakeConfig.secondary_retry_after`` for both rules (or absent when
  that is None), and the penalty lasts that long, or 60 s without the header, which is what
  GitHub's docs tell clients to wait;
* the penalty starts when the refusal is answered (after ``api_latency``), but requests
  count as sent during it only from ``penalty_grace`` seconds later: a burst already on
  the wire is not the client's fault;
* requests arriving during a penalty are counted, not refused by that fact alone.

All times are `time.monotonic` seconds except the epoch ``x-ratelimit-reset`` header.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Literal

from gh_jobs_async.testing._config import FakeConfig

__all__ = ["DEFAULT_PENALTY", "Limiter", "Violation"]

#: Seconds a secondary-limit penalty lasts when no ``retry-after`` is sent.
DEFAULT_PENALTY = 60.0

Violation = Literal["in_flight", "window"]


class Limiter:
    """Rate-limit state of one fake; single event loop, so no locking."""

    def __init__(self, config: FakeConfig) -> None:
        """Start with a full primary budget and an empty secondary window."""
        self._config = config
        self._remaining = config.rate_limit or 0
        self._reset_at = time.monotonic() + config.rate_limit_window
        self._window: deque[float] = deque()
        self.penalty_start = self.penalty_end = -math.inf

    # -- primary -------------------------------------------------------------------------

    def _refill(self, now: float) -> None:
        if now >= self._reset_at:
            self._remaining = self._config.rate_limit or 0
            self._reset_at = now + self._config.rate_limit_window

    def spend(self, now: float) -> bool:
        """Spend one point; False (nothing spent) when the budget is exhausted."""
        if self._config.rate_limit is None:
            return True
        self._refill(now)
        if self._remaining <= 0:
            return False
        self._remaining -= 1
        return True

    def refund(self) -> None:
        """Give back the point a request spent (a 304: GitHub does not charge it)."""
        limit = self._config.rate_limit
        if limit is not None:
            self._remaining = min(limit, self._remaining + 1)

    def set_primary(self, remaining: int, reset_in: float) -> None:
        """Force ``remaining`` points until ``reset_in`` seconds from now, then refill."""
        self._remaining = max(0, remaining)
        self._reset_at = time.monotonic() + reset_in

    def headers(self, now: float) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers for an answer at ``now`` (empty without a limit)."""
        limit = self._config.rate_limit
        if limit is None:
            return {}
        self._refill(now)
        reset_epoch = math.ceil(time.time() + (self._reset_at - now))
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(self._remaining),
            "x-ratelimit-reset": str(reset_epoch),
            "x-ratelimit-used": str(max(0, limit - self._remaining)),
            "x-ratelimit-resource": "core",
        }

    # -- secondary -----------------------------------------------------------------------

    def violation(self, now: float, in_flight: int) -> Violation | None:
        """Which secondary rule a request arriving at ``now`` breaks, if any.

        ``in_flight`` includes the request itself.
        """
        cfg = self._config
        if cfg.max_in_flight is not None and in_flight > cfg.max_in_flight:
            return "in_flight"
        if cfg.max_per_window is not None:
            horizon = now - cfg.secondary_window
            while self._window and self._window[0] <= horizon:
                self._window.popleft()
            if len(self._window) >= cfg.max_per_window:
                return "window"
        return None

    def accept(self, now: float) -> None:
        """Record an accepted request in the rolling window."""
        if self._config.max_per_window is not None:
            self._window.append(now)

    def penalize(self, now: float, retry_after: int | None) -> None:
        """Start (or extend) the penalty of a secondary-limit answer sent at ``now``."""
        seconds = DEFAULT_PENALTY if retry_after is None else float(retry_after)
        if now >= self.penalty_end:
            self.penalty_start = now + self._config.penalty_grace
        self.penalty_end = max(self.penalty_end, now + seconds)

    def in_penalty(self, now: float) -> bool:
        """Whether a request arriving at ``now`` was sent during a running penalty."""
        return self.penalty_start <= now < self.penalty_end

    def reset(self) -> None:
        """Full primary budget, empty window, no penalty."""
        self._remaining = self._config.rate_limit or 0
        self._reset_at = time.monotonic() + self._config.rate_limit_window
        self._window.clear()
        self.penalty_start = self.penalty_end = -math.inf
