"""The log text without I/O: lines, entries, markers, tail windows, byte ranges, step splitting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from _support import sample_job

from gh_jobs_async import Job, LogLine, split_steps, strip_ansi
from gh_jobs_async._cli_view import nothing_to_show
from gh_jobs_async._logsteps import StepCursor, kind_of
from gh_jobs_async._logtext import (
    EntryAssembler,
    LineSplitter,
    TailCollector,
    content_range,
    entries_of,
    judge_range,
    parse_line,
    probe_range,
    range_header,
    tail_entries,
    tail_windows,
)
from gh_jobs_async.models import decode_job

BOM = b"\xef\xbb\xbf"
# Shaped like a real job log: BOM on the first line only, CRLF from a Windows runner,
# a multi-line message whose continuation lines carry no timestamp, ANSI colours,
# markers, and no final newline.
SAMPLE = (
    BOM + b"2025-07-04T14:32:10.1000000Z Current runner version: '2.325.0'\r\n"
    b"2025-07-04T14:32:10.2000000Z ##[group]Operating System\n"
    b"2025-07-04T14:32:10.3000000Z Ubuntu\n"
    b"2025-07-04T14:32:10.4000000Z ##[endgroup]\n"
    b"2025-07-04T14:32:14.5617907Z ##[group]Run python -m pytest\n"
    b"2025-07-04T14:32:14.5700000Z \x1b[36;1mpython -m pytest\x1b[0m\n"
    b"2025-07-04T14:32:14.5800000Z ##[endgroup]\n"
    b"2025-07-04T14:32:15.0000000Z Traceback (most recent call last):\n"
    b'  File "x.py", line 1\n'
    b"ZeroDivisionError: division by zero\n"
    b"2025-07-04T14:32:15.1000000Z ##[error]Process completed with exit code 1.\n"
    b"2025-07-04T14:32:16.0000000Z Post job cleanup.\n"
    b"2025-07-04T14:32:16.1000000Z [command]/usr/bin/git version\n"
    b"2025-07-04T14:32:17.0000000Z Cleaning up orphan processes"
)


def _job(*steps: tuple[str, str, str, str]) -> Job:
    """A job whose steps are (name, conclusion, started_at, completed_at)."""
    body = sample_job(
        steps=[
            {
                "name": name,
                "status": "completed",
                "conclusion": conclusion,
                "number": number,
                "started_at": started,
                "completed_at": completed,
            }
            for number, (name, conclusion, started, completed) in enumerate(steps, start=1)
        ]
    )
    return decode_job(body)


SAMPLE_JOB = _job(
    ("Set up job", "success", "2025-07-04T14:32:11Z", "2025-07-04T14:32:13Z"),
    ("Run python -m pytest", "failure", "2025-07-04T14:32:13Z", "2025-07-04T14:32:16Z"),
    ("Upload", "skipped", "2025-07-04T14:32:16Z", "2025-07-04T14:32:16Z"),
    # GitHub names a post step after the step it cleans up after, an earlier one
    ("Post Run python -m pytest", "success", "2025-07-04T14:32:16Z", "2025-07-04T14:32:17Z"),
    ("Complete job", "success", "2025-07-04T14:32:17Z", "2025-07-04T14:32:17Z"),
)


def test_lines_split_on_bytes_drop_bom_and_cr() -> None:
    """Lines split on \\n, one trailing \\r dropped, the BOM gone, a last line without \\n kept."""
    entries = entries_of(SAMPLE)
    assert entries[0].text == "Current runner version: '2.325.0'"
    assert entries[0].raw_timestamp == "2025-07-04T14:32:10.1000000Z"
    assert entries[-1].text == "Cleaning up orphan processes"
    assert entries[-1].number == 14
    assert "\r" not in "".join(entry.text for entry in entries)


def test_timestamps_are_aware_and_keep_the_raw_seven_digits() -> None:
    """The 7-digit timestamp becomes an aware UTC datetime; the raw string is kept exact."""
    (entry,) = entries_of(b"2025-07-04T14:32:14.5617907Z ##[endgroup]\n")
    assert entry.timestamp == datetime(2025, 7, 4, 14, 32, 14, 561790, tzinfo=UTC)
    assert entry.raw_timestamp == "2025-07-04T14:32:14.5617907Z"
    assert entry.marker == "endgroup"
    assert entry.message == ""


def test_continuation_lines_join_the_entry_before() -> None:
    """Lines without a timestamp continue the previous entry; numbers and offsets stay exact."""
    entries = entries_of(SAMPLE)
    traceback = next(e for e in entries if e.text.startswith("Traceback"))
    assert traceback.lines == 3
    assert traceback.text.splitlines()[-1] == "ZeroDivisionError: division by zero"
    assert traceback.number == 8
    assert SAMPLE[traceback.offset :].startswith(b"2025-07-04T14:32:15.0000000Z Traceback")
    following = entries[entries.index(traceback) + 1]
    assert following.number == 11


def test_markers_are_recognised() -> None:
    """##[group], ##[error], [command] and friends set the marker; plain text has none."""
    by_marker = {e.marker: e for e in entries_of(SAMPLE)}
    assert by_marker["group"].message == "Run python -m pytest"  # the last group wins here
    assert by_marker["error"].message == "Process completed with exit code 1."
    assert by_marker["command"].message == "/usr/bin/git version"
    (plain,) = entries_of(b"2025-07-04T14:32:15.0000000Z ##[bogus] not a marker\n")
    assert plain.marker is None


