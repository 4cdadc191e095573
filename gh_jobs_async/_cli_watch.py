"""What ``gh-jobs watch`` shows: a live table of a run's jobs, or one line per change.

Imported only by :mod:`gh_jobs_async.cli` when ``watch`` runs (it needs rich). On a
terminal the table (job, status, conclusion, duration, the step running now) is redrawn in
place; otherwise each :class:`~gh_jobs_async.JobUpdate` becomes one plain line, in the order
observed, and nothing else is printed until the closing summary.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from types import TracebackType

from rich import box
from rich.live import Live
from rich.table import Table

from gh_jobs_async import Change, Job, JobStatus, JobUpdate, StepStatus, WorkflowRun

from ._cli_output import Output, human_duration

__all__ = ["WatchDisplay", "change_line"]


def _elapsed(job: Job, now: datetime) -> float | None:
    if job.duration is not None:
        return job.duration
    if job.status == JobStatus.IN_PROGRESS:
        return max(0.0, (now - job.started_at).total_seconds())
    return None


def _running_step(job: Job) -> str:
    for step in job.steps:
        if step.status == StepStatus.IN_PROGRESS:
            return f"{step.number}/{len(job.steps)} {step.name}"
    return "-"


def _state(job: Job) -> str:
    if job.status == JobStatus.COMPLETED:
        return f"completed ({job.conclusion or '-'}, {human_duration(job.duration)})"
    return str(job.status)


def change_line(update: JobUpdate, when: datetime) -> str:
    """One plain line for one update, e.g. ``12:00:03  lint  queued -> in_progress``."""
    job = update.job
    parts = [f"{when:%H:%M:%S}", f"{job.name} (job {job.id}, attempt {job.run_attempt or 1})"]
    if update.first_seen:
        parts.append(f"seen {_state(job)}")
    elif Change.STATUS in update.changes:
        parts.append(f"{update.previous_status} -> {_state(job)}")
    elif Change.CONCLUSION in update.changes:
        parts.append(f"conclusion {update.previous_conclusion or '-'} -> {job.conclusion}")
    if update.steps_done:
        numbers = [step.number for step in update.steps_done]
        last = update.steps_done[-1]
        consecutive = numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        if len(numbers) == 1:
            span = str(numbers[0])
        elif consecutive:
            span = f"{numbers[0]}-{numbers[-1]}"
        else:  # e.g. step 2 skipped between 1 and 3
            span = ",".join(map(str, numbers))
        parts.append(f"step {span}/{len(job.steps)} done: {last.name} ({last.conclusion})")
    return "  ".join(parts)


class WatchDisplay:
    """Shows a watch: :meth:`update` per change, :meth:`summary` at the end."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.output = Output()
        self.jobs: dict[int, Job] = {}
        self.updates = 0
        self._live: Live | None = None

    async def __aenter__(self) -> WatchDisplay:
        if not self.output.plain:
            # built again at each refresh (4 a second), so running jobs' durations tick
            self._live = Live(
                console=self.output.console,
                auto_refresh=True,
                transient=False,
                get_renderable=self._table,
            )
            self._live.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.stop()

    def update(self, update: JobUpdate) -> None:
        """Take one change: redraw the table, or print its line."""
        self.updates += 1
        job = update.job
        shown = _attempt(self.jobs)
        if shown is not None and (job.run_attempt or 1) > shown:  # a re-run: show its jobs
            self.jobs.clear()
        self.jobs[job.id] = job
        if self._live is not None:
            self._live.refresh()
        else:
            self.output.line(change_line(update, datetime.now(UTC)))

    def _table(self) -> Table:
        now = datetime.now(UTC)
        table = Table(
            title=f"{self.title}, attempt {_attempt(self.jobs) or 1}",
            box=box.SIMPLE_HEAD,
            padding=(0, 1, 0, 0),
            show_edge=False,
        )
        for header in ("job", "status", "conclusion", "duration", "step"):
            table.add_column(header, justify="right" if header == "duration" else "left")
        for job in self.jobs.values():
            table.add_row(
                job.name,
                str(job.status),
                str(job.conclusion or "-"),
                human_duration(_elapsed(job, now)),
                _running_step(job),
            )
        return table

    def summary(self, run: WorkflowRun) -> None:
        """The run's outcome and the jobs' conclusions, one line."""
        attempt = run.run_attempt or 1
        counts = Counter(
            str(job.conclusion or job.status)
            for job in self.jobs.values()
            if (job.run_attempt or 1) == attempt
        )
        tally = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
        self.output.line(
            f"run {run.id} attempt {attempt} {run.status}: {run.conclusion or '-'}"
            f" ({tally or 'no jobs'}; {self.updates} changes seen)"
        )


def _attempt(jobs: dict[int, Job]) -> int | None:
    return max((job.run_attempt or 1 for job in jobs.values()), default=None)
