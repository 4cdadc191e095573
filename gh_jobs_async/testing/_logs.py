"""Deterministic, streamable job logs that look like the ones GitHub Actions serves.

A log is ``head + body + tail`` and exactly `LogSpec.size` bytes long:

* ``head`` is job-specific (UTF-8 BOM on the first line only, runner banner, job name),
* ``body`` repeats one seeded template block of about 256 KiB; each repetition gets its own
  minute in every timestamp and its own shard counter (one ``bytes.join`` over the
  pre-split template, plus a small LRU cache of stamped blocks), never a line-by-line format,
* ``tail`` closes the job (with ``##[error]`` lines when it failed).

Lines follow the runner's format, ``2020-01-20T17:42:40.1234567Z message`` with seven
fractional digits; continuation lines carry no timestamp; ANSI colour codes and
``##[group]`` / ``##[endgroup]`` / ``##[debug]`` markers appear as in real logs. The last
partial block is cut at a line end and padded with a line of spaces; logs too short for
``head + tail`` are a trimmed copy of those (cut on a UTF-8 boundary, ending in ``\\n``).
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from gh_jobs_async.testing._steplog import StepPlan, render, setup_lines, step_sections

__all__ = ["BOM", "LogSpec", "StepPlan", "iter_log", "line_steps", "log_bytes", "log_sha256"]

BOM = b"\xef\xbb\xbf"
_MINUTE = b"\x00" * 16  # becomes "YYYY-MM-DDTHH:MM" per block
_COUNTER = b"\x01" * 6  # becomes a zero-padded block counter
_BLOCK_TARGET = 256 * 1024

_MODULES = ("api", "cli", "client", "logs", "models", "paginate", "session", "sansio")
_WORDS = ("retry", "timeout", "redirect", "header", "page", "limit", "stream", "decode")
_PACKAGES = ("aiohttp-3.9.5", "attrs-23.2.0", "cattrs-23.2.3", "yarl-1.9.4", "idna-3.7")


@dataclass(frozen=True)
class LogSpec:
    """What determines one job's log; equal specs give byte-identical logs."""

    job_id: int
    size: int
    name: str
    failed: bool
    started: datetime
    runner_name: str
    seed: int = 0
    #: The steps that ran, in order; with them the log is laid out step by step
    #: (see `gh_jobs_async.testing._steplog`), without them as one job-wide block.
    steps: tuple[StepPlan, ...] = ()

    @functools.cached_property
    def layout(self) -> _Layout:
        """Head and tail of a step-shaped log, the step of each of their lines, step times."""
        head_sections, tail_sections = step_sections(
            self.steps, job_id=self.job_id, name=self.name, runner_name=self.runner_name
        )
        rng = random.Random(f"gh-jobs-fake-steptimes:{self.job_id}")
        gaps = [rng.choice((0.2, 0.6, 1.5, 3.0, 5.0)) for _ in head_sections + tail_sections]
        head, head_owners, firsts = render(head_sections, self.started, gaps[: len(head_sections)])
        head_end = self.started
        if head_sections:
            head_end = firsts[-1] + timedelta(seconds=head_sections[-1].lines[-1][0])
        base = head_end.replace(second=0, microsecond=0) + timedelta(minutes=1)
        blocks = max(0, self.size - len(head) - 3) // len(_template(self.seed)) + 1
        tail_start = base + timedelta(minutes=blocks, seconds=1)
        tail, tail_owners, tail_firsts = render(
            tail_sections, tail_start, gaps[len(head_sections) :]
        )
        starts: dict[int, datetime] = {}
        for section, first in zip(head_sections + tail_sections, firsts + tail_firsts, strict=True):
            starts.setdefault(section.number, first)
        last = tail_firsts[-1] if tail_firsts else head_end
        if tail_sections:
            last += timedelta(seconds=tail_sections[-1].lines[-1][0])
        return _Layout(BOM + head, tuple(head_owners), tail, tuple(tail_owners), base, starts, last)

    @functools.cached_property
    def head(self) -> bytes:
        """The job-specific opening lines, BOM first."""
        if self.steps:
            return self.layout.head
        t = self.started
        lines = setup_lines(self.job_id, self.name, self.runner_name)
        text = "".join(f"{_stamp(t, i * 0.0137)} {line}\n" for i, line in enumerate(lines)).encode(
            "utf-8", "surrogatepass"
        )
        return BOM + text

    @functools.cached_property
    def tail(self) -> bytes:
        """The closing lines; failed jobs end with ``##[error]``."""
        if self.steps:
            return self.layout.tail
        blocks = max(0, self.size - len(self.head)) // len(_template(self.seed)) + 2
        t = self.started + timedelta(minutes=blocks)
        lines = []
        if self.failed:
            lines += [
                "##[error]Process completed with exit code 1.",
                "##[group]Run actions/upload-artifact@v4",
                "\x1b[31;1mNo files were found with the provided path: report.xml\x1b[0m",
                "##[endgroup]",
            ]
        lines += ["Post job cleanup.", "Cleaning up orphan processes"]
        return "".join(f"{_stamp(t, i * 0.0113)} {line}\n" for i, line in enumerate(lines)).encode()

    def block(self, index: int) -> bytes:
        """Body block ``index``: the template stamped with its minute and counter."""
        first = self.layout.body_minute if self.steps else self.started + timedelta(minutes=1)
        minute = (first + timedelta(minutes=index)).strftime("%Y-%m-%dT%H:%M")
        return _block(self.seed, minute.encode("ascii"), index % 1_000_000)


