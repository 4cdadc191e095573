"""``gh-jobs view OWNER/REPO JOB_ID --log``: print a job's log as it streams (CLI only).

Part of the command line, like ``_cli_output``: it prints, and uses the public API plus
the pure log-text module. Lines go to stdout as UTF-8 bytes; colours pass through on a
terminal and are stripped otherwise (or with ``NO_COLOR``); a closed pipe (``| head``)
ends the command quietly with status 0.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

from gh_jobs_async import Client, InvalidArgumentError, Job, LogLine, Step, strip_ansi

from ._logsteps import FAILED_STEP_CONCLUSIONS, StepCursor, ran

__all__ = ["add_view_parser", "run_view"]


class _PipeClosed(Exception):
    """stdout's reader went away (``| head``): stop reading, exit 0."""


def add_view_parser(view: argparse.ArgumentParser) -> None:
    """The arguments of ``gh-jobs view``."""
    view.add_argument("repository", metavar="OWNER/REPO")
    view.add_argument("job_id", metavar="JOB_ID", type=int)
    view.add_argument("--log", action="store_true", help="print the job's log")
    view.add_argument(
        "--failed",
        action="store_true",
        help="only the failed steps' lines, each prefixed with its step's name",
    )
    view.add_argument("--step", metavar="N|NAME", help="only the lines of one step")
    view.add_argument(
        "--tail",
        type=int,
        metavar="N",
        help="only the last N entries (a line and its continuation lines)",
    )
    view.add_argument(
        "--timestamps",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep each line's timestamp (default: on)",
    )


def pick_step(job: Job, wanted: str) -> Step:
    """The step ``wanted`` names, by number or exact name; InvalidArgumentError if none."""
    for step in job.steps:
        if (wanted.isdecimal() and step.number == int(wanted)) or step.name == wanted:
            return step
    names = ", ".join(f"{s.number}: {s.name}" for s in job.steps) or "none"
    raise InvalidArgumentError("--step", wanted, f"job {job.id} has no such step ({names})")


def nothing_to_show(job: Job, wanted: set[int]) -> str | None:
    """Why the ``wanted`` steps of ``job`` can have no line (none failed, or one did not run)."""
    if not wanted:
        conclusions = ", ".join(sorted(FAILED_STEP_CONCLUSIONS))
        return f"job {job.id} has no failed step (none concluded {conclusions})"
    steps = [s for s in job.steps if s.number in wanted]
    if len(steps) == 1 and not ran(steps[0]):
        step = steps[0]
        return f"step {step.number} ({step.name}) did not run ({step.conclusion}): it has no lines"
    return None


def render(entry: LogLine, *, timestamps: bool, colour: bool, prefix: str = "") -> bytes:
    """An entry as output lines: optional timestamp, colours kept or stripped, a prefix."""
    text = entry.text if colour else strip_ansi(entry.text)
    lines = text.split("\n")
    if timestamps and entry.raw_timestamp is not None:
        lines[0] = f"{entry.raw_timestamp} {lines[0]}"
    return "".join(f"{prefix}{line}\n" for line in lines).encode("utf-8", "replace")


class _Out:
    """stdout as bytes; a closed pipe becomes `_PipeClosed`."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except BrokenPipeError:
            raise _PipeClosed from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise _PipeClosed from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot complain."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


async def run_view(client: Client, owner: str, repo: str, args: argparse.Namespace) -> int:
    """Print what ``args`` asks for; 0, also when the reader of stdout went away."""
    out = _Out(sys.stdout.buffer)
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    try:
        await _view(client, owner, repo, args, out, colour)
        out.flush()
    except _PipeClosed:
        _silence_stdout()
    return 0


async def _view(  # noqa: PLR0917 - the command's whole context
    client: Client, owner: str, repo: str, args: argparse.Namespace, out: _Out, colour: bool
) -> None:
    timestamps = bool(args.timestamps)
    if args.tail is not None and not args.failed and args.step is None:
        for entry in await client.tail_log(owner, repo, args.job_id, lines=args.tail):
            out.write(render(entry, timestamps=timestamps, colour=colour))
        return
    job: Job | None = None
    wanted: set[int] | None = None
    if args.failed or args.step is not None:
        job = await client.get_job(owner, repo, args.job_id)
        wanted = _wanted(job, args.step)
        note = nothing_to_show(job, wanted)
        if note is not None:  # no line to print: say why rather than print nothing
            sys.stderr.write(f"gh-jobs: {note}\n")
            return
    kept: collections.deque[bytes] | None = None
    if args.tail is not None:
        kept = collections.deque(maxlen=args.tail)
    cursor = StepCursor(job) if job is not None else None
    async with client.open_log(owner, repo, args.job_id) as log:
        async for entry in log.entries():
            for data in _select(entry, cursor, wanted, args.failed, timestamps, colour):
                if kept is not None:
                    kept.append(data)
                else:
                    out.write(data)
    for data in kept or ():
        out.write(data)
    if job is not None and cursor is not None:
        _warn_if_unsure(job, cursor)


def _wanted(job: Job, step: str | None) -> set[int]:
    """The numbers of the steps to print: ``step``'s, or the failed ones."""
    if step is not None:
        return {pick_step(job, step).number}
    return {s.number for s in job.steps if str(s.conclusion) in FAILED_STEP_CONCLUSIONS}


def _select(  # noqa: PLR0917 - one entry's whole context
    entry: LogLine,
    cursor: StepCursor | None,
    wanted: set[int] | None,
    prefixed: bool,
    timestamps: bool,
    colour: bool,
) -> Iterator[bytes]:
    if cursor is None or wanted is None:
        yield render(entry, timestamps=timestamps, colour=colour)
        return
    step = cursor.assign(entry)
    if step is None or step.number not in wanted:
        return
    prefix = f"{step.name}\t" if prefixed else ""
    yield render(entry, timestamps=timestamps, colour=colour, prefix=prefix)


def _warn_if_unsure(job: Job, cursor: StepCursor) -> None:
    """One line on stderr unless every step that ran was found by its boundary."""
    if cursor.sure():
        return
    expected = sum(1 for step in job.steps if ran(step))
    found = f"the log has {cursor.boundaries} step boundaries for {expected} steps that ran"
    how = f"{cursor.rejected} matched no step near its time" if cursor.rejected else ""
    missing = sum(1 for s in cursor.steps if cursor.method_of(s) != "markers+time")
    if missing:
        how = ", ".join(filter(None, [how, f"{missing} steps were found by time alone"]))
    sys.stderr.write(
        f"gh-jobs: warning: {found} ({how}); lines were assigned by boundaries near each "
        "step's start time and by time windows, and may be in the wrong step\n"
    )
