"""What ``gh-jobs`` shows: job summaries, job tables, the live harvest display (rich).

Imported only by :mod:`gh_jobs_async.cli`, and only when a command runs, so the
library itself never needs rich. When stdout is not a terminal everything is
plain text: no colours or other escape codes, no live display, no box drawing,
no wrapping; tables are columns separated by two spaces.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from rich import box
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from gh_jobs_async import Client, Job, LogEvent, LogResult, LogStatus, WorkflowRun

#: Seconds of history behind the throughput figure of the live display.
SPEED_WINDOW = 5.0
#: Seconds between progress lines on stderr when stdout is not a terminal.
PLAIN_REPORT_EVERY = 10.0


def human_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # pragma: no cover


def human_duration(seconds: float | None) -> str:
    """``125`` -> ``2m05s``; ``3725`` -> ``1h02m05s``; ``None`` -> ``-``."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]

    def render(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([render(headers), *(render(row) for row in rows)])


class Output:
    """stdout, rich when it is a terminal, plain otherwise."""

    def __init__(self) -> None:
        self.plain = not sys.stdout.isatty()
        self.console = Console(
            highlight=False,
            emoji=False,
            # plain means plain, whatever FORCE_COLOR or TTY_COMPATIBLE say
            force_terminal=False if self.plain else None,
            color_system=None if self.plain else "auto",
        )

    def line(self, text: str) -> None:
        """Print a line as it is: no markup, never wrapped (JSON stays one line)."""
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        title: str | None = None,
        right: Sequence[int] = (),
    ) -> None:
        """A table: rich with a header rule on a terminal, aligned plain columns otherwise."""
        if title is not None:
            self.console.print(title, markup=False, highlight=False, soft_wrap=True, style="bold")
        if self.plain:
            self.line(plain_table(headers, rows, set(right)))
            return
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
        for i, header in enumerate(headers):
            table.add_column(header, justify="right" if i in right else "left")
        for row in rows:
            table.add_row(*row)
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
        rows = []
        for step in job.steps:
            took = (
                (step.completed_at - step.started_at).total_seconds()
                if step.started_at and step.completed_at
                else None
            )
            rows.append(
                [
                    str(step.number),
                    step.name,
                    str(step.status),
                    str(step.conclusion or "-"),
                    human_duration(took),
                ]
            )
        self.table(
            ("#", "step", "status", "conclusion", "duration"),
            rows,
            title=f"{len(rows)} steps",
            right=(0,),
        )

    def jobs_table(self, jobs: list[Job], *, title: str) -> None:
        """id, name, status, conclusion, duration, runner."""
        rows = [
            [
                str(job.id),
                job.name,
                str(job.status),
                str(job.conclusion or "-"),
                human_duration(job.duration),
                job.runner_name or "-",
            ]
            for job in jobs
        ]
        self.table(
            ("id", "name", "status", "conclusion", "duration", "runner"),
            rows,
            title=f"{title}: {len(jobs)} jobs",
        )

    def runs_table(self, runs: list[WorkflowRun], *, title: str) -> None:
        """id, workflow, branch, event, status, conclusion, created, title."""
        rows = [
            [
                str(run.id),
                run.path.split("@", 1)[0].rsplit("/", 1)[-1],
                run.head_branch or "-",
                run.event,
                str(run.status or "-"),
                str(run.conclusion or "-"),
                f"{run.created_at:%Y-%m-%d %H:%M:%S}",
                run.display_title,
            ]
            for run in runs
        ]
        self.table(
            ("id", "workflow", "branch", "event", "status", "conclusion", "created (UTC)", "title"),
            rows,
            title=f"{title}: {len(runs)} runs",
        )


