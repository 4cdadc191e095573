"""Which step of a job each log entry belongs to, without I/O.

:func:`split_steps` assigns every entry to one of the job's steps: by the top-level
boundary lines (``Current runner version:``, each ``##[group]Run ``, ``Post job
cleanup.``, ``Cleaning up orphan processes``) zipped with the steps that ran when their
count and kinds match, else by :class:`StepCursor`, which accepts a boundary only near the
next step's time and advances by time windows; each step says how it was found. The JSON
step times are whole seconds and -1.5 s to +3.6 s off the lines (``docs/github-api.md``
section 12), so time windows alone misplace lines: they are the fallback, never the rule.
:class:`StepCursor` corrects for the runner's clock offset, learned from the setup line.
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
# The runner's clock offset is learned from the setup line, itself up to a few tenths of a
# second off its step's JSON start: boundaries get that much more slack once it is known.
_OFFSET_SLACK = timedelta(seconds=0.25)

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
    """Assigns entries to steps one at a time, as a log streams (the fallback of `split_steps`,
    and what ``gh-jobs view --failed`` uses).

    Starts in the first step that ran. A boundary line moves to the nearest later step
    that opens with that boundary and whose JSON ``started_at`` is at most a few seconds
    after the line; a line later than the current step's ``completed_at`` (plus the same
    tolerance) with no boundary moves to the step whose window holds it. Lines without a
    timestamp stay where they are. No line is ever left without a step.

    The lines carry the runner's clock, the JSON times GitHub's: a self-hosted runner's
    clock may be seconds or minutes off. The offset is learned from the setup line (the
    first step's opening, against that step's ``started_at``) and every later comparison
    is made on corrected times, so a skewed clock neither rejects every boundary nor lets
    a composite action's inner ``Run`` groups pass for the next steps.
    """

    def __init__(self, job: Job) -> None:
        """A cursor over the steps of ``job`` that ran, sorted by ``number``."""
        self.steps = sorted((s for s in job.steps if ran(s)), key=lambda s: s.number)
        self.kinds = [kind_of(s, job.steps) for s in self.steps]
        self.index = 0
        self.boundaries = 0
        self.rejected = 0  # boundaries no step near their time opened with
        self.offset: timedelta | None = None  # the runner's clock minus GitHub's, once known
        self.how: dict[int, Method] = {}
        if self.steps:
            self.how[self.steps[0].number] = "time"

    def assign(self, entry: LogLine) -> Step | None:
        """The step ``entry`` belongs to (None only for a job with no step that ran)."""
        if not self.steps:
            return None
        kind = boundary_of(entry)
        when = entry.timestamp
        if kind == "setup" and self.boundaries == 0 and when is not None:
            first = self.steps[0].started_at
            if first is not None and self.kinds[0] == "setup":
                self.offset = when - first
        if when is not None and self.offset is not None:
            when -= self.offset
        if kind is not None:
            self.boundaries += 1
            if self._boundary(kind, when):
                return self.steps[self.index]
            self.rejected += 1
        if when is not None:
            self._by_time(when)
        return self.steps[self.index]

    def sure(self) -> bool:
        """Whether every step that ran so far was opened by its boundary and no boundary
        was left over (so no line was placed by time alone)."""
        opened = all(self.how.get(s.number) == "markers+time" for s in self.steps)
        return opened and self.rejected == 0

    def _boundary(self, kind: Boundary, when: datetime | None) -> bool:
        start = 0 if self.boundaries == 1 and kind == "setup" else self.index + 1
        slack = _TOLERANCE + (_OFFSET_SLACK if self.offset is not None else timedelta(0))
        for index in range(start, len(self.steps)):
            step = self.steps[index]
            if self.kinds[index] != kind:
                continue
            begins = step.started_at
            if when is not None and begins is not None and when < begins - slack:
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
