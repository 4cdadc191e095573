"""``created`` ranges of the runs listings, and how to split them past the cap (pure).

GitHub's two runs listings take ``created`` in search date syntax (``D``, ``>D``,
``>=D``, ``<D``, ``<=D``, ``D..D``, ``D..*``, ``*..D``; ``D`` is ``YYYY-MM-DD`` with an
optional ``THH:MM:SS`` and ``Z`` or ``+HH:MM``). Every form the client accepts becomes a
:class:`CreatedRange`: two inclusive UTC instants on whole seconds, either end open.

A search with any filter reaches at most :data:`CAP` runs; ``total_count`` still says how
many match. The way past it (apache/devlake's): list ``created=FROM..TO`` windows, halve a
window on whole seconds while its ``total_count`` is above the cap (or GitHub answers 422),
and fail loudly when one second alone holds more than the cap. The decisions live here,
without I/O; :mod:`gh_jobs_async._runs` sends the requests.
https://docs.github.com/search-github/getting-started-with-searching-on-github/understanding-the-search-syntax#query-for-dates
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import attrs

from .exceptions import InvalidArgumentError, RunsCapError

__all__ = [
    "CAP",
    "FLOOR",
    "CreatedInput",
    "CreatedRange",
    "Window",
    "format_instant",
    "over_cap",
    "pages_for",
    "partition",
    "parse_created",
    "probe_per_page",
]

#: Runs a filtered search reaches, at most (GitHub's "up to 1,000 results for each search").
CAP = 1000
#: The oldest instant a run can have been created at: GitHub Actions opened in 2018. An open
#: lower end is bisected from here (each halving of the empty past costs one cheap probe).
FLOOR = datetime(2018, 1, 1, tzinfo=UTC)

_SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)
_D = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})?)?"
_COMPARE_RE = re.compile(rf"(>=|<=|>|<)?({_D})")
_RANGE_RE = re.compile(rf"({_D}|\*)\.\.({_D}|\*)")


def format_instant(moment: datetime) -> str:
    """``2026-01-31T23:59:59Z``: a UTC instant as GitHub's search syntax writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class CreatedRange:
    """Runs created from ``since`` to ``until``, both inclusive; ``None`` is an open end.

    Both ends are aware UTC datetimes on whole seconds once through :func:`parse_created`
    (``list_runs`` sends a range built by hand through it too: naive ends are refused,
    fractions round inwards).
    """

    since: datetime | None = None
    until: datetime | None = None

    @property
    def bounded(self) -> bool:
        """Whether either end is set (an unbounded range sends no ``created``)."""
        return self.since is not None or self.until is not None

    def qualifier(self) -> str | None:
        """The ``created`` query value (``FROM..TO``, ``>=FROM``, ``<=TO``), or None."""
        if self.since is not None and self.until is not None:
            return f"{format_instant(self.since)}..{format_instant(self.until)}"
        if self.since is not None:
            return f">={format_instant(self.since)}"
        if self.until is not None:
            return f"<={format_instant(self.until)}"
        return None

    def window(self, newest: datetime | None = None) -> Window | None:
        """The range as a closed :class:`Window`, its open lower end at :data:`FLOOR`.

        ``newest`` (the newest matching run's ``created_at``, which a first page tells)
        closes the upper end, or tightens it; None when nothing can match.
        """
        since = self.since if self.since is not None else FLOOR
        ends = [end for end in (self.until, newest) if end is not None]
        if not ends:
            raise ValueError("an open upper end needs the newest run's created_at")
        until = _floor_second(min(ends))
        return Window(since, until) if since <= until else None


#: Every form ``created`` takes (see :func:`parse_created`).
CreatedInput = (
    datetime
    | date
    | str
    | tuple[datetime | date | None, datetime | date | None]
    | CreatedRange
    | None
)