class HarvestDisplay:
    """Live progress of a harvest (jobs, bytes, throughput, rate limit, waits) and its summary.

    On a terminal a rich progress bar; otherwise a progress line on stderr every
    :data:`PLAIN_REPORT_EVERY` seconds. :meth:`event` is the harvest's progress
    hook, :meth:`result` takes each result, :meth:`listing_done` says the total
    is final, :meth:`expect` announces jobs before they are queued.
    """

    def __init__(self, client: Client, out_dir: Path) -> None:
        self.client = client
        self.out_dir = out_dir
        self.output = Output()
        self.counts: Counter[LogStatus] = Counter()
        self.failures: list[LogResult] = []
        self.never_ran: list[int] = []  # not_available jobs that never ran: not failures
        self.queued = 0
        self.bytes = 0
        self.retries = 0
        self.expected = 0
        self.listed = False
        self.started = time.perf_counter()
        self._samples: deque[tuple[float, int]] = deque()
        self._last_report = self.started
        self._progress: _TwoLineProgress | None = None
        self._task_id: TaskID | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HarvestDisplay:
        self.started = self._last_report = time.perf_counter()
        if not self.output.plain:
            self._progress = _TwoLineProgress(
                SpinnerColumn(),
                TextColumn("[bold]harvest"),
                BarColumn(bar_width=30),
                TextColumn("{task.fields[jobs]}"),
                TimeElapsedColumn(),
                console=self.output.console,
                transient=False,
            )
            self._task_id = self._progress.add_task("harvest", total=None, jobs="0 jobs")
            self._refresh()
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
            # gather, not suppress(CancelledError): a Ctrl-C arriving now must not be swallowed
            await asyncio.gather(self._ticker, return_exceptions=True)
        self._refresh()
        if self._progress is not None:
            self._progress.stop()

    def event(self, event: LogEvent) -> None:
        """The harvest's progress hook."""
        if event.kind == "queued":
            self.queued += 1
        elif event.kind == "bytes":
            self.bytes += event.nbytes
        elif event.kind == "retry":
            self.retries += 1

    def expect(self, jobs: int, *, final: bool) -> None:
        """``jobs`` more are coming (a listing's ``total_count``); ``final``: no more after."""
        self.expected += jobs
        self.listed = self.listed or final

    def listing_done(self) -> None:
        """Every job is queued: the total shown is final (and exact, duplicates dropped)."""
        self.listed = True
        self.expected = 0

    @property
    def total(self) -> int:
        """Jobs in the harvest as far as known now."""
        return max(self.queued, self.expected)

    def result(self, result: LogResult) -> None:
        """Count one finished job; on a terminal, say so at once when it did not end well."""
        self.counts[result.status] += 1
        if result.never_ran:  # skipped, or cancelled before it ran: no log by nature
            self.never_ran.append(result.job_id)
        elif not result.ok:
            self.failures.append(result)
            if self._progress is not None:  # above the live bar; plain output has the summary
                self._progress.console.print(
                    f"[red]job {result.job_id}: {result.status}[/]: {escape(_reason(result))}",
                    highlight=False,
                )

    @property
    def done(self) -> int:
        """Jobs finished, whatever their status."""
        return sum(self.counts.values())

    @property
    def all_ok(self) -> bool:
        """Every log harvested or skipped."""
        return not self.failures

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            self._refresh()

    def _speed(self, now: float) -> float:
        """Bytes per second over the last :data:`SPEED_WINDOW` seconds."""
        self._samples.append((now, self.bytes))
        while len(self._samples) > 2 and now - self._samples[1][0] >= SPEED_WINDOW:
            self._samples.popleft()
        then, before = self._samples[0]
        if now - then < 0.5:  # too short a window: the average so far
            then, before = self.started, 0
        return (self.bytes - before) / max(now - then, 1e-6)

    def _status(self, speed: str, *, rich: bool) -> tuple[str, str]:
        """``(jobs, transfer)``: ``12/340+ jobs`` (``+`` while listing), then bytes,
        throughput, the rate limit left and any wait GitHub asked for."""
        more = "" if self.listed else "+"
        jobs = f"{self.done}/{self.total}{more} jobs"
        if self.failures:
            failed = f"{len(self.failures)} without log"
            jobs += f" · [red]{failed}[/]" if rich else f", {failed}"
        if self.retries:
            jobs += f" · {self.retries} retries" if rich else f", {self.retries} retries"
        rate = self.client.rate_limit
        parts = [human_bytes(self.bytes), speed]
        parts.append(f"API {rate.remaining}/{rate.limit} left" if rate else "API -")
        paused = self.client.paused_for
        if paused > 0:
            wait = f"GitHub asks us to wait {math.ceil(paused)}s"
            parts.append(f"[yellow]{wait}[/]" if rich else wait)
        return jobs, (" · " if rich else ", ").join(parts)

    def _refresh(self) -> None:
        now = time.perf_counter()
        speed = f"{human_bytes(self._speed(now))}/s"
        if self._progress is None or self._task_id is None:
            if now - self._last_report >= PLAIN_REPORT_EVERY:
                self._last_report = now
                jobs, transfer = self._status(speed, rich=False)
                sys.stderr.write(f"gh-jobs: {jobs}, {transfer}\n")
                sys.stderr.flush()
            return
        jobs, transfer = self._status(speed, rich=True)
        self._progress.status = Text.from_markup(f"  [cyan]{transfer}[/]")
        self._progress.update(
            self._task_id,
            total=self.total if self.listed else None,
            completed=self.done,
            jobs=jobs,
        )

    def summary(self, *, interrupted: bool = False) -> None:
        """The closing table: jobs per status, bytes, time, and every job that did not arrive."""
        elapsed = time.perf_counter() - self.started
        rows = [[str(status), str(self.counts.get(status, 0))] for status in LogStatus]
        rows.append(["total", str(self.done)])
        what = "interrupted harvest" if interrupted else "harvest"
        self.output.table(("status", "jobs"), rows, title=f"{what} into {self.out_dir}", right=(1,))
        if self.bytes:
            speed = human_bytes(self.bytes / max(elapsed, 1e-6))
            self.output.line(f"{human_bytes(self.bytes)} downloaded in {elapsed:.1f} s ({speed}/s)")
        else:
            self.output.line(f"nothing downloaded ({elapsed:.1f} s)")
        if self.never_ran:
            ids = sorted(self.never_ran)
            shown = " ".join(map(str, ids[:_NAMED_MAX]))
            more = f" and {len(ids) - _NAMED_MAX} more" if len(ids) > _NAMED_MAX else ""
            self.output.line(
                f"{len(ids)} jobs never ran (skipped, or cancelled before a runner took "
                f"them), so have no log and none was asked for: {shown}{more}"
            )
        if self.failures:
            failed = sorted(self.failures, key=lambda r: r.job_id)
            self.output.table(
                ("job", "status", "reason"),
                [[str(r.job_id), str(r.status), _reason(r)] for r in failed],
                title=f"{len(failed)} jobs without a log",
            )


#: Jobs that never ran named in the summary, at most (a bulk harvest can have thousands).
_NAMED_MAX = 20


class _TwoLineProgress(Progress):
    """The progress bar on one line, a status line (bytes, speed, rate limit, waits) below."""

    status: Text = Text()  # replaced (never mutated) by HarvestDisplay

    def get_renderables(self) -> Iterable[RenderableType]:
        """The bar's table, then the status line."""
        yield self.make_tasks_table(self.tasks)
        yield self.status


_REASONS = {
    LogStatus.NOT_AVAILABLE: "404: the job is queued, running, or never ran",
    LogStatus.GONE: "410: the log expired or was deleted",
}


def _reason(result: LogResult) -> str:
    """Why a job has no log, in one short line."""
    if result.status in _REASONS:
        return _REASONS[result.status]
    return str(result.error) if result.error is not None else str(result.status)