@dataclass(frozen=True)
class _Layout:
    head: bytes
    head_steps: tuple[int, ...]  # the step number of each line of ``head``
    tail: bytes
    tail_steps: tuple[int, ...]
    body_minute: datetime  # the minute of the first body block
    starts: dict[int, datetime]  # step number -> time of its first line
    last: datetime  # time of the log's last line


@functools.lru_cache(maxsize=4)
def _template_parts(seed: int) -> tuple[bytes, ...]:
    return tuple(_template(seed).split(_MINUTE))


@functools.lru_cache(maxsize=64)
def _block(seed: int, minute: bytes, counter: int) -> bytes:
    """A stamped block; cached because jobs of one run mostly start in the same minute."""
    data = minute.join(_template_parts(seed))
    return data.replace(_COUNTER, b"%06d" % counter, 1)  # it sits in the first line


def _stamp(t: datetime, offset: float) -> str:
    """The runner's ``DateTime.ToString("O")``: seven fractional digits and ``Z``."""
    t = t + timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond * 10 + 7:07d}Z"


@functools.lru_cache(maxsize=4)
def _template(seed: int) -> bytes:
    """A seeded block of ASCII log lines with `_MINUTE` / `_COUNTER` placeholders."""
    rng = random.Random(f"gh-jobs-fake-log-template:{seed}")
    messages: list[tuple[bool, bytes]] = []  # (timestamped, message)
    size = 0
    while size < _BLOCK_TARGET:
        for stamped, msg in _group(rng, len(messages) == 0):
            messages.append((stamped, msg))
            size += len(msg) + 30
    stamped_count = sum(1 for stamped, _ in messages if stamped)
    seconds = sorted(rng.randrange(60 * 10_000_000) for _ in range(stamped_count))
    out = bytearray()
    it = iter(seconds)
    for stamped, msg in messages:
        if stamped:
            tick = next(it)
            out += b"%s:%02d.%07dZ " % (_MINUTE, tick // 10_000_000, tick % 10_000_000)
        out += msg + b"\n"
    return bytes(out)


def _group(rng: random.Random, first: bool) -> list[tuple[bool, bytes]]:
    """One ``##[group]pytest ...`` group with its output lines (a user's group, not a step)."""
    module = rng.choice(_MODULES)
    lines: list[tuple[bool, bytes]] = []
    if first:
        lines.append((True, b"##[group]pytest -q --shard " + _COUNTER))
    else:
        lines.append((True, b"##[group]pytest -q tests/test_%s.py" % module.encode()))
    lines += [
        (True, b"\x1b[36;1mpython -m pytest -q tests/\x1b[0m"),
        (True, b"shell: /usr/bin/bash -e {0}"),
        (True, b"env:"),
        (True, b"  pythonLocation: /opt/hostedtoolcache/Python/3.12.4/x64"),
        (True, b"##[endgroup]"),
        (True, b"##[debug]Evaluating condition for step: 'Run tests'"),
    ]
    for _ in range(rng.randrange(3, 6)):
        package = rng.choice(_PACKAGES).encode()
        lines.append((True, b"Collecting %s (from -r requirements.txt (line 3))" % package))
    for n in range(rng.randrange(20, 60)):
        word = rng.choice(_WORDS).encode()
        pct = rng.randrange(100)
        lines.append(
            (
                True,
                b"tests/test_%s.py::test_%s_%d \x1b[32mPASSED\x1b[0m [%3d%%]"
                % (module.encode(), word, n, pct),
            )
        )
    if rng.random() < 0.5:
        lines += [
            (True, b"\x1b[33mWARNING\x1b[0m: retrying after transient error:"),
            (False, b"  Traceback (most recent call last):"),
            (False, b'    File "/home/runner/work/app/app/src/%s.py", line 42' % module.encode()),
            (False, b"  ConnectionResetError: [Errno 104] Connection reset by peer"),
        ]
    lines.append((True, b"\x1b[32m==== %d passed in 3.21s ====\x1b[0m" % rng.randrange(20, 60)))
    return lines


def _trimmed(data: bytes, size: int) -> bytes:
    """``data`` cut to exactly ``size`` bytes on a UTF-8 boundary, ending with a newline."""
    if size <= 0:
        return b""
    cut = data[: size - 1].decode("utf-8", "ignore").encode("utf-8", "surrogatepass")
    return cut + b" " * (size - 1 - len(cut)) + b"\n"


def _partial(block: bytes, length: int) -> bytes:
    """The first ``length`` bytes of ``block``, its last line replaced by padding."""
    cut = block.rfind(b"\n", 0, length) + 1
    pad = length - cut
    return block[:cut] + (b" " * (pad - 1) + b"\n" if pad else b"")


def _segment_at(spec: LogSpec, pos: int) -> tuple[int, bytes]:
    """The (start offset, bytes) of the segment holding byte ``pos``."""
    head, tail = spec.head, spec.tail
    body = spec.size - len(head) - len(tail)
    if body < 0:
        return 0, _trimmed(head + tail, spec.size)
    if pos < len(head):
        return 0, head
    block_size = len(_template(spec.seed))
    full, rest = divmod(body, block_size)
    index = (pos - len(head)) // block_size
    start = len(head) + index * block_size
    if index < full:
        return start, spec.block(index)
    if pos < len(head) + body:
        return start, _partial(spec.block(index), rest)
    return len(head) + body, tail


def iter_log(
    spec: LogSpec, start: int = 0, end: int | None = None, chunk_size: int = 64 * 1024
) -> Iterator[memoryview]:
    """Yield bytes ``[start, end)`` of the log in pieces of at most ``chunk_size`` bytes.

    Memory stays bounded by one block whatever the size; pieces are views on fresh bytes.
    """
    stop = spec.size if end is None else min(end, spec.size)
    pos = max(0, start)
    while pos < stop:
        seg_start, segment = _segment_at(spec, pos)
        hi = min(len(segment), stop - seg_start)
        view = memoryview(segment)
        for lo in range(pos - seg_start, hi, chunk_size):
            yield view[lo : min(lo + chunk_size, hi)]
        pos = seg_start + hi


def log_bytes(spec: LogSpec) -> bytes:
    """The whole log in memory (fine for tests, not for the 512 MiB benchmark)."""
    return b"".join(iter_log(spec, chunk_size=1 << 20))


def log_sha256(spec: LogSpec) -> str:
    """Hex SHA-256 of the log, computed by streaming generation."""
    digest = hashlib.sha256()
    for piece in iter_log(spec, chunk_size=1 << 20):
        digest.update(piece)
    return digest.hexdigest()


def line_steps(spec: LogSpec) -> list[int]:
    """The step number of every line of a step-shaped log, in order (empty without steps).

    Lines are split on ``\\n``; continuation lines count as lines of their own. Memory
    grows with the number of lines: meant for tests, not for the 512 MiB benchmark.
    """
    if not spec.steps:
        return []
    lay = spec.layout
    owners = lay.head_steps + lay.tail_steps
    body = spec.size - len(lay.head) - len(lay.tail)
    if body < 0:
        data = _trimmed(lay.head + lay.tail, spec.size)
        return list(owners[: data.count(b"\n")])
    start, end = len(lay.head), spec.size - len(lay.tail)
    body_lines = sum(bytes(piece).count(b"\n") for piece in iter_log(spec, start, end, 1 << 20))
    bulk = next((step.number for step in spec.steps if step.bulk), spec.steps[-1].number)
    return [*lay.head_steps, *([bulk] * body_lines), *lay.tail_steps]
