"""Which step of a job each log entry belongs to, without I/O.

:func:`split_steps` assigns every entry to one of the job's steps: by the top-level
boundary lines (``Current runner version:``, each ``##[group]Run ``, ``Post job
cleanup.``, ``Cleaning up orphan processes``) zipped with the steps that ran when their
count and kinds match, else by :class:`StepCursor`, which accepts a boundary only near the
next step's time and advances by time windows; each step says how it was found. The JSON
step times are whole seconds and -1.5 s to +3.6 s off the lines (``docs/github-api.md``
section 12), so time windows alone misplace lines: they are the fallback, never the rule.
:class:`StepStream` does the same one entry at a time, for a log that streams: markers in
order first, :class:`StepCursor` from the first boundary that does not match its step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

import attrs

from ._logtext import LogLine
from .models import Job, Step

__all__ = [
    "FAILED_STEP_CONCLUSIONS",
    "StepCursor",
    "StepLog",
    "StepStream",
    "boundary_of",
    "kind_of",
    "ran",
    "split_steps",
]

#: Conclusions ``--log-failed`` shows, as gh does.
FAILED_STEP_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure", "action_required"})
# A line is at most ~3.6 s before its step's JSON start (the times are -1.5 s to +3.6 s off and
# truncated to the second); a wider slack lets inner groups of short steps pass for boundaries.
_TOLERANCE = timedelta(seconds=4)

Method = Literal["markers", "markers+time", "time", "not run"]
Confidence = Literal["high", "medium", "low"]

Boundary = Literal["setup", "run", "post", "complete"]


def boundary_of(entry: LogLine) -> Boundary | None:
    """Which top-level step boundary an entry is, if any."""
    text = entry.text
    if entry.marker == "group":
        return "run" if text.startswith("##[group]Run ") else None
    if text.startswith("Current runner version:"):
        return "setup"
    if text.startswith("Post job cleanup."):
        return "post"
    if text.startswith("Cleaning up orphan processes"):
        return "complete"
    return None


def kind_of(step: Step, steps: Iterable[Step] = ()) -> Boundary:
    """The boundary a step opens with, from its name and the names of the job's ``steps``.

    GitHub names a post step ``Post <name of the step it cleans up after>``, so a step is a
    post step only when an earlier step (a lower ``number``) has the rest of its name, or
    when it is ``Post job cleanup.``: a user's step named ``Post comment`` runs something.
    """
    if step.name == "Set up job":
        return "setup"
    if step.name == "Complete job":
        return "complete"
    if step.name == "Post job cleanup.":
        return "post"
    original = step.name.removeprefix("Post ")
    if original != step.name and any(s.name == original and s.number < step.number for s in steps):
        return "post"
    return "run"


def ran(step: Step) -> bool:
    """Whether a step can have written lines: it concluded, and was not skipped."""
    return step.conclusion is not None and str(step.conclusion) != "skipped"


@attrs.frozen
class StepLog:
    """The entries of one step, and how they were found.

    ``method`` is ``markers`` (boundaries zipped with the steps that ran: ``high``
    confidence), ``markers+time`` (a boundary accepted near the step's JSON time:
    ``medium``), ``time`` (the step's time window alone: ``low``) or ``not run`` (skipped
    or never started: no lines expected).
    """

    step: Step
    entries: tuple[LogLine, ...]
    method: Method
    confidence: Confidence


class StepCursor:
    """Assigns entries to steps one at a time, as a log streams (the fallback of `split_steps`).

    Starts in the first step that ran. A boundary line moves to the nearest later step
    that opens with that boundary and whose JSON ``started_at`` is at most a few seconds
    after the line; a line later than the current step's ``completed_at`` (plus the same
    tolerance) with no boundary moves to the step whose window holds it. Lines without a
    timestamp stay where they are. No line is ever left without a step.
    """

    def __init__(self, job: Job) -> None:
        """A cursor over the steps of ``job`` that ran, sorted by ``number``."""
        self.steps = sorted((s for s in job.steps if ran(s)), key=lambda s: s.number)
        self.kinds = [kind_of(s, job.steps) for s in self.steps]
        self.index = 0
        self.boundaries = 0
        self.rejected = 0  # boundaries no step near their time opened with
        self.how: dict[int, Method] = {}
        if self.steps:
            self.how[self.steps[0].number] = "time"

    def assign(self, entry: LogLine) -> Step | None:
        """The step ``entry`` belongs to (None only for a job with no step that ran)."""
        if not self.steps:
            return None
        kind = boundary_of(entry)
        if kind is not None:
            self.boundaries += 1
            if self._boundary(kind, entry.timestamp):
                return self.steps[self.index]
            self.rejected += 1
        if entry.timestamp is not None:
            self._by_time(entry.timestamp)
        return self.steps[self.index]

    def _boundary(self, kind: Boundary, when: datetime | None) -> bool:
        start = 0 if self.boundaries == 1 and kind == "setup" else self.index + 1
        for index in range(start, len(self.steps)):
            step = self.steps[index]
            if self.kinds[index] != kind:
                continue
            begins = step.started_at
            if when is not None and begins is not None and when < begins - _TOLERANCE:
                return False
            self.index = index
            self.how[step.number] = "markers+time"
            return True
        return False

    def _by_time(self, when: datetime) -> None:
        ends = self.steps[self.index].completed_at
        if ends is None or when <= ends + _TOLERANCE:
            return
        for index in range(self.index + 1, len(self.steps)):
            step = self.steps[index]
            if step.completed_at is None or when <= step.completed_at + _TOLERANCE:
                self.index = index
                self.how.setdefault(step.number, "time")
                return

    def method_of(self, step: Step) -> Method:
        """How this step's lines were found so far."""
        if not ran(step):
            return "not run"
        return self.how.get(step.number, "time")


