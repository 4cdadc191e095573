"""Scripted and random faults of the fake GitHub.

A `Fault` names where it strikes (``target``), what happens (``kind``) and which requests it
picks. `FaultPlan` holds the scripted faults in the order they were injected plus the seeded
random faults of `FakeConfig`; the server asks it once per request via `FaultPlan.take`.

Where each kind applies:

=============  ==========================================================================
``status``     answer ``status`` with a GitHub-like (API) or Azure-like (blob) error body
``reset``      abort the connection: before any answer at the API, mid-body for logs
``truncate``   promise the full ``Content-Length``, send ``partial_bytes``, close cleanly
``stall``      API: wait ``stall_seconds`` then answer; logs: send ``partial_bytes``, wait,
               then send the rest
``secondary``  API only: answer exactly like a secondary rate limit (and start a penalty)
=============  ==========================================================================

``partial_bytes`` defaults to half of the body. Random faults draw from
``random.Random(seed)`` once per request and per enabled rate, in request order: 5xx
(502 or 503) and resets at both origins, truncation only where a log body is sent.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Literal

__all__ = ["Fault", "FaultKind", "FaultPlan", "FaultTarget", "Where"]

FaultTarget = Literal["api", "blob", "logs"]
FaultKind = Literal["status", "reset", "truncate", "stall", "secondary"]
#: Where a request is being served: an API endpoint other than logs, the API logs
#: endpoint, or the blob service.
Where = Literal["api", "logs", "blob"]

_TARGETS = ("api", "blob", "logs")
_KINDS = ("status", "reset", "truncate", "stall", "secondary")


@dataclass(frozen=True)
class Fault:
    """One scripted fault; see the module docstring for what each kind does.

    ``target="api"`` matches every API endpoint (the logs endpoint too), ``"logs"`` only the
    API logs endpoint, ``"blob"`` the signed log download. ``job_id`` narrows to requests for
    that job (job, logs and blob paths), ``path_contains`` to request paths (with query)
    containing that text. The first ``after`` matching requests pass untouched; the next
    ``times`` get the fault. ``retry_after`` overrides the ``retry-after`` header of a
    ``secondary`` fault (default: `FakeConfig.secondary_retry_after`).
    """

    target: FaultTarget
    kind: FaultKind
    status: int = 502
    times: int = 1
    job_id: int | None = None
    path_contains: str | None = None
    after: int = 0
    retry_after: int | None = None
    stall_seconds: float = 30.0
    partial_bytes: int | None = None

    def __post_init__(self) -> None:
        """Reject faults that could never fire or make no sense."""
        if self.target not in _TARGETS:
            raise ValueError(f"target must be one of {_TARGETS}")
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}")
        if self.kind == "secondary" and self.target == "blob":
            raise ValueError("a secondary fault must target the API")
        if self.times < 1 or self.after < 0:
            raise ValueError("times must be >= 1 and after >= 0")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.stall_seconds < 0 or (self.partial_bytes is not None and self.partial_bytes < 0):
            raise ValueError("stall_seconds and partial_bytes must not be negative")

    def matches(self, where: Where, job_id: int | None, path_qs: str) -> bool:
        """Whether a request served at ``where`` is one this fault picks."""
        if self.target == "api":
            if where == "blob":
                return False
        elif self.target != where:
            return False
        if self.job_id is not None and job_id != self.job_id:
            return False
        return self.path_contains is None or self.path_contains in path_qs


@dataclass
class _Armed:
    fault: Fault
    seen: int = 0
    fired: int = 0


class FaultPlan:
    """Decides, request by request, which fault (if any) strikes; counts what it injects."""

    def __init__(
        self,
        *,
        seed: int,
        rate_5xx: float,
        rate_reset: float,
        rate_truncate: float,
        counter: Counter[str],
    ) -> None:
        """Create a plan with no scripted faults; ``counter`` receives one count per fault."""
        self._armed: list[_Armed] = []
        self._rng = random.Random(seed)
        self._rate_5xx = rate_5xx
        self._rate_reset = rate_reset
        self._rate_truncate = rate_truncate
        self.counter = counter

    def inject(self, fault: Fault) -> None:
        """Arm ``fault``; faults armed earlier are consulted first."""
        self._armed.append(_Armed(fault))

    def clear(self) -> None:
        """Disarm every scripted fault (random rates stay)."""
        self._armed.clear()

    @property
    def pending(self) -> list[Fault]:
        """Scripted faults that still have requests to strike."""
        return [armed.fault for armed in self._armed]

    def take(
        self, where: Where, job_id: int | None, path_qs: str, *, has_body: bool = False
    ) -> Fault | None:
        """The fault for this request, or None; consumes one use of a scripted fault.

        ``has_body`` says a log body is about to be sent, which makes random truncation
        possible.
        """
        for armed in self._armed:
            if not armed.fault.matches(where, job_id, path_qs):
                continue
            armed.seen += 1
            if armed.seen <= armed.fault.after:
                continue
            armed.fired += 1
            if armed.fired >= armed.fault.times:
                self._armed.remove(armed)
            return self._count(armed.fault)
        return self._random(where, has_body=has_body)

    def _random(self, where: Where, *, has_body: bool) -> Fault | None:
        target: FaultTarget = "blob" if where == "blob" else "api"
        if self._rate_5xx and self._rng.random() < self._rate_5xx:
            status = self._rng.choice((502, 503))
            return self._count(Fault(target, "status", status=status))
        if self._rate_reset and self._rng.random() < self._rate_reset:
            return self._count(Fault(target, "reset"))
        if has_body and self._rate_truncate and self._rng.random() < self._rate_truncate:
            return self._count(Fault(target, "truncate"))
        return None

    def _count(self, fault: Fault) -> Fault:
        self.counter[fault.kind] += 1
        return fault