def test_ansi_is_stripped_on_demand() -> None:
    """text keeps the colours; plain() and strip_ansi remove them."""
    colored = next(e for e in entries_of(SAMPLE) if "\x1b" in e.text)
    assert colored.plain() == "python -m pytest"
    assert strip_ansi("\x1b]0;title\x07ok \x1b[1;31mred\x1b[0m") == "ok red"


def test_invalid_utf8_is_replaced_never_latin1() -> None:
    """Invalid bytes become U+FFFD; valid UTF-8 is decoded as UTF-8, not Latin-1."""
    (entry,) = entries_of(b"2025-07-04T14:32:15.0000000Z caf\xc3\xa9 \xff\n")
    assert entry.text == "caf\u00e9 \ufffd"


def test_a_multi_megabyte_line_is_cut_and_flagged() -> None:
    """A 3 MiB line is cut at max_line and flagged; the next line's offset stays exact."""
    huge = b"2025-07-04T14:32:15.0000000Z " + b"x" * (3 << 20) + b"\n"
    data = huge + b"2025-07-04T14:32:16.0000000Z after\n"
    splitter = LineSplitter(max_line=1 << 20)
    lines = []
    for start in range(0, len(data), 65536):  # fed in pieces, as from the network
        lines += splitter.feed(data[start : start + 65536])
    lines += splitter.finish()
    assert [len(line.data) for line in lines] == [
        1 << 20,
        len(b"2025-07-04T14:32:16.0000000Z after"),
    ]
    assert lines[0].truncated
    assert not lines[1].truncated
    assert lines[1].offset == len(huge)
    assert parse_line(lines[0]).truncated


def test_lines_are_the_same_however_the_bytes_are_split() -> None:
    """Feeding the sample one byte at a time gives the same lines as all at once."""
    whole = LineSplitter()
    expected = whole.feed(SAMPLE) + whole.finish()
    split = LineSplitter()
    got = [line for byte in range(len(SAMPLE)) for line in split.feed(SAMPLE[byte : byte + 1])]
    assert got + split.finish() == expected


def test_a_missing_final_newline_and_an_empty_log() -> None:
    """A last line without \\n is still a line; an empty body has none; a final \\n adds none."""
    assert [e.text for e in entries_of(b"2025-07-04T14:32:15.0000000Z end")] == ["end"]
    assert entries_of(b"") == []
    assert len(entries_of(SAMPLE + b"\n")) == len(entries_of(SAMPLE))


