"""Reading logs without writing them: open_log, tail_log, resumed bodies, steps vs the oracle."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from _support import failing_after_checkout, serve

from gh_jobs_async import (
    InvalidArgumentError,
    LogChangedError,
    LogDownloadError,
    LogsNotAvailableError,
    split_steps,
)
from gh_jobs_async._logsteps import StepCursor
from gh_jobs_async._logtext import entries_of
from gh_jobs_async.testing import FakeConfig, FakeGitHub, Fault

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"


class ReplaceOnce:
    """A ``sleep`` that replaces a job's log the first time it is awaited: between a broken
    attempt and its retry (a backoff), as if the log were rewritten there and then."""

    def __init__(self) -> None:
        self.changes: list[int] = []
        self._fake: FakeGitHub | None = None
        self._job_id = 0

    def watch(self, fake: FakeGitHub, job_id: int) -> int:
        """Replace ``job_id``'s log at ``fake``; returns the id."""
        self._fake, self._job_id = fake, job_id
        return job_id

    async def __call__(self, _seconds: float) -> None:
        if not self.changes and self._fake is not None:
            self.changes.append(self._job_id)
            self._fake.replace_log(self._job_id)


MiB = 1 << 20


async def test_chunks_lines_and_entries_match_the_body() -> None:
    """chunks() is the body byte for byte; lines() and entries() parse it like the pure module."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=300_000, conclusions=("failure",))
        job_id = run.job_ids[0]
        body = fake.log_bytes(job_id)
        async with client.open_log(OWNER, REPO, job_id) as log:
            assert b"".join([chunk async for chunk in log.chunks()]) == body
        async with client.open_log(OWNER, REPO, job_id) as log:
            lines = [line async for line in log.lines()]
        assert lines == body.decode("utf-8").removeprefix("\ufeff").split("\n")[:-1]
        async with client.open_log(OWNER, REPO, job_id) as log:
            entries = [entry async for entry in log.entries()]
        assert entries == entries_of(body)
        assert fake.stats.blob_token_leaks == 0


async def test_a_reader_is_read_once_and_arguments_are_checked() -> None:
    """A second iteration raises; bad arguments raise before any request."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1)
        async with client.open_log(OWNER, REPO, run.job_ids[0]) as log:
            [_ async for _ in log.chunks()]
            with pytest.raises(RuntimeError, match="read once"):
                log.lines()
        sent = fake.stats.requests
        with pytest.raises(InvalidArgumentError, match="max_line"):
            client.open_log(OWNER, REPO, run.job_ids[0], max_line=0)
        with pytest.raises(InvalidArgumentError, match="lines"):
            await client.tail_log(OWNER, REPO, run.job_ids[0], lines=-1)
        assert fake.stats.requests == sent


async def test_a_broken_body_continues_where_it_stopped() -> None:
    """A reset at 60% is resumed with Range from the byte reached: one unbroken stream."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=4 * MiB)
        job_id = run.job_ids[0]
        fake.inject(Fault("blob", "reset", job_id=job_id, partial_bytes=int(0.6 * 4 * MiB)))
        async with client.open_log(OWNER, REPO, job_id) as log:
            got = b"".join([chunk async for chunk in log.chunks()])
            assert log.resumes == 1
        assert got == fake.log_bytes(job_id)
        assert fake.stats.blob_bytes_by_job[job_id] <= 4 * MiB + 512 * 1024
        assert fake.stats.blob_suffix_ranges == 0


async def test_a_host_that_ignores_ranges_still_gives_one_unbroken_stream() -> None:
    """When the resumed request gets 200 and the whole body, the bytes already seen are skipped."""
    async with serve(FakeConfig(blob_ignore_ranges=True)) as (fake, client):
        run = fake.add_run(jobs=1, log_size=2 * MiB)
        job_id = run.job_ids[0]
        fake.inject(Fault("blob", "reset", job_id=job_id, partial_bytes=MiB))
        async with client.open_log(OWNER, REPO, job_id) as log:
            got = b"".join([chunk async for chunk in log.chunks()])
        assert got == fake.log_bytes(job_id)


async def test_a_log_that_changed_mid_read_is_reported() -> None:
    """The resumed request's If-Match fails (412): the reader raises LogChangedError."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=2 * MiB)
        job_id = run.job_ids[0]
        fake.inject(Fault("blob", "reset", job_id=job_id, partial_bytes=MiB))

        async def read_and_change() -> None:
            async with client.open_log(OWNER, REPO, job_id) as log:
                async for _chunk in log.chunks():
                    fake.replace_log(job_id)  # before the body breaks and is resumed

        with pytest.raises(LogChangedError):
            await read_and_change()


