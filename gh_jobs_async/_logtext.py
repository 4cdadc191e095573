"""The text of a job log, without I/O: lines, entries, markers, tail windows and steps.

A runner log line is ``YYYY-MM-DDTHH:MM:SS.fffffffZ message`` (seven fractional digits,
``DateTime.ToString("O")``); lines of a multi-line message after the first carry no
timestamp and continue the previous entry. Bytes are split on ``\\n`` (one trailing ``\\r``
dropped) and decoded as UTF-8 with invalid bytes replaced: the blob host sends
``text/plain`` with no charset, and the runner writes UTF-8. A U+FEFF at the start of a
line is dropped (logs start with one). See ``docs/github-api.md`` sections 6 and 12.

Also the arithmetic of reading a log from the end (:class:`TailCollector`,
:func:`tail_windows`) and of resuming one (:func:`judge_range`). Steps are in
``_logsteps``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Literal

import attrs

__all__ = [
    "DEFAULT_MAX_LINE",
    "EntryAssembler",
    "LineSplitter",
    "LogLine",
    "RangeAnswer",
    "RawLine",
    "TailCollector",
    "content_range",
    "entries_of",
    "judge_range",
    "parse_line",
    "probe_range",
    "range_header",
    "strip_ansi",
    "tail_entries",
    "tail_windows",
]

#: Longest line kept, in bytes; a longer line is cut there and flagged ``truncated``.
DEFAULT_MAX_LINE = 1024 * 1024

_STAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{7})Z ")
_MARKER = re.compile(r"##\[([a-z]+)\]")
_MARKERS = frozenset(
    {"group", "endgroup", "error", "warning", "notice", "debug", "command", "section"}
)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


@attrs.frozen
class RawLine:
    """One line as bytes: its 1-based number (None if unknown), byte offset, content."""

    number: int | None
    offset: int
    data: bytes
    truncated: bool = False


@attrs.frozen
class LogLine:
    """One log entry: a timestamped line and the continuation lines after it.

    ``number`` is the 1-based line number of its first line (None when the log was read
    from the end and the count is unknown), ``offset`` that line's byte offset.
    ``raw_timestamp`` is the runner's 7-digit string, ``timestamp`` the same as an aware
    UTC datetime (to the microsecond); both None for a line without one. ``text`` is what
    follows the timestamp (continuation lines joined with ``\\n``), ``marker`` the
    workflow-command marker it opens with (``group``, ``endgroup``, ``error``,
    ``warning``, ``notice``, ``debug``, ``command``, ``section``), ``lines`` how many
    physical lines it spans, ``truncated`` whether a line was cut at the length bound.
    """

    number: int | None
    offset: int
    text: str
    raw_timestamp: str | None = None
    timestamp: datetime | None = None
    marker: str | None = None
    lines: int = 1
    truncated: bool = False

    @property
    def message(self) -> str:
        """``text`` without its ``##[marker]`` prefix."""
        if self.marker is None:
            return self.text
        if self.text.startswith("[command]"):
            return self.text[len("[command]") :]
        return self.text[len(self.marker) + 4 :]

    def plain(self) -> str:
        """``text`` with ANSI escape sequences removed."""
        return strip_ansi(self.text)


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (colours, cursor moves, OSC titles)."""
    return _ANSI.sub("", text) if "\x1b" in text else text


class LineSplitter:
    """Splits a byte stream into lines incrementally, with a bounded line length.

    Memory holds at most one partial line of ``max_line`` bytes; the rest of a longer
    line is skipped (counted for offsets) and the line flagged ``truncated``.
    """

    def __init__(
        self, *, max_line: int = DEFAULT_MAX_LINE, offset: int = 0, numbered: bool = True
    ) -> None:
        """Start at byte ``offset`` of the log, line 1 (or unnumbered lines)."""
        self.max_line = max_line
        self.numbered = numbered
        self.number = 1
        self.offset = offset  # where the pending line starts
        self._pending: list[bytes] = []
        self._kept = 0
        self._skipped = 0  # bytes of the pending line beyond max_line

    def feed(self, data: bytes) -> list[RawLine]:
        """The lines completed by ``data``."""
        parts = data.split(b"\n")
        out: list[RawLine] = []
        for part in parts[:-1]:
            self._add(part)
            out.append(self._emit(1))
        self._add(parts[-1])
        return out

    def finish(self) -> list[RawLine]:
        """The last line, if the stream did not end with a newline."""
        if not self._kept and not self._skipped:
            return []
        return [self._emit(0)]

    def _add(self, part: bytes) -> None:
        room = self.max_line - self._kept
        if len(part) > room:
            self._skipped += len(part) - max(room, 0)
            part = part[: max(room, 0)]
        if part:
            self._pending.append(part)
            self._kept += len(part)

    def _emit(self, newline: int) -> RawLine:
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        number = self.number if self.numbered else None
        line = RawLine(number, self.offset, data, truncated=self._skipped > 0)
        self.offset += self._kept + self._skipped + newline
        self.number += 1
        self._pending, self._kept, self._skipped = [], 0, 0
        return line


def decode(data: bytes) -> str:
    """A line's bytes as text: one trailing ``\\r`` dropped, invalid UTF-8 replaced, no BOM."""
    if data.endswith(b"\r"):
        data = data[:-1]
    text = data.decode("utf-8", "replace")
    return text[1:] if text.startswith("\ufeff") else text


