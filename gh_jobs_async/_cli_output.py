"""What ``gh-jobs`` shows: job summaries, job tables, the live harvest display (rich).

Imported only by :mod:`gh_jobs_async.cli`, and only when a command runs, so the
library itself never needs rich. When stdout is not a terminal everything is
plain text: no colours, no live display, no box drawing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from pathlib import Path
from types import TracebackType

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from gh_jobs_async import Client, Job, LogEvent, LogResult, LogStatus


def human_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # pragma: no cover


def human_duration(seconds: float | None) -> str:
    """``125`` -> ``2m05s``; ``None`` -> ``-``."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Output:
    """stdout, rich when it is a terminal, plain otherwise."""

    def __init__(self) -> None:
        self.plain = not sys.stdout.isatty()
        self.console = Console(
            highlight=False, no_color=self.plain, soft_wrap=self.plain, emoji=False
        )

    def line(self, text: str) -> None:
        """Print a line as it is (no markup)."""
        self.console.print(text, markup=False, highlight=False)

    def table(self, table: Table) -> None:
        """Print a table; ASCII-free and borderless when plain."""
        if self.plain:
            table.box = None
        self.console.print(table)

    def job(self, job: Job) -> None:
        """A readable summary of one job and its steps."""
        self.line(f"{job.name}  (job {job.id}, run {job.run_id}, attempt {job.run_attempt or 1})")
        self.line(f"  status      {job.status} / {job.conclusion or '-'}")
        self.line(f"  workflow    {job.workflow_name or '-'} on {job.head_branch or '-'}")
        self.line(f"  started     {job.started_at:%Y-%m-%d %H:%M:%S %Z}")
        self.line(f"  duration    {human_duration(job.duration)}")
        self.line(f"  runner      {job.runner_name or '-'} ({', '.join(job.labels) or '-'})")
        self.line(f"  url         {job.html_url or job.url}")
        table = Table(box=box.SIMPLE, title=None)
        for column in ("#", "step", "status", "conclusion", "duration"):
            table.add_column(column)
        for step in job.steps:
            took = (
                (step.completed_at - step.started_at).total_seconds()
                if step.started_at and step.completed_at
                else None
            )
            table.add_row(
                str(step.number),
                step.name,
                str(step.status),
                str(step.conclusion or "-"),
                human_duration(took),
            )
        self.table(table)

    def jobs_table(self, jobs: list[Job], *, title: str) -> None:
        """id, name, status, conclusion, duration, runner."""
        table = Table(title=f"{title}: {len(jobs)} jobs", box=box.SIMPLE_HEAD)
        for column in ("id", "name", "status", "conclusion", "duration", "runner"):
            table.add_column(column, no_wrap=column == "id")
        for job in jobs:
            table.add_row(
                str(job.id),
                job.name,
                str(job.status),
                str(job.conclusion or "-"),
                human_duration(job.duration),
                job.runner_name or "-",
            )
        self.table(table)


class HarvestDisplay:
    """Live progress of a harvest (jobs, bytes, throughput, rate limit, waits) and its summary."""

    def __init__(self, client: Client, out_dir: Path) -> None:
        self.client = client
        self.out_dir = out_dir
        self.output = Output()
        self.counts: Counter[LogStatus] = Counter()
        self.failures: list[LogResult] = []
        self.queued = 0
        self.bytes = 0
        self.started = time.perf_counter()
        self._progress: Progress | None = None
        self._task_id: TaskID | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HarvestDisplay:
        self.started = time.perf_counter()
        if not self.output.plain:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]harvest"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} jobs"),
                TextColumn("{task.fields[size]}"),
                TextColumn("{task.fields[speed]}"),
                TextColumn("[cyan]{task.fields[api]}"),
                TimeElapsedColumn(),
                console=self.output.console,
                transient=False,
            )
            self._task_id = self._progress.add_task(
                "harvest", total=0, size="0 B", speed="", api=""
            )
            self._progress.start()
            self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._refresh()
        if self._progress is not None:
            self._progress.stop()

    def event(self, event: LogEvent) -> None:
        """The harvest's progress hook."""
        if event.kind == "queued":
            self.queued += 1
        elif event.kind == "bytes":
            self.bytes += event.nbytes

    def result(self, result: LogResult) -> None:
        """Count one finished job; in plain mode, say so when it did not end well."""
        self.counts[result.status] += 1
        if not result.ok:
            self.failures.append(result)
            if self.output.plain:
                self.output.line(f"job {result.job_id}: {result.status}: {_reason(result)}")

    @property
    def all_ok(self) -> bool:
        """Every log harvested or skipped."""
        return not self.failures

    async def _tick(self) -> None:
        while True:
            self._refresh()
            await asyncio.sleep(0.2)

    def _refresh(self) -> None:
        if self._progress is None or self._task_id is None:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        rate = self.client.rate_limit
        api = f"API {rate.remaining}/{rate.limit}" if rate else "API"
        paused = self.client.paused_for
        if paused > 0:
            api += f" · GitHub asks us to wait {paused:.0f}s"
        self._progress.update(
            self._task_id,
            total=max(self.queued, 1),
            completed=sum(self.counts.values()),
            size=human_bytes(self.bytes),
            speed=f"{human_bytes(self.bytes / elapsed)}/s",
            api=api,
        )

    def summary(self) -> None:
        """The closing table: jobs per status, bytes, time, and every job that did not arrive."""
        elapsed = time.perf_counter() - self.started
        table = Table(title=f"harvest into {self.out_dir}", box=box.SIMPLE_HEAD)
        table.add_column("status")
        table.add_column("jobs", justify="right")
        for status in LogStatus:
            table.add_row(str(status), str(self.counts.get(status, 0)))
        table.add_row("total", str(sum(self.counts.values())))
        self.output.table(table)
        self.output.line(
            f"{human_bytes(self.bytes)} in {elapsed:.1f} s "
            f"({human_bytes(self.bytes / max(elapsed, 1e-6))}/s)"
        )
        if self.failures:
            failed = Table(title="jobs without a log", box=box.SIMPLE_HEAD)
            for column in ("job", "status", "reason"):
                failed.add_column(column)
            for result in sorted(self.failures, key=lambda r: r.job_id):
                failed.add_row(str(result.job_id), str(result.status), _reason(result))
            self.output.table(failed)


def _reason(result: LogResult) -> str:
    return str(result.error) if result.error is not None else str(result.status)