async def test_download_restarts_a_log_that_changed(tmp_path: Path) -> None:
    """download_log: a 412 on resume starts again from zero; the file is the new log, whole."""
    replace = ReplaceOnce()  # between the broken attempt and its resumption
    async with serve(sleep=replace) as (fake, client):
        run = fake.add_run(jobs=1, log_size=6 * MiB)
        job_id = replace.watch(fake, run.job_ids[0])
        original = fake.log_sha256(job_id)
        fake.inject(Fault("blob", "reset", job_id=job_id, partial_bytes=5 * MiB))
        result = await client.download_log(OWNER, REPO, job_id, tmp_path)
        assert result.sha256 == fake.log_sha256(job_id) != original
        assert result.attempts == 3  # broken, refused (412), then whole from zero
    assert result.path is not None
    assert hashlib.sha256(result.path.read_bytes()).hexdigest() == result.sha256
    assert [p.name for p in tmp_path.iterdir()] == [f"{job_id}.log"]


async def test_tail_reads_only_the_end_of_a_large_log() -> None:
    """tail_log(100) of a 24 MiB log: the exact last entries, under 1 MiB served, no suffix."""
    size = 24 * MiB
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=size, conclusions=("failure",))
        job_id = run.job_ids[0]
        tail = await client.tail_log(OWNER, REPO, job_id, lines=100)
        served = fake.stats.blob_bytes_by_job[job_id]
        body = fake.log_bytes(job_id)
    assert served <= MiB
    assert fake.stats.blob_suffix_ranges == 0
    expected = entries_of(body[-served:], offset=size - served)[-100:]
    assert [(e.offset, e.text) for e in tail] == [(e.offset, e.text) for e in expected]
    assert len(tail) == 100
    last_line = body.rstrip(b"\n").rsplit(b"\n", 1)[1].decode()
    assert last_line.endswith(tail[-1].text)
    assert all(e.number is None for e in tail)


async def test_tail_lines_counts_entries_not_physical_lines() -> None:
    """lines=N gives N entries: a timestamped line and its continuation lines count once."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=300_000, conclusions=("failure",))
        job_id = run.job_ids[0]
        entries = entries_of(fake.log_bytes(job_id))
        last_multi = max(i for i, entry in enumerate(entries) if entry.lines > 1)
        count = len(entries) - last_multi
        tail = await client.tail_log(OWNER, REPO, job_id, lines=count)
    assert len(tail) == count
    assert sum(entry.lines for entry in tail) > count
    assert tail[0].lines > 1
    expected = entries[-count:]
    assert [(e.offset, e.text, e.lines) for e in tail] == [
        (e.offset, e.text, e.lines) for e in expected
    ]


async def test_tail_on_a_host_that_ignores_ranges_streams_the_whole_log() -> None:
    """With ranges ignored the tail is still right (numbered, since read from byte 0)."""
    async with serve(FakeConfig(blob_ignore_ranges=True)) as (fake, client):
        run = fake.add_run(jobs=1, log_size=3 * MiB)
        job_id = run.job_ids[0]
        tail = await client.tail_log(OWNER, REPO, job_id, lines=7)
        body = fake.log_bytes(job_id)
    assert tail == entries_of(body)[-7:]


async def test_tail_of_a_short_log_is_the_whole_log() -> None:
    """A log shorter than the first window comes back whole and numbered."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=5000)
        job_id = run.job_ids[0]
        assert await client.tail_log(OWNER, REPO, job_id, lines=10_000) == entries_of(
            fake.log_bytes(job_id)
        )
        fake.set_log_state(job_id, "not_available")
        with pytest.raises(LogsNotAvailableError):
            await client.tail_log(OWNER, REPO, job_id)


# Blob requests of tail_log(lines=1000) on a 4 MiB log: #1 the probe, #2 and #3 the windows.
TAIL_FAULTS = {
    "probe 503": Fault("blob", "status", status=503),
    "probe expired (403)": Fault("blob", "status", status=403),
    "window 503": Fault("blob", "status", status=503, after=1),
    "window expired (403)": Fault("blob", "status", status=403, after=1),
    "window reset mid-body": Fault("blob", "reset", after=1, partial_bytes=20_000),
    "window truncated": Fault("blob", "truncate", after=1, partial_bytes=30_000),
    "second window reset mid-body": Fault("blob", "reset", after=2, partial_bytes=100_000),
    "two failures in a row": Fault("blob", "status", status=502, after=1, times=2),
}