def parse_line(raw: RawLine) -> LogLine:
    """One physical line as an entry of its own (timestamp, marker and text split apart)."""
    text = decode(raw.data)
    match = _STAMP.match(text)
    if match is None:
        return LogLine(raw.number, raw.offset, text, truncated=raw.truncated)
    year, month, day, hour, minute, second, fraction = map(int, match.groups())
    try:
        when = datetime(year, month, day, hour, minute, second, fraction // 10, tzinfo=UTC)
    except ValueError:  # looks like a timestamp, is not a date: plain text
        return LogLine(raw.number, raw.offset, text, truncated=raw.truncated)
    rest = text[match.end() :]
    return LogLine(
        raw.number,
        raw.offset,
        rest,
        raw_timestamp=match.group(0)[:-1],
        timestamp=when,
        marker=_marker_of(rest),
        truncated=raw.truncated,
    )


def _marker_of(text: str) -> str | None:
    if text.startswith("##["):
        match = _MARKER.match(text)
        if match is not None and match.group(1) in _MARKERS:
            return match.group(1)
    elif text.startswith("[command]"):  # the toolkit's exec helper
        return "command"
    return None


class EntryAssembler:
    """Joins continuation lines (no timestamp) to the entry before them.

    An entry grows to at most ``max_chars`` characters; past that, the next continuation
    line starts an entry of its own (no timestamp), so memory stays bounded.
    """

    def __init__(self, *, max_chars: int = DEFAULT_MAX_LINE) -> None:
        """An assembler with no entry pending."""
        self.max_chars = max_chars
        self._head: LogLine | None = None
        self._more: list[str] = []
        self._size = 0
        self._truncated = False

    def push(self, line: LogLine) -> LogLine | None:
        """Add one parsed line; returns the entry it completed, if any."""
        if self._head is not None and line.timestamp is None and self._size < self.max_chars:
            self._more.append(line.text)
            self._size += len(line.text) + 1
            self._truncated = self._truncated or line.truncated
            return None
        done = self.flush()
        self._head, self._size, self._truncated = line, len(line.text), line.truncated
        return done

    def flush(self) -> LogLine | None:
        """The pending entry, if any (call at the end of the log)."""
        head, more = self._head, self._more
        self._head, self._more = None, []
        if head is None or not more:
            return head
        text = "\n".join([head.text, *more])
        return attrs.evolve(head, text=text, lines=1 + len(more), truncated=self._truncated)


def entries_of(
    data: bytes, *, offset: int = 0, max_line: int = DEFAULT_MAX_LINE, numbered: bool = True
) -> list[LogLine]:
    """Every entry of a piece of log held in memory, starting at byte ``offset``."""
    splitter = LineSplitter(max_line=max_line, offset=offset)
    lines = splitter.feed(data) + splitter.finish()
    if not numbered:
        lines = [attrs.evolve(line, number=None) for line in lines]
    return list(_assemble(parse_line(line) for line in lines))


def _assemble(lines: Iterable[LogLine]) -> Iterator[LogLine]:
    assembler = EntryAssembler()
    for line in lines:
        done = assembler.push(line)
        if done is not None:
            yield done
    last = assembler.flush()
    if last is not None:
        yield last


class TailCollector:
    """Keeps the last ``count`` whole entries of a window read from byte ``start`` to the end.

    Streaming, in bounded memory. From the start of the log (``start == 0``) every entry
    is whole and numbered. From further in, the first line may be cut and lines before the
    first timestamp may continue an entry that began before the window: both are dropped,
    and line numbers are unknown (None).
    """

    def __init__(self, start: int, count: int, *, max_line: int = DEFAULT_MAX_LINE) -> None:
        """Collect for a window beginning at byte ``start``."""
        self.start, self.count, self.max_line = start, count, max_line
        self._seen = 0  # bytes dropped before the first whole line
        self._splitter: LineSplitter | None = None
        if start == 0:
            self._splitter = LineSplitter(max_line=max_line)
        self._assembler = EntryAssembler(max_chars=max_line)
        self._kept: deque[LogLine] = deque(maxlen=max(count, 1))
        self._whole = 0
        self._anchored = start == 0  # a timestamped entry has been seen

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the window."""
        if self._splitter is None:
            cut = data.find(b"\n")
            if cut < 0:
                self._seen += len(data)
                return
            offset = self.start + self._seen + cut + 1
            self._splitter = LineSplitter(max_line=self.max_line, offset=offset, numbered=False)
            data = data[cut + 1 :]
        for raw in self._splitter.feed(data):
            self._take(self._assembler.push(parse_line(raw)))

    def _take(self, entry: LogLine | None) -> None:
        if entry is None:
            return
        if not self._anchored and entry.timestamp is None:
            return
        self._anchored = True
        self._whole += 1
        self._kept.append(entry)

    def finish(self) -> list[LogLine] | None:
        """The last ``count`` entries, or None if the window held fewer whole ones."""
        if self._splitter is not None:
            for raw in self._splitter.finish():
                self._take(self._assembler.push(parse_line(raw)))
        self._take(self._assembler.flush())
        if self.count == 0:
            return []
        if self.start == 0 or self._whole >= self.count:
            return list(self._kept)
        return None


def tail_entries(data: bytes, start: int, count: int) -> list[LogLine] | None:
    """:class:`TailCollector` over a window held in memory."""
    collector = TailCollector(start, count)
    collector.feed(data)
    return collector.finish()


def tail_windows(size: int, first: int) -> Iterator[int]:
    """Start offsets of the windows to read for a tail: ``size - W`` for W doubling, down to 0."""
    window = max(1, first)
    while True:
        start = max(0, size - window)
        yield start
        if start == 0:
            return
        window *= 2


# --------------------------------------------------------------------------- byte ranges

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$")
RangeAction = Literal["read", "skip", "complete", "changed", "refused"]


@attrs.frozen
class RangeAnswer:
    """What to do with the blob host's answer to a read from byte ``offset``.

    ``read``: the body starts at ``offset``. ``skip``: the body starts ``skip`` bytes
    before it (the host ignored the range: 200). ``complete``: nothing is left (416 whose
    total equals ``offset``). ``changed``: the blob is not the one being read (412, or a
    416 that says it is shorter). ``refused``: any other answer. ``total`` is the log's
    size when the answer says it.
    """

    action: RangeAction
    skip: int = 0
    total: int | None = None


def range_header(offset: int) -> str | None:
    """The ``Range`` to resume from ``offset`` (``bytes=N-``; never a suffix range); None at 0."""
    return None if offset == 0 else f"bytes={offset}-"


def probe_range(offset: int) -> str | None:
    """The ``Range`` of a tail's first read: one byte while nothing is read, then a resume.

    ``bytes=0-0`` asks for the log's size (a 206's ``Content-Range`` total): suffix
    ranges are not a form the blob host documents. A host that ignores ranges answers
    200 with the whole log; once part of it is read, a broken body resumes from there.
    """
    return "bytes=0-0" if offset == 0 else range_header(offset)


def content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``(first, last, total)`` of a ``Content-Range`` header; None where it says ``*``."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None, None, None
    first, last, total = match.groups()
    return (
        None if first is None else int(first),
        None if last is None else int(last),
        None if total == "*" else int(total),
    )


def judge_range(
    status: int, content_range_value: str | None, content_length: int | None, offset: int
) -> RangeAnswer:
    """How to continue a read from ``offset`` after this answer (see :class:`RangeAnswer`)."""
    first, _last, total = content_range(content_range_value)
    if status == 200:
        return RangeAnswer("skip" if offset else "read", skip=offset, total=content_length)
    if status == 206:
        if first is None:
            return RangeAnswer("refused")
        if first == offset:
            return RangeAnswer("read", total=total)
        if first < offset:
            return RangeAnswer("skip", skip=offset - first, total=total)
        return RangeAnswer("refused", total=total)
    if status == 412:
        return RangeAnswer("changed")
    if status == 416:
        if total == offset:
            return RangeAnswer("complete", total=total)
        return RangeAnswer("changed", total=total)
    return RangeAnswer("refused")