def test_an_entry_of_endless_continuations_stays_bounded() -> None:
    """Continuation lines past max_chars start a new entry instead of growing one forever."""
    assembler = EntryAssembler(max_chars=100)
    done = [assembler.push(LogLine(number=i, offset=0, text="y" * 30)) for i in range(10)]
    emitted = [entry for entry in done if entry is not None]
    assert emitted
    assert all(len(entry.text) < 200 for entry in emitted)


def test_tail_of_a_window_drops_the_cut_line_and_orphan_continuations() -> None:
    """From mid-log, the first (cut) line and continuations before a timestamp are dropped."""
    start = SAMPLE.index(b'  File "x.py"') + 3
    got = tail_entries(SAMPLE[start:], start, 3)
    assert got is not None
    assert [e.text for e in got] == [e.text for e in entries_of(SAMPLE)[-3:]]
    assert all(e.number is None for e in got)
    assert got[0].offset == SAMPLE.index(b"2025-07-04T14:32:16.0000000Z Post")
    assert tail_entries(SAMPLE[start:], start, 50) is None  # not enough: read a bigger window
    assert tail_entries(SAMPLE, 0, 50) == entries_of(SAMPLE)  # from byte 0 everything counts


def test_tail_collector_streams_like_the_whole_window() -> None:
    """Feeding a window in pieces gives the same tail as one piece."""
    start = 100
    collector = TailCollector(start, 4)
    for i in range(start, len(SAMPLE), 7):
        collector.feed(SAMPLE[i : i + 7])
    assert collector.finish() == tail_entries(SAMPLE[start:], start, 4)


def test_tail_windows_double_down_to_zero() -> None:
    """Windows start at size - W for W doubling, and end with one from byte 0."""
    assert list(tail_windows(1000, 100)) == [900, 800, 600, 200, 0]
    assert list(tail_windows(50, 100)) == [0]


@pytest.mark.parametrize(
    ("status", "content_range_value", "length", "offset", "expected"),
    [
        (200, None, 1000, 0, ("read", 0, 1000)),
        (206, "bytes 400-999/1000", 600, 400, ("read", 0, 1000)),
        (200, None, 1000, 400, ("skip", 400, 1000)),  # the host ignored the range
        (206, "bytes 300-999/1000", 700, 400, ("skip", 100, 1000)),
        (206, "bytes 500-999/1000", 500, 400, ("refused", 0, 1000)),
        (416, "bytes */1000", None, 1000, ("complete", 0, 1000)),
        (416, "bytes */900", None, 1000, ("changed", 0, 900)),
        (412, None, None, 400, ("changed", 0, None)),
        (206, None, 600, 400, ("refused", 0, None)),
        (500, None, None, 400, ("refused", 0, None)),
    ],
)
def test_range_answers_are_judged(
    status: int,
    content_range_value: str | None,
    length: int | None,
    offset: int,
    expected: tuple[str, int, int | None],
) -> None:
    """206 from N is read, 200 skips N, 416 with total N is complete, 412 means changed."""
    answer = judge_range(status, content_range_value, length, offset)
    assert (answer.action, answer.skip, answer.total) == expected


def test_range_headers_never_use_suffix_ranges() -> None:
    """Resuming sends bytes=N-; from 0 it sends no Range; Content-Range parses both forms."""
    assert range_header(0) is None
    assert range_header(1234) == "bytes=1234-"
    assert content_range("bytes 0-0/5000") == (0, 0, 5000)
    assert content_range("bytes */5000") == (None, None, 5000)
    assert content_range("garbage") == (None, None, None)