def blob_statuses(fake: FakeGitHub) -> list[int]:
    """The statuses the blob host answered, in order."""
    return [r.status for r in fake.stats.requests_log if r.origin == "blob"]


async def test_an_undisturbed_tail_resolves_the_location_once() -> None:
    """The probe and both windows share one Location: one API request for the whole tail."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=4 * MiB, conclusions=("failure",))
        job_id = run.job_ids[0]
        await client.tail_log(OWNER, REPO, job_id, lines=1000)
        assert fake.stats.api_requests == 1
        assert blob_statuses(fake) == [206, 206, 206]


@pytest.mark.parametrize("fault", TAIL_FAULTS.values(), ids=TAIL_FAULTS.keys())
async def test_tail_recovers_from_blob_faults_with_the_undisturbed_result(fault: Fault) -> None:
    """A 5xx, an expired URL, a reset or a truncated body mid-tail: retried, the same tail."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=4 * MiB, conclusions=("failure",))
        job_id = run.job_ids[0]
        undisturbed = await client.tail_log(OWNER, REPO, job_id, lines=1000)
        fake.inject(fault)
        tail = await client.tail_log(OWNER, REPO, job_id, lines=1000)
        assert fake.pending_faults == []
        assert sum(fake.stats.faults_injected.values()) == fault.times
    assert tail == undisturbed
    assert len(tail) == 1000


async def test_tail_on_a_host_that_ignores_ranges_resumes_the_whole_log() -> None:
    """Ranges ignored and the whole-log answer reset at 60%: continued, not read again."""
    size = 3 * MiB
    async with serve(FakeConfig(blob_ignore_ranges=True)) as (fake, client):
        run = fake.add_run(jobs=1, log_size=size)
        job_id = run.job_ids[0]
        fake.inject(Fault("blob", "reset", job_id=job_id, partial_bytes=int(0.6 * size)))
        tail = await client.tail_log(OWNER, REPO, job_id, lines=7)
        assert fake.pending_faults == []
        body = fake.log_bytes(job_id)
    assert tail == entries_of(body)[-7:]


