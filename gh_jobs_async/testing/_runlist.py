"""The fake's two runs listings: filters, ``created`` qualifiers, order and both caps.

GitHub's behaviour (``docs/github-api.md`` section 13), written independently of the
client so that the fake stays an oracle:

* filters ``actor`` (the actor's login), ``branch`` (``head_branch``), ``event``,
  ``status`` (the run's status *or* its conclusion), ``created`` (search date syntax),
  ``check_suite_id``, ``head_sha``; ``exclude_pull_requests=true`` empties each run's
  ``pull_requests`` and keeps the runs (the parameter's description: "pull requests are
  omitted from the response (empty array)"); runs newest first (``created_at``, then
  id, descending);
* with any filter at most ``search_cap`` (1,000) runs are reachable: later pages come back
  empty with 200 while ``total_count`` still counts every match;
* without filters listing stops at ``unfiltered_limit`` runs (about 40,000 on GitHub):
  a page starting past it is a 422, and ``total_count`` is clamped to the limit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "FILTERS",
    "PAGINATION_LIMITED",
    "RunQuery",
    "created_bounds",
    "excludes_pull_requests",
    "is_filtered",
    "page_of",
    "select_runs",
    "workflow_matches",
]

JSONDict = dict[str, Any]

#: Query parameters that make a listing a search, capped at 1,000 reachable runs.
FILTERS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
#: GitHub's 422 message past the unfiltered limit.
PAGINATION_LIMITED = (
    "In order to keep the API fast for everyone, pagination is limited for this resource."
)

_D = r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})?)?"
_ONE = re.compile(rf"(>=|<=|>|<)?{_D}")
_SIDE = re.compile(rf"\*|{_D}")


def _bounds_of(match: re.Match[str], offset: int) -> tuple[int, int]:
    """Epoch seconds of the first and last second a date or date-time names."""
    year, month, day, hour, minute, second, zone = match.groups()[offset : offset + 7]
    start = datetime(int(year), int(month), int(day), tzinfo=UTC)
    if hour is None:
        first = int(start.timestamp())
        return first, first + 86_399
    if zone is None:
        raise ValueError("a time needs Z or an offset")
    moment = start + timedelta(hours=int(hour), minutes=int(minute), seconds=int(second))
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    epoch = int(moment.timestamp())
    return epoch, epoch


def created_bounds(text: str) -> tuple[int | None, int | None]:
    """Inclusive epoch-second bounds a ``created`` qualifier selects; ValueError if invalid."""
    one = _ONE.fullmatch(text)
    if one is not None:
        first, last = _bounds_of(one, 1)
        op = one.group(1)
        if op is None:
            return first, last
        return {">": (last + 1, None), ">=": (first, None), "<": (None, first - 1)}.get(
            op, (None, last)
        )
    low_text, sep, high_text = text.partition("..")
    low, high = _SIDE.fullmatch(low_text), _SIDE.fullmatch(high_text)
    if not sep or low is None or high is None or low_text == high_text == "*":
        raise ValueError(f"not a date qualifier: {text!r}")
    return (
        None if low_text == "*" else _bounds_of(low, 0)[0],
        None if high_text == "*" else _bounds_of(high, 0)[1],
    )


def is_filtered(query: Mapping[str, str]) -> bool:
    """Whether the listing is a search (any filter given, even an empty one)."""
    return any(name in query for name in FILTERS)


def excludes_pull_requests(query: Mapping[str, str]) -> bool:
    """Whether ``exclude_pull_requests=true`` asks for empty ``pull_requests`` arrays."""
    return query.get("exclude_pull_requests", "").lower() == "true"


@functools.lru_cache(maxsize=1 << 16)
def _epoch(timestamp: str) -> int:
    return int(datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class RunQuery:
    """A listing's filters, parsed once; `matches` tests one run dict."""

    actor: str | None = None
    branch: str | None = None
    event: str | None = None
    status: str | None = None
    head_sha: str | None = None
    check_suite_id: int | None = None
    created: tuple[int | None, int | None] = (None, None)

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> RunQuery:
        """From a query string; ValueError for a bad ``created`` or ``check_suite_id``."""
        suite = query.get("check_suite_id")
        created = query.get("created")
        return cls(
            actor=query.get("actor"),
            branch=query.get("branch"),
            event=query.get("event"),
            status=query.get("status"),
            head_sha=query.get("head_sha"),
            check_suite_id=None if suite is None else int(suite),
            created=(None, None) if created is None else created_bounds(created),
        )

    def matches(self, run: JSONDict, created_epoch: int) -> bool:
        """Whether ``run`` (created at ``created_epoch``) is selected."""
        low, high = self.created
        actor = run.get("actor") or {}
        return (
            (low is None or created_epoch >= low)
            and (high is None or created_epoch <= high)
            and (self.branch is None or run.get("head_branch") == self.branch)
            and (self.event is None or run.get("event") == self.event)
            and (self.status is None or self.status in (run.get("status"), run.get("conclusion")))
            and (self.head_sha is None or run.get("head_sha") == self.head_sha)
            and (self.actor is None or actor.get("login") == self.actor)
            and (self.check_suite_id is None or run.get("check_suite_id") == self.check_suite_id)
        )


def select_runs(runs: Iterable[JSONDict], query: RunQuery) -> list[JSONDict]:
    """The matching runs, newest first (``created_at``, then id, descending)."""
    keyed = [(_epoch(run["created_at"]), int(run["id"]), run) for run in runs]
    chosen = [item for item in keyed if query.matches(item[2], item[0])]
    chosen.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [run for _, _, run in chosen]


def workflow_matches(run: JSONDict, workflow: str) -> bool:
    """``workflow_id`` in a path is the numeric id or the file name (``ci.yml``)."""
    if workflow.isascii() and workflow.isdigit():
        return int(run.get("workflow_id", -1)) == int(workflow)
    path = str(run.get("path", "")).split("@", 1)[0]
    return path.rsplit("/", 1)[-1] == workflow


def page_of(
    matched: list[JSONDict],
    *,
    filtered: bool,
    per_page: int,
    page: int,
    search_cap: int,
    unfiltered_limit: int,
) -> tuple[list[JSONDict], int] | None:
    """(runs of the page, total_count) under GitHub's caps, or None for the 422.

    A search reaches only its first ``search_cap`` runs (later pages are empty) and
    reports every match; an unfiltered listing refuses a page that starts at or past
    ``unfiltered_limit`` and reports at most the limit.
    """
    start = (page - 1) * per_page
    if filtered:
        reachable = matched[:search_cap]
        return reachable[start : start + per_page], len(matched)
    if start >= unfiltered_limit:
        return None
    end = min(start + per_page, unfiltered_limit)
    return matched[start:end], min(len(matched), unfiltered_limit)
