"""Logs laid out like GitHub's per-job log relative to the job's steps.

The steps that ran write their lines in order; a skipped step writes nothing. Each step
opens with the boundary line the runner writes: ``Current runner version:`` (Set up job),
``##[group]Run <command or action>`` (a step that runs something), ``Post job cleanup.``
(a post step), ``Cleaning up orphan processes`` (Complete job). A *composite* step prints
inner ``##[group]Run`` groups of its own, as composite actions do, so that counting
boundaries no longer matches the steps. One step, the *bulk* step, carries the log's
repeated body blocks (see `gh_jobs_async.testing._logs`).

Every line of a section knows its step (the oracle behind ``FakeGitHub.log_steps``) and
its time; the job JSON's step times are derived from those times, in whole seconds and a
few seconds off, as GitHub's are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

__all__ = ["Section", "StepPlan", "setup_lines", "step_kind", "step_sections"]

StepKind = Literal["setup", "run", "post", "complete"]

#: The command or action a ``Run`` group names, per step name (a group's title is the
#: command or action ref, not the step's ``name:``).
_TITLES = {
    "Run actions/checkout@v4": "actions/checkout@v4",
    "Set up Python 3.12": "actions/setup-python@v5",
    "Install dependencies": "python -m pip install -r requirements.txt",
    "Run ruff check .": "ruff check .",
    "Run tests": "python -m pytest -q",
    "Build wheel": "python -m build",
    "Upload coverage": "codecov/codecov-action@v4",
}


@dataclass(frozen=True)
class StepPlan:
    """One step that ran: its number and name, and what its lines look like."""

    number: int
    name: str
    failed: bool = False
    composite: bool = False  # prints inner ``##[group]Run`` groups
    bulk: bool = False  # the body blocks are this step's output


@dataclass(frozen=True)
class Section:
    """Lines of one step: (step number, seconds after the step's start, text, stamped)."""

    number: int
    lines: tuple[tuple[float, str, bool], ...]


def step_kind(name: str) -> StepKind:
    """Which boundary line a step opens with, from its name."""
    if name == "Set up job":
        return "setup"
    if name == "Complete job":
        return "complete"
    if name.startswith("Post "):
        return "post"
    return "run"


def setup_lines(job_id: int, name: str, runner_name: str) -> list[str]:
    """The runner's opening lines of a job's log (Set up job), as GitHub writes them."""
    return [
        "Current runner version: '2.317.0'",
        f"Runner name: '{runner_name}'",
        "Runner group name: 'GitHub Actions'",
        f"Machine name: 'fv-az{job_id % 1000}-{job_id % 977}'",
        "##[group]Operating System",
        "Ubuntu",
        "22.04.4",
        "LTS",
        "##[endgroup]",
        "##[group]GITHUB_TOKEN Permissions",
        "Actions: read",
        "Contents: read",
        "##[endgroup]",
        "Secret source: Actions",
        "Prepare workflow directory",
        "Prepare all required actions",
        "Getting action download info",
        f"Download action repository 'actions/checkout@v4' (SHA:{job_id:040x})",
        f"Complete job name: {name}",
    ]


def _run_opening(step: StepPlan) -> list[tuple[str, bool]]:
    title = _TITLES.get(step.name, step.name.removeprefix("Run "))
    lines = [
        (f"##[group]Run {title}", True),
        (f"\x1b[36;1m{title}\x1b[0m", True),
        ("shell: /usr/bin/bash -e {0}", True),
        ("##[endgroup]", True),
    ]
    if step.composite:  # a composite action: its inner steps print their own Run groups
        for inner in ('echo "::add-matcher::$RUNNER_TEMP/matcher.json"', "pip cache dir"):
            lines += [(f"##[group]Run {inner}", True), (inner, True), ("##[endgroup]", True)]
    return lines


def _run_closing(step: StepPlan) -> list[tuple[str, bool]]:
    lines = [(f"done: {step.name}", True)]
    if step.failed:
        lines += [
            ("\x1b[31;1mE   AssertionError: expected 200, got 503\x1b[0m", True),
            ("    at tests/test_session.py:88", False),
            ("##[error]Process completed with exit code 1.", True),
        ]
    return lines


def _post_lines(step: StepPlan) -> list[tuple[str, bool]]:
    return [
        ("Post job cleanup.", True),
        ("[command]/usr/bin/git version", True),
        ("git version 2.45.2", True),
        (f"Cleaning up after {step.name.removeprefix('Post ')}", True),
    ]


def _complete_lines() -> list[tuple[str, bool]]:
    return [
        ("Cleaning up orphan processes", True),
        ("Terminate orphan process: pid (2211) (python)", True),
    ]


def step_sections(
    steps: tuple[StepPlan, ...], *, job_id: int, name: str, runner_name: str
) -> tuple[list[Section], list[Section]]:
    """The sections before the body (head) and after it (tail); times relative to each step.

    The bulk step's opening lines end the head and its closing lines start the tail.
    Without a bulk step the body sits after the last section.
    """
    rng = random.Random(f"gh-jobs-fake-steplog:{job_id}")
    head: list[Section] = []
    tail: list[Section] = []
    target = head
    for step in steps:
        kind = step_kind(step.name)
        if kind == "setup":
            text = [(line, True) for line in setup_lines(job_id, name, runner_name)]
        elif kind == "post":
            text = _post_lines(step)
        elif kind == "complete":
            text = _complete_lines()
        else:
            text = _run_opening(step)
            output = [(f"{step.name}: line {i}", True) for i in range(rng.randrange(0, 5))]
            if not step.bulk:
                text += output + _run_closing(step)
        step_rate = rng.choice((0.0137, 0.05, 0.3))  # some steps take well under a second
        target.append(Section(step.number, _timed(text, step_rate)))
        if step.bulk:
            target = tail
            target.append(Section(step.number, _timed(_run_closing(step), 0.0113)))
    return head, tail


def _timed(text: list[tuple[str, bool]], rate: float) -> tuple[tuple[float, str, bool], ...]:
    return tuple((i * rate, line, stamped) for i, (line, stamped) in enumerate(text))


def stamp(t: datetime) -> str:
    """The runner's ``DateTime.ToString("O")``: seven fractional digits and ``Z``."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond * 10 + 7:07d}Z"


def render(
    sections: list[Section], start: datetime, gaps: list[float]
) -> tuple[bytes, list[int], list[datetime]]:
    """Text of ``sections`` from ``start``; the step of every line; each section's first time.

    ``gaps[i]`` is how long section ``i`` lasts beyond its last line, so the next one
    starts later.
    """
    out: list[str] = []
    owners: list[int] = []
    firsts: list[datetime] = []
    t = start
    for section, gap in zip(sections, gaps, strict=True):
        firsts.append(t)
        last = t
        for offset, line, stamped in section.lines:
            last = t + timedelta(seconds=offset)
            out.append(f"{stamp(last)} {line}\n" if stamped else f"{line}\n")
            owners.append(section.number)
        t = last + timedelta(seconds=gap)
    return "".join(out).encode("utf-8", "surrogatepass"), owners, firsts