def test_a_tail_probe_asks_for_one_byte_then_resumes_like_any_read() -> None:
    """The size probe is bytes=0-0 (no suffix range); once bytes are read it resumes from N."""
    assert probe_range(0) == "bytes=0-0"
    assert probe_range(1234) == "bytes=1234-" == range_header(1234)
    probe = judge_range(206, "bytes 0-0/5000", 1, 0)
    assert (probe.action, probe.total) == ("read", 5000)  # the size, from Content-Range
    ignored = judge_range(200, None, 5000, 0)
    assert (ignored.action, ignored.skip, ignored.total) == ("read", 0, 5000)  # the whole log
    empty = judge_range(416, "bytes */0", None, 0)
    assert (empty.action, empty.total) == ("complete", 0)


def test_split_steps_by_markers() -> None:
    """Boundaries zipped with the steps that ran put every line right, confidence high."""
    result = split_steps(SAMPLE_JOB, entries_of(SAMPLE))
    assert [r.step.number for r in result] == [1, 2, 3, 4, 5]
    texts = {r.step.number: [e.text for e in r.entries] for r in result}
    assert texts[1][0].startswith("Current runner version")
    assert texts[1][-1] == "##[endgroup]"
    assert texts[2][0] == "##[group]Run python -m pytest"
    assert texts[2][-1] == "##[error]Process completed with exit code 1."
    assert texts[3] == []
    assert texts[4] == ["Post job cleanup.", "[command]/usr/bin/git version"]
    assert texts[5] == ["Cleaning up orphan processes"]
    assert {(r.method, r.confidence) for r in result if r.step.number != 3} == {("markers", "high")}
    assert (result[2].method, result[2].confidence) == ("not run", "high")


def test_a_post_step_is_named_after_an_earlier_step() -> None:
    """A step "Post X" is a post step only after a step X; "Post comment" alone runs something."""
    job = _job(
        ("Set up job", "success", "2025-07-04T14:32:11Z", "2025-07-04T14:32:13Z"),
        ("Post comment", "failure", "2025-07-04T14:32:13Z", "2025-07-04T14:32:16Z"),
        ("Post to Slack", "skipped", "2025-07-04T14:32:16Z", "2025-07-04T14:32:16Z"),
        ("Post Post comment", "success", "2025-07-04T14:32:16Z", "2025-07-04T14:32:17Z"),
        ("Complete job", "success", "2025-07-04T14:32:17Z", "2025-07-04T14:32:17Z"),
    )
    assert [kind_of(s, job.steps) for s in job.steps] == ["setup", "run", "run", "post", "complete"]
    result = split_steps(job, entries_of(SAMPLE))
    assert {r.method for r in result if r.step.number != 3} == {"markers"}
    texts = {r.step.number: [e.text for e in r.entries] for r in result}
    assert texts[2][0] == "##[group]Run python -m pytest"
    assert texts[2][-1] == "##[error]Process completed with exit code 1."
    assert texts[4] == ["Post job cleanup.", "[command]/usr/bin/git version"]


def _shifted(job: Job, seconds: int) -> Job:
    """``job`` with every step time ``seconds`` later, as from a runner whose clock is behind."""
    return attrs.evolve(
        job,
        steps=[
            attrs.evolve(
                s,
                started_at=s.started_at and s.started_at + timedelta(seconds=seconds),
                completed_at=s.completed_at and s.completed_at + timedelta(seconds=seconds),
            )
            for s in job.steps
        ],
    )


@pytest.mark.parametrize("seconds", [0, 6, -6, 60])
def test_the_cursor_corrects_for_the_runner_clock(seconds: int) -> None:
    """With the step times off by seconds or a minute (a self-hosted runner's clock), the
    streaming cursor learns the offset at the setup line and puts every line where
    split_steps does, each step opened by its boundary."""
    job = _shifted(SAMPLE_JOB, seconds)
    entries = entries_of(SAMPLE)
    cursor = StepCursor(job)
    owners = [cursor.assign(entry) for entry in entries]
    for part in split_steps(job, entries):
        assert part.method in {"markers", "not run"}
        assert [e for e, o in zip(entries, owners, strict=True) if o == part.step] == list(
            part.entries
        )
    assert cursor.offset == timedelta(seconds=-0.9 - seconds)  # setup line 0.9 s before
    assert cursor.sure()
    assert (cursor.boundaries, cursor.rejected) == (4, 0)


