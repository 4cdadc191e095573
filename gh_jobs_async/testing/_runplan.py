"""Planning many runs at once (`FakeGitHub.add_runs`): when, where, and how each ends.

Pure: a seeded ``random.Random`` in, a list of `PlannedRun` out, oldest first.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "RUN_ACTORS",
    "RUN_BRANCHES",
    "RUN_EVENTS",
    "RUN_WORKFLOWS",
    "Fate",
    "OUTCOMES",
    "PlannedRun",
    "plan_runs",
]

RUN_WORKFLOWS = ("ci.yml", "release.yml", "nightly.yml", "docs.yml")
RUN_BRANCHES = ("main", "dev", "release/1.x", "feature/runs")
RUN_EVENTS = ("push", "pull_request", "schedule", "workflow_dispatch")
RUN_ACTORS = ("octocat", "hubot", "monalisa")


@dataclass(frozen=True)
class Fate:
    """How a planned run ends: its jobs' conclusions and statuses (cycled over its jobs,
    the odd one first), the run's own conclusion when its jobs do not decide it, and
    whether it has no jobs at all."""

    conclusions: tuple[str, ...]
    statuses: tuple[str, ...] | None = None
    run_conclusion: str | None = None
    jobless: bool = False


#: Every outcome `plan_runs` knows, by the name a listing's ``status`` filter finds it by.
OUTCOMES: Mapping[str, Fate] = {
    "success": Fate(("success",)),
    "failure": Fate(("failure", "success")),
    "cancelled": Fate(("cancelled", "success")),
    "in_progress": Fate(("success",), ("in_progress", "completed")),
    "timed_out": Fate(("timed_out", "success"), run_conclusion="timed_out"),
    "skipped": Fate(("skipped",), run_conclusion="skipped"),
    # GitHub's startup_failure runs have no jobs; nor, here, do action_required ones
    # (a run awaiting approval has not created its jobs yet).
    "startup_failure": Fate(("success",), run_conclusion="startup_failure", jobless=True),
    "action_required": Fate(("success",), run_conclusion="action_required", jobless=True),
    "queued": Fate(("success",), ("queued",)),
    "waiting": Fate(("success",), ("waiting",)),
}


@dataclass(frozen=True)
class PlannedRun:
    """One run to create: its creation second, its workflow and trigger, its jobs' fate."""

    created_at: datetime
    workflow_path: str
    workflow_name: str
    branch: str
    event: str
    actor: str
    outcome: str
    conclusions: tuple[str, ...]
    statuses: tuple[str, ...] | None
    run_conclusion: str | None = None  # the run's conclusion once completed, if not its jobs'
    jobless: bool = False  # created without jobs


def plan_runs(
    rng: random.Random,
    *,
    count: int,
    end: datetime,
    days: float,
    outcomes: Mapping[str, int],
    workflows: Sequence[str],
    branches: Sequence[str],
    events: Sequence[str],
    actors: Sequence[str],
) -> list[PlannedRun]:
    """``count`` runs created at random whole seconds in the ``days`` before ``end``;
    exactly ``outcomes[k]`` of them end as ``k``, one of `OUTCOMES` (the rest succeed).
    Oldest first."""
    if not (workflows and branches and events and actors):
        raise ValueError("workflows, branches, events and actors must not be empty")
    unknown = sorted(set(outcomes) - set(OUTCOMES))
    if unknown:
        raise ValueError(f"unknown outcomes {unknown}: expected some of {sorted(OUTCOMES)}")
    span = max(1, int(days * 86_400))
    last = end.replace(microsecond=0)
    seconds = sorted(rng.randrange(span) for _ in range(count))
    fates = [name for name, n in outcomes.items() for _ in range(n)]
    fates += ["success"] * (count - len(fates))
    rng.shuffle(fates)
    plan = []
    for offset, fate in zip(seconds, fates, strict=True):
        workflow = rng.choice(workflows)
        how = OUTCOMES[fate]
        plan.append(
            PlannedRun(
                created_at=last - timedelta(seconds=span - 1 - offset),
                workflow_path=f".github/workflows/{workflow}",
                workflow_name=workflow.rsplit(".", 1)[0].upper(),
                branch=rng.choice(branches),
                event=rng.choice(events),
                actor=rng.choice(actors),
                outcome=fate,
                conclusions=how.conclusions,
                statuses=how.statuses,
                run_conclusion=how.run_conclusion,
                jobless=how.jobless,
            )
        )
    return plan