async def test_tail_max_attempts_is_checked_and_bounds_the_retries() -> None:
    """Bad max_attempts raise before any request; max_attempts=1 gives up at the first 503."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=200_000)
        job_id = run.job_ids[0]
        sent = fake.stats.requests
        for bad in (0, -1, True, 2.0, "3"):
            with pytest.raises(InvalidArgumentError, match="max_attempts"):
                await client.tail_log(OWNER, REPO, job_id, max_attempts=bad)  # type: ignore[arg-type]
        assert fake.stats.requests == sent
        fake.inject(Fault("blob", "status", status=503, after=1))
        with pytest.raises(LogDownloadError) as caught:
            await client.tail_log(OWNER, REPO, job_id, max_attempts=1)
        assert caught.value.status == 503
        fake.inject(Fault("blob", "status", status=503, after=1, times=2))
        with pytest.raises(LogDownloadError):
            await client.tail_log(OWNER, REPO, job_id, max_attempts=2)
        assert fake.pending_faults == []
        assert await client.tail_log(OWNER, REPO, job_id, max_attempts=1)


async def test_a_window_is_pinned_to_the_probes_etag() -> None:
    """Log replaced between probe and window: the If-Match window gets 412, then a new probe."""
    replace = ReplaceOnce()  # after the window's first attempt failed, before its retry
    async with serve(sleep=replace) as (fake, client):
        run = fake.add_run(jobs=1, log_size=4 * MiB, conclusions=("failure",))
        job_id = replace.watch(fake, run.job_ids[0])
        old = await client.tail_log(OWNER, REPO, job_id, lines=1000)
        fake.inject(Fault("blob", "status", status=503, job_id=job_id, after=1))
        tail = await client.tail_log(OWNER, REPO, job_id, lines=1000)
        assert replace.changes == [job_id]
        statuses = blob_statuses(fake)[3:]  # after the undisturbed tail's three
        new = await client.tail_log(OWNER, REPO, job_id, lines=1000)
    assert statuses[:4] == [206, 503, 412, 206]  # probe, window refused twice, a new probe
    assert tail == new != old


async def test_a_log_replaced_mid_window_is_tailed_again_never_mixed() -> None:
    """A window broken mid-body and the log replaced: the resume is refused, the new tail comes."""
    replace = ReplaceOnce()
    async with serve(sleep=replace) as (fake, client):
        run = fake.add_run(jobs=1, log_size=4 * MiB, conclusions=("failure",))
        job_id = replace.watch(fake, run.job_ids[0])
        old = await client.tail_log(OWNER, REPO, job_id, lines=1000)
        fake.inject(Fault("blob", "reset", job_id=job_id, after=2, partial_bytes=100_000))
        tail = await client.tail_log(OWNER, REPO, job_id, lines=1000)
        assert replace.changes == [job_id]
        assert 412 in blob_statuses(fake)
        new = await client.tail_log(OWNER, REPO, job_id, lines=1000)
    assert len(tail) == 1000
    assert tail == new != old


async def test_a_short_log_replaced_before_its_window_is_read_whole() -> None:
    """A window from byte 0 is a plain GET of the whole log: the new one, whole and numbered."""
    replace = ReplaceOnce()
    async with serve(sleep=replace) as (fake, client):
        run = fake.add_run(jobs=1, log_size=5000)
        job_id = replace.watch(fake, run.job_ids[0])
        old = fake.log_bytes(job_id)
        fake.inject(Fault("blob", "status", status=503, job_id=job_id, after=1))
        tail = await client.tail_log(OWNER, REPO, job_id, lines=10_000)
        assert replace.changes == [job_id]
        new = fake.log_bytes(job_id)
    assert tail == entries_of(new) != entries_of(old)


async def test_a_log_that_keeps_changing_raises_after_two_restarts() -> None:
    """Replaced under every probe: three probes, three 412s, then LogChangedError."""

    async def change_and_fail_the_next_window(_seconds: float) -> None:
        fake.replace_log(job_id)
        # the next blob requests: the refused retry (412), a new probe, then its window
        fake.inject(Fault("blob", "status", status=503, job_id=job_id, after=2))

    async with serve(sleep=change_and_fail_the_next_window) as (fake, client):
        run = fake.add_run(jobs=1, log_size=4 * MiB)
        job_id = run.job_ids[0]
        fake.inject(Fault("blob", "status", status=503, job_id=job_id, after=1))
        with pytest.raises(LogChangedError):
            await client.tail_log(OWNER, REPO, job_id, lines=1000)
        statuses = blob_statuses(fake)
    assert statuses == [206, 503, 412] * 3


@pytest.mark.slow
@pytest.mark.parametrize("ignore_ranges", [False, True])
async def test_a_64_mib_download_reset_at_90_percent_resumes(
    tmp_path: Path, ignore_ranges: bool
) -> None:
    """A 64 MiB log reset at 90% completes byte-exact; with ranges, at most 15% extra served."""
    size = 64 * MiB
    async with serve(FakeConfig(blob_ignore_ranges=ignore_ranges)) as (fake, client):
        run = fake.add_run(jobs=1, log_size=size)
        job_id = run.job_ids[0]
        fake.inject(Fault("blob", "reset", job_id=job_id, partial_bytes=int(0.9 * size)))
        result = await client.download_log(OWNER, REPO, job_id, tmp_path)
        served = fake.stats.blob_bytes_by_job[job_id]
        assert result.sha256 == fake.log_sha256(job_id)
    assert result.size == size == (tmp_path / f"{job_id}.log").stat().st_size
    assert result.attempts == 2
    if not ignore_ranges:
        assert served <= 1.15 * size
    assert [p.name for p in tmp_path.iterdir()] == [f"{job_id}.log"]


async def test_split_steps_agrees_with_the_oracle_over_many_job_shapes() -> None:
    """Where markers match every line is in its step; composite jobs get a lowered confidence."""
    async with serve() as (fake, client):
        run = fake.add_run(
            jobs=24,
            log_size=[20_000, 300_000, 60_000, 45_000, 1_500],
            conclusions=("success", "failure", "timed_out", "success", "skipped", "failure"),
            composite=(False, False, False, True, False, False, False),
        )
        shapes: set[str] = set()
        for job_id in run.job_ids:
            job = await client.get_job(OWNER, REPO, job_id)
            oracle = fake.log_steps(job_id)
            if job.conclusion == "skipped":  # never ran: no steps, no log, as on GitHub
                assert not job.steps
                with pytest.raises(LogsNotAvailableError):
                    async with client.open_log(OWNER, REPO, job_id) as log:
                        _ = [entry async for entry in log.entries()]
                assert split_steps(job, []) == []
                shapes.add("never ran")
                continue
            async with client.open_log(OWNER, REPO, job_id) as log:
                entries = [entry async for entry in log.entries()]
            result = split_steps(job, entries)
            assert sum(len(r.entries) for r in result) == (len(entries) if job.steps else 0)
            ran = [r for r in result if r.method != "not run"]
            if all(r.method == "markers" for r in ran) and ran:
                shapes.add("markers")
                for r in result:
                    assert {oracle[e.number - 1] for e in r.entries if e.number} <= {r.step.number}
            elif ran:
                shapes.add("fallback")
                assert all(r.confidence != "high" for r in ran)
            if any(s.conclusion == "skipped" for s in job.steps):
                shapes.add("skipped steps")
            if any(s.started_at == s.completed_at for s in job.steps if s.conclusion != "skipped"):
                shapes.add("zero-second step")
    assert shapes == {"markers", "fallback", "skipped steps", "zero-second step", "never ran"}


async def test_a_user_step_named_post_something_is_not_a_post_step() -> None:
    """A failing step named "Post comment" keeps its Run group and error; the post step its own."""
    async with serve() as (fake, client):
        run = fake.add_run(jobs=12, log_size=60_000, conclusions=("failure",))
        job_id, steps, failed = failing_after_checkout(fake, run.job_ids)
        failed["name"] = "Post comment"
        fake.update_job(job_id, steps=steps)
        job = await client.get_job(OWNER, REPO, job_id)
        oracle = fake.log_steps(job_id)
        async with client.open_log(OWNER, REPO, job_id) as log:
            entries = [entry async for entry in log.entries()]
    result = split_steps(job, entries)
    assert {r.method for r in result if r.step.conclusion != "skipped"} == {"markers"}
    for r in result:
        assert {oracle[e.number - 1] for e in r.entries if e.number} <= {r.step.number}
    (mine,) = [r for r in result if r.step.number == failed["number"]]
    assert mine.entries[0].text.startswith("##[group]Run ")
    assert any(e.marker == "error" for e in mine.entries)
    (post,) = [r for r in result if r.step.name.startswith("Post Run ")]
    assert post.entries[0].text == "Post job cleanup."


async def test_inline_logs_and_empty_logs_read_the_same() -> None:
    """A log GitHub returns inline (200 from the API) and an empty log both read correctly."""
    async with serve(FakeConfig(logs_mode="inline")) as (fake, client):
        run = fake.add_run(jobs=1, log_size=70_000)
        job_id = run.job_ids[0]
        body = fake.log_bytes(job_id)
        async with client.open_log(OWNER, REPO, job_id) as log:
            assert b"".join([chunk async for chunk in log.chunks()]) == body
        assert await client.tail_log(OWNER, REPO, job_id, lines=4) == entries_of(body)[-4:]
    async with serve() as (fake, client):
        run = fake.add_run(jobs=1, log_size=0)
        job_id = run.job_ids[0]
        assert await client.tail_log(OWNER, REPO, job_id) == []
        async with client.open_log(OWNER, REPO, job_id) as log:
            assert [entry async for entry in log.entries()] == []


@pytest.mark.parametrize("skew", [0.0, 6.0, -6.0, 30.0])
async def test_the_streaming_cursor_agrees_with_the_oracle_whatever_the_runner_clock(
    skew: float,
) -> None:
    """What `gh-jobs view --failed` streams through: with the runner's clock off by seconds
    (the fake's steps' JSON times moved, the log unchanged), every line of a plain job is
    in its step; in composite jobs (inner Run groups) at most 3% are misplaced."""
    async with serve() as (fake, client):
        wrong = {False: 0, True: 0}
        lines = {False: 0, True: 0}
        for composite in (False, True):
            run = fake.add_run(
                jobs=20,
                log_size=[20_000, 60_000, 5_000],
                conclusions=("failure", "success"),
                composite=composite,
                runner_clock_skew=skew,
            )
            for job_id in run.job_ids:
                job = await client.get_job(OWNER, REPO, job_id)
                oracle = fake.log_steps(job_id)
                cursor = StepCursor(job)
                async with client.open_log(OWNER, REPO, job_id) as log:
                    async for entry in log.entries():
                        step = cursor.assign(entry)
                        if step is not None and entry.number:
                            lines[composite] += 1
                            wrong[composite] += oracle[entry.number - 1] != step.number
    assert lines[False] > 5_000
    assert lines[True] > 5_000
    assert wrong[False] == 0
    assert wrong[True] <= 0.03 * lines[True], f"{wrong[True]} of {lines[True]} misplaced"