def test_an_inner_run_group_is_rejected_and_the_cursor_says_it_is_unsure() -> None:
    """An extra Run group just before the post step: it opens no step (no later step runs
    something), the lines around it stay in their steps, and the cursor is not sure."""
    extra = SAMPLE.replace(
        b"2025-07-04T14:32:16.0000000Z Post job cleanup.",
        b"2025-07-04T14:32:15.9000000Z ##[group]Run inner\n"
        b"2025-07-04T14:32:16.0000000Z Post job cleanup.",
    )
    entries = entries_of(extra)
    cursor = StepCursor(SAMPLE_JOB)
    owners = [cursor.assign(entry) for entry in entries]
    inner = next(i for i, e in enumerate(entries) if e.text == "##[group]Run inner")
    assert owners[inner] == SAMPLE_JOB.steps[1]
    assert owners[0] == SAMPLE_JOB.steps[0]
    assert owners[-1] == SAMPLE_JOB.steps[4]
    assert (cursor.boundaries, cursor.rejected) == (5, 1)
    assert not cursor.sure()


def test_a_step_no_boundary_opened_makes_the_cursor_unsure() -> None:
    """Fewer boundaries than steps that ran: the step without one is found by time."""
    entries = [e for e in entries_of(SAMPLE) if not e.text.startswith("Cleaning up orphan")]
    cursor = StepCursor(SAMPLE_JOB)
    for entry in entries:
        cursor.assign(entry)
    assert cursor.rejected == 0
    assert cursor.method_of(SAMPLE_JOB.steps[4]) == "time"
    assert not cursor.sure()


def test_an_extra_run_group_lowers_the_confidence_but_drops_no_line() -> None:
    """A user's own ::group::Run inside a step: markers do not match, the fallback says so."""
    extra = SAMPLE.replace(
        b"2025-07-04T14:32:15.0000000Z Traceback",
        b"2025-07-04T14:32:14.9000000Z ##[group]Run inner\n2025-07-04T14:32:15.0000000Z Traceback",
    )
    entries = entries_of(extra)
    result = split_steps(SAMPLE_JOB, entries)
    assert sum(len(r.entries) for r in result) == len(entries)  # every line has a step
    assert all(r.confidence != "high" for r in result if r.method != "not run")
    assert result[-1].entries[-1].text == "Cleaning up orphan processes"


def test_missing_boundaries_fall_back_to_time_windows() -> None:
    """Without any boundary line, lines go by the steps' time windows, confidence low."""
    data = b"2025-07-04T14:32:11.5000000Z first step\n2025-07-04T14:32:30.0000000Z much later\n"
    job = _job(
        ("Set up job", "success", "2025-07-04T14:32:11Z", "2025-07-04T14:32:13Z"),
        ("Build", "success", "2025-07-04T14:32:13Z", "2025-07-04T14:32:40Z"),
    )
    result = split_steps(job, entries_of(data))
    assert [len(r.entries) for r in result] == [1, 1]
    assert {r.confidence for r in result} == {"low"}


def test_a_job_without_steps_gets_no_result() -> None:
    """No step ran: nothing to assign to, and the cursor says so with None."""
    job = _job()
    assert split_steps(job, entries_of(SAMPLE)) == []
    assert StepCursor(job).assign(entries_of(SAMPLE)[0]) is None


def test_nothing_to_show_says_why_no_line_can_be_printed() -> None:
    """No failed step, or a chosen step that was skipped: a reason; a step that ran: None."""
    assert nothing_to_show(SAMPLE_JOB, {2}) is None
    assert nothing_to_show(SAMPLE_JOB, {3}) == (
        "step 3 (Upload) did not run (skipped): it has no lines"
    )
    assert "has no failed step" in (nothing_to_show(SAMPLE_JOB, set()) or "")