class StepStream:
    """Assigns entries to steps as a log streams, markers first, like `split_steps`.

    The n-th top-level boundary opens the n-th step that ran (sorted by ``number``) while
    their kinds match, whatever the times say: runner clocks differ from GitHub's. At the
    first boundary that does not match (another kind, or more boundaries than steps) a
    `StepCursor` takes over from the current step and places the rest near the steps'
    times. Lines already placed stay where they are; memory does not grow with the log.
    """

    def __init__(self, job: Job) -> None:
        """A stream over the steps of ``job`` that ran."""
        self._fallback = StepCursor(job)
        self.steps = self._fallback.steps
        self.kinds = self._fallback.kinds
        self._seen = 0  # boundaries before the fallback took over
        self._opened = 0  # boundaries matched to steps by markers
        self._matching = True

    def assign(self, entry: LogLine) -> Step | None:
        """The step ``entry`` belongs to (None only for a job with no step that ran)."""
        if not self.steps:
            return None
        if not self._matching:
            return self._fallback.assign(entry)
        kind = boundary_of(entry)
        if kind is None:
            return self.steps[max(0, self._opened - 1)]
        self._seen += 1
        if self._opened < len(self.steps) and kind == self.kinds[self._opened]:
            self._opened += 1
            return self.steps[self._opened - 1]
        self._matching = False
        cursor = self._fallback
        cursor.index = max(0, self._opened - 1)
        cursor.boundaries = self._seen - 1  # assign() counts this one
        cursor.how = {s.number: "markers" for s in self.steps[: self._opened]}
        cursor.how.setdefault(self.steps[0].number, "time")
        return cursor.assign(entry)

    def method_of(self, step: Step) -> Method:
        """How this step's lines were found so far (``time`` for a step no boundary opened)."""
        if self._matching:
            if not ran(step):
                return "not run"
            opened = {s.number for s in self.steps[: self._opened]}
            return "markers" if step.number in opened else "time"
        return self._fallback.method_of(step)

    @property
    def boundaries(self) -> int:
        """Top-level boundaries seen so far."""
        return self._fallback.boundaries if self.fell_back else self._seen

    @property
    def fell_back(self) -> bool:
        """Whether a boundary did not match its step, so times placed the lines after it."""
        return not self._matching

    @property
    def rejected(self) -> int:
        """Boundaries that opened no step, after the fallback took over."""
        return self._fallback.rejected

    def sure(self) -> bool:
        """Whether every step that ran was found by its marker and no boundary was left over."""
        return not self.fell_back and all(self.method_of(s) == "markers" for s in self.steps)


def split_steps(job: Job, entries: Iterable[LogLine]) -> list[StepLog]:
    """Every entry of ``job``'s log assigned to one of its steps; one result per step.

    Markers first: when the top-level boundaries, in order, match the steps that ran
    (sorted by ``number``) in count and kind, each boundary opens the next step
    (confidence ``high``). Otherwise :class:`StepCursor` decides, and each step says
    whether a boundary near its time (``medium``) or its time window alone (``low``)
    placed it. Entries before the first boundary belong to the first step that ran.
    Skipped steps come back empty, ``not run``. A job with no step that ran gets no
    results.
    """
    items = list(entries)
    steps = sorted(job.steps, key=lambda s: s.number)
    ran_steps = [s for s in steps if ran(s)]
    if not ran_steps:
        return []
    owners = _by_markers(ran_steps, [kind_of(s, steps) for s in ran_steps], items)
    methods: dict[int, Method]
    if owners is not None:
        methods = dict.fromkeys((s.number for s in ran_steps), "markers")
    else:
        cursor = StepCursor(job)
        owners = [cursor.assign(entry) or ran_steps[0] for entry in items]
        methods = {s.number: cursor.method_of(s) for s in ran_steps}
    grouped: dict[int, list[LogLine]] = {s.number: [] for s in steps}
    for entry, owner in zip(items, owners, strict=True):
        grouped[owner.number].append(entry)
    return [
        StepLog(
            step=s,
            entries=tuple(grouped[s.number]),
            method=methods.get(s.number, "not run"),
            confidence=_CONFIDENCE[methods.get(s.number, "not run")],
        )
        for s in steps
    ]


_CONFIDENCE: dict[Method, Confidence] = {
    "markers": "high",
    "not run": "high",
    "markers+time": "medium",
    "time": "low",
}


def _by_markers(
    ran_steps: list[Step], kinds: list[Boundary], items: list[LogLine]
) -> list[Step] | None:
    """Owners by boundaries zipped with the steps that ran, or None if they do not match."""
    found = [(i, kind) for i, entry in enumerate(items) if (kind := boundary_of(entry))]
    if [kind for _, kind in found] != kinds:
        return None
    owners: list[Step] = []
    current = 0
    starts = {i: n for n, (i, _) in enumerate(found)}
    for i in range(len(items)):
        current = starts.get(i, current)
        owners.append(ran_steps[current])
    return owners
