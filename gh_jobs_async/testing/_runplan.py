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
    "PlannedRun",
    "plan_runs",
]

RUN_WORKFLOWS = ("ci.yml", "release.yml", "nightly.yml", "docs.yml")
RUN_BRANCHES = ("main", "dev", "release/1.x", "feature/runs")
RUN_EVENTS = ("push", "pull_request", "schedule", "workflow_dispatch")
RUN_ACTORS = ("octocat", "hubot", "monalisa")

# jobs of a run per outcome: cycled over its jobs, the odd one first
_OUTCOMES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "success": (("success",), None),
    "failure": (("failure", "success"), None),
    "cancelled": (("cancelled", "success"), None),
    "in_progress": (("success",), ("in_progress", "completed")),
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
    exactly ``outcomes[k]`` of them end as ``k`` (the rest succeed). Oldest first."""
    if not (workflows and branches and events and actors):
        raise ValueError("workflows, branches, events and actors must not be empty")
    span = max(1, int(days * 86_400))
    last = end.replace(microsecond=0)
    seconds = sorted(rng.randrange(span) for _ in range(count))
    fates = [name for name, n in outcomes.items() for _ in range(n)]
    fates += ["success"] * (count - len(fates))
    rng.shuffle(fates)
    plan = []
    for offset, fate in zip(seconds, fates, strict=True):
        workflow = rng.choice(workflows)
        conclusions, statuses = _OUTCOMES[fate]
        plan.append(
            PlannedRun(
                created_at=last - timedelta(seconds=span - 1 - offset),
                workflow_path=f".github/workflows/{workflow}",
                workflow_name=workflow.rsplit(".", 1)[0].upper(),
                branch=rng.choice(branches),
                event=rng.choice(events),
                actor=rng.choice(actors),
                outcome=fate,
                conclusions=conclusions,
                statuses=statuses,
            )
        )
    return plan