@attrs.frozen
class Window:
    """A closed range of whole seconds, ``since`` to ``until`` inclusive, in UTC."""

    since: datetime
    until: datetime

    def __attrs_post_init__(self) -> None:
        if self.since > self.until:
            raise ValueError(f"a window cannot end ({self.until}) before it starts")

    @property
    def seconds(self) -> int:
        """How many whole seconds the window holds (1 for a single second)."""
        return int((self.until - self.since) // _SECOND) + 1

    def qualifier(self) -> str:
        """``FROM..TO`` for the ``created`` query parameter."""
        return f"{format_instant(self.since)}..{format_instant(self.until)}"

    def halves(self, total_count: int) -> tuple[Window, Window]:
        """Split into ``(newer, older)`` halves that share no second: ``MID+1s..TO`` and
        ``FROM..MID``.

        Raises :class:`RunsCapError` for a single second: it cannot be split, and its
        ``total_count`` runs cannot all be listed.
        """
        if self.seconds < 2:
            raise RunsCapError(self.qualifier(), total_count, CAP)
        mid = self.since + (self.seconds // 2 - 1) * _SECOND
        return Window(mid + _SECOND, self.until), Window(self.since, mid)

    def tightened(self, newest: datetime | None) -> Window | None:
        """The window ending at ``newest`` (the newest run a probe found in it), or None
        when the probe found nothing."""
        if newest is None:
            return None
        until = min(self.until, _floor_second(newest))
        return Window(self.since, until) if self.since <= until else None


#: Runs a first cut aims to put in each slice: well under the cap, so that a slice's first
#: request can be a full page (the listing's first) rather than a probe.
TARGET = 600


def partition(window: Window, total_count: int, sample: Sequence[datetime]) -> list[Window]:
    """The first cut of a window over the cap, newest first, sharing no second.

    ``sample`` is the ``created_at`` of the runs of its first page (newest first): at
    the density they show, slices of about :data:`TARGET` runs are cut back from the
    window's end, enough for ``total_count`` runs, and whatever of the window is older
    becomes one more slice. Without a usable sample (fewer than two runs, or all in one
    second) the window is halved. A slice that turns out over the cap is halved later.
    """
    if len(sample) < 2 or sample[0] <= sample[-1]:
        return list(window.halves(total_count))
    per_run = (sample[0] - sample[-1]) / (len(sample) - 1)
    length = max(1, math.ceil(TARGET * per_run / _SECOND))
    slices: list[Window] = []
    until = window.until
    for _ in range(math.ceil(total_count / TARGET)):
        if until < window.since:
            break
        since = max(window.since, until - (length - 1) * _SECOND)
        slices.append(Window(since, until))
        until = since - _SECOND
    if until >= window.since:
        slices.append(Window(window.since, until))
    return slices


def over_cap(total_count: int) -> bool:
    """Whether a window with ``total_count`` matching runs must be split."""
    return total_count > CAP


def probe_per_page(expected: float, per_page: int) -> int:
    """Page size of a window's first request: a full page when the window is expected to
    fit under the cap (that page is then the listing's first), else 1 (a cheap probe)."""
    return per_page if expected <= 0.8 * CAP else 1


def pages_for(total_count: int, per_page: int) -> int:
    """How many pages of ``per_page`` list ``total_count`` runs (0 for none)."""
    return math.ceil(min(total_count, CAP) / per_page)


# --------------------------------------------------------------------------- validation


def parse_created(value: object) -> CreatedRange:
    """Validate any ``created`` form into a :class:`CreatedRange`; raise
    :class:`InvalidArgumentError` naming the value otherwise.

    * ``None``: every run;
    * an aware ``datetime``: that moment onwards; a ``date``: that UTC day onwards;
    * ``(since, until)``: either may be ``None``; datetimes or dates, both inclusive (a
      ``date`` as ``until`` means the end of that day);
    * a GitHub qualifier string, e.g. ``">=2026-01-01"`` or ``"2026-01-01..2026-01-31"``;
    * a :class:`CreatedRange`, its ends checked and rounded as a pair's are.

    A naive datetime (or a qualifier time without ``Z`` or an offset) is an error, not a
    guess. Fractions of a second round inwards: a run's ``created_at`` is whole seconds.
    """
    try:
        result = _parse(value)
    except OverflowError:
        raise InvalidArgumentError("created", value, "a date out of range") from None
    if result.since is not None and result.until is not None and result.since > result.until:
        raise InvalidArgumentError("created", value, "the range ends before it starts")
    return result


def _parse(value: object) -> CreatedRange:
    if value is None:
        return CreatedRange()
    if isinstance(value, str):
        return _parse_qualifier(value)
    if isinstance(value, CreatedRange | tuple):
        # A CreatedRange built by the caller is checked as a pair is: its ends may be
        # naive, fractional or not datetimes at all (attrs does not check types).
        if isinstance(value, tuple) and len(value) != 2:
            raise InvalidArgumentError("created", value, "expected a (since, until) pair")
        since, until = (value.since, value.until) if isinstance(value, CreatedRange) else value
        return CreatedRange(
            since=None if since is None else _start(since, value),
            until=None if until is None else _end(until, value),
        )
    if isinstance(value, date):
        return CreatedRange(since=_start(value, value))
    raise InvalidArgumentError(
        "created",
        value,
        "expected an aware datetime, a date, a (since, until) pair or a qualifier string",
    )


def _aware(moment: datetime, shown: object) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidArgumentError(
            "created", shown, "a naive datetime is ambiguous: give it a timezone (e.g. UTC)"
        )
    return moment.astimezone(UTC)


def _floor_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _start(end: object, shown: object) -> datetime:
    """The first whole second at or after ``end``."""
    if isinstance(end, datetime):
        moment = _aware(end, shown)
        floor = moment.replace(microsecond=0)
        return floor if floor == moment else floor + _SECOND
    if isinstance(end, date):
        return datetime.combine(end, time(0, 0, 0), tzinfo=UTC)
    raise InvalidArgumentError("created", shown, "each end is an aware datetime, a date or None")


def _end(end: object, shown: object) -> datetime:
    """The last whole second at or before ``end`` (a date: its last second)."""
    if isinstance(end, datetime):
        return _aware(end, shown).replace(microsecond=0)
    if isinstance(end, date):
        return datetime.combine(end, time(23, 59, 59), tzinfo=UTC)
    raise InvalidArgumentError("created", shown, "each end is an aware datetime, a date or None")


def _parse_qualifier(text: str) -> CreatedRange:
    """One of GitHub's date qualifiers, as the range of whole seconds it selects."""
    compare = _COMPARE_RE.fullmatch(text)
    if compare is not None:
        op, operand = compare.groups()
        first, last = _instant(operand, text)
        if op is None:
            return CreatedRange(first, last)
        return {
            ">": CreatedRange(since=last + _SECOND),
            ">=": CreatedRange(since=first),
            "<": CreatedRange(until=first - _SECOND),
            "<=": CreatedRange(until=last),
        }[op]
    between = _RANGE_RE.fullmatch(text)
    if between is None or between.groups() == ("*", "*"):
        raise InvalidArgumentError(
            "created",
            text,
            "expected a GitHub date qualifier: D, >D, >=D, <D, <=D, D..D, D..* or *..D "
            "(D: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ / +HH:MM)",
        )
    low, high = between.groups()
    return CreatedRange(
        since=None if low == "*" else _instant(low, text)[0],
        until=None if high == "*" else _instant(high, text)[1],
    )


def _instant(operand: str, text: str) -> tuple[datetime, datetime]:
    """The first and last second ``operand`` names: a day's, or one second twice."""
    try:
        if "T" not in operand:
            day = date.fromisoformat(operand)
            first = datetime.combine(day, time(0, 0, 0), tzinfo=UTC)
            return first, first + _DAY - _SECOND
        moment = datetime.fromisoformat(operand)
    except ValueError:
        raise InvalidArgumentError("created", text, f"{operand!r} is not a valid date") from None
    if moment.tzinfo is None:
        raise InvalidArgumentError(
            "created", text, f"{operand!r} has no timezone: add Z or an offset such as +02:00"
        )
    moment = moment.astimezone(UTC)
    return moment, moment


# --------------------------------------------------------------------------- filters

#: ``status`` values the listings take: GitHub's enum plus ``startup_failure``, a real
#: conclusion the enum lacks.
RUN_STATUSES = frozenset(
    {
        "completed",
        "action_required",
        "cancelled",
        "failure",
        "neutral",
        "skipped",
        "stale",
        "success",
        "timed_out",
        "in_progress",
        "queued",
        "requested",
        "waiting",
        "pending",
        "startup_failure",
    }
)
_SHA_RE = re.compile(r"[0-9a-fA-F]{4,64}")
_WORKFLOW_FILE_RE = re.compile(r"[A-Za-z0-9._-]{1,255}")


def _text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value
        or len(value) > 1024
        or any(ch.isspace() or not ch.isprintable() for ch in value)
    ):
        raise InvalidArgumentError(name, value, "expected a non-empty string without spaces")
    return value


@attrs.frozen
class RunFilters:
    """The validated filters of a runs listing (``created`` apart: it is windowed)."""

    workflow: int | str | None = None
    branch: str | None = None
    event: str | None = None
    status: str | None = None
    actor: str | None = None
    head_sha: str | None = None
    exclude_pull_requests: bool = False

    @classmethod
    def create(
        cls,
        *,
        workflow: object = None,
        branch: object = None,
        event: object = None,
        status: object = None,
        actor: object = None,
        head_sha: object = None,
        exclude_pull_requests: object = False,
    ) -> RunFilters:
        """Check every filter; raise :class:`InvalidArgumentError` naming the bad one."""
        if workflow is not None:
            if isinstance(workflow, bool) or not isinstance(workflow, int | str):
                raise InvalidArgumentError(
                    "workflow", workflow, "expected a workflow id or a file name like 'ci.yml'"
                )
            if isinstance(workflow, int) and not 0 < workflow < 2**63:
                raise InvalidArgumentError("workflow", workflow, "expected a positive id")
            if isinstance(workflow, str) and (
                not _WORKFLOW_FILE_RE.fullmatch(workflow) or workflow in {".", ".."}
            ):
                raise InvalidArgumentError(
                    "workflow", workflow, "expected a file name like 'ci.yml' (no folders)"
                )
        if status is not None and status not in RUN_STATUSES:
            raise InvalidArgumentError(
                "status", status, f"expected one of {', '.join(sorted(RUN_STATUSES))}"
            )
        if head_sha is not None and (
            not isinstance(head_sha, str) or not _SHA_RE.fullmatch(head_sha)
        ):
            raise InvalidArgumentError("head_sha", head_sha, "expected a hexadecimal commit SHA")
        if not isinstance(exclude_pull_requests, bool):
            raise InvalidArgumentError(
                "exclude_pull_requests", exclude_pull_requests, "expected True or False"
            )
        return cls(
            workflow=workflow,
            branch=_text("branch", branch),
            event=_text("event", event),
            status=status,
            actor=_text("actor", actor),
            head_sha=head_sha,
            exclude_pull_requests=exclude_pull_requests,
        )

    @property
    def searching(self) -> bool:
        """Whether these filters alone make the listing a capped search (``workflow`` and
        ``exclude_pull_requests`` do not)."""
        return any(
            v is not None for v in (self.branch, self.event, self.status, self.actor, self.head_sha)
        )

    def query(self, created: str | None, *, per_page: int, page: int) -> dict[str, str | int]:
        """The query parameters of one page, ``created`` as a qualifier or None."""
        params: dict[str, str | int] = {}
        for name in ("actor", "branch", "event", "status", "head_sha"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if created is not None:
            params["created"] = created
        if self.exclude_pull_requests:
            params["exclude_pull_requests"] = "true"
        params["per_page"] = per_page
        params["page"] = page
        return params
