"""``gh-jobs view --log`` as a subprocess against the fake: failed steps, a step, tail, pipes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest
from _support import failing_after_checkout
from test_cli import OWNER, REPO, SLUG, Cli

from gh_jobs_async import strip_ansi
from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

MiB = 1 << 20


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as fake:
        yield fake


@pytest.fixture(name="cli")
async def fixture_cli(fake: FakeGitHub) -> AsyncIterator[Cli]:
    cli = Cli(fake)
    yield cli
    await cli.close()


def _lines(fake: FakeGitHub, job_id: int) -> list[str]:
    """The log's physical lines as text (BOM dropped), colours stripped as off a terminal."""
    text = fake.log_bytes(job_id).decode("utf-8").removeprefix("\ufeff")
    return [strip_ansi(line) for line in text.split("\n")[:-1]]


def _step_lines(fake: FakeGitHub, job_id: int, name: str, number: int) -> list[str]:
    """What ``--log --failed`` prints for step ``number`` called ``name``, by the oracle."""
    oracle = fake.log_steps(job_id)
    return [
        f"{name}\t{line}"
        for line, step in zip(_lines(fake, job_id), oracle, strict=True)
        if step == number
    ]


def _failed_job(fake: FakeGitHub) -> int:
    """A failed job with more than three steps, so that steps follow the failed one."""
    run = fake.add_run(OWNER, REPO, jobs=12, conclusions=("failure",), log_size=400_000)
    for job_id in run.job_ids:
        if len(fake.job(job_id)["steps"]) > 5:
            return job_id
    raise AssertionError("no failed job with enough steps")


async def test_failed_prints_exactly_the_failed_steps_lines(cli: Cli, fake: FakeGitHub) -> None:
    """--log --failed: the failed step's lines, every one, prefixed with its name; nothing else."""
    job_id = _failed_job(fake)
    (failed,) = [s for s in fake.job(job_id)["steps"] if s["conclusion"] == "failure"]
    expected = _step_lines(fake, job_id, failed["name"], failed["number"])
    result = await cli.run("view", SLUG, job_id, "--log", "--failed", *cli.api)
    assert result.code == 0, result
    assert result.err == ""
    assert result.out.splitlines() == expected
    assert "\x1b[" not in result.out  # a pipe is not a terminal: colours stripped


async def test_a_failed_step_named_post_comment_is_printed(cli: Cli, fake: FakeGitHub) -> None:
    """A failing user step named "Post comment" is no post step: --failed prints its lines."""
    run = fake.add_run(OWNER, REPO, jobs=12, conclusions=("failure",), log_size=60_000)
    job_id, steps, failed = failing_after_checkout(fake, run.job_ids)
    failed["name"] = "Post comment"
    fake.update_job(job_id, steps=steps)
    expected = _step_lines(fake, job_id, "Post comment", failed["number"])
    result = await cli.run("view", SLUG, job_id, "--log", "--failed", *cli.api)
    assert result.code == 0, result
    assert result.err == ""
    assert result.out.splitlines() == expected
    assert any("##[error]" in line for line in expected)


@pytest.mark.parametrize("skew", [6.0, -6.0])
async def test_a_runner_clock_off_by_seconds_still_splits_by_markers(
    cli: Cli, fake: FakeGitHub, skew: float
) -> None:
    """Step times 6 s off the log's lines: --failed prints exactly the failed step, quietly."""
    run = fake.add_run(
        OWNER, REPO, jobs=12, conclusions=("failure",), log_size=60_000, runner_clock_skew=skew
    )
    job_id, _, failed = failing_after_checkout(fake, run.job_ids)
    expected = _step_lines(fake, job_id, failed["name"], failed["number"])
    result = await cli.run("view", SLUG, job_id, "--log", "--failed", *cli.api)
    assert result.code == 0, result
    assert result.err == ""
    assert result.out.splitlines() == expected


async def test_boundaries_of_the_wrong_kind_are_never_a_silent_guess(
    cli: Cli, fake: FakeGitHub
) -> None:
    """As many boundaries as steps but not of their kinds (a user step "Post X"): one warning."""
    run = fake.add_run(OWNER, REPO, jobs=12, conclusions=("failure",), log_size=60_000)
    job_id, steps, failed = failing_after_checkout(fake, run.job_ids)
    failed["name"] = f"Post {steps[failed['number'] - 2]['name']}"  # after the step it names
    fake.update_job(job_id, steps=steps)
    result = await cli.run("view", SLUG, job_id, "--log", "--failed", *cli.api)
    assert result.code == 0, result
    assert len(result.err.splitlines()) == 1
    assert "warning" in result.err
    assert "may be in the wrong step" in result.err


async def test_step_and_tail_select_lines(cli: Cli, fake: FakeGitHub) -> None:
    """--step NAME prints that step alone; --tail N the last N lines; --no-timestamps drops them."""
    job_id = _failed_job(fake)
    lines, oracle = _lines(fake, job_id), fake.log_steps(job_id)
    last = fake.job(job_id)["steps"][-1]
    step = await cli.run("view", SLUG, job_id, "--log", "--step", last["name"], *cli.api)
    assert step.out.splitlines() == [
        line for line, n in zip(lines, oracle, strict=True) if n == last["number"]
    ]
    tail = await cli.run("view", SLUG, job_id, "--log", "--tail", 3, "--no-timestamps", *cli.api)
    assert tail.out.splitlines() == [line.split(" ", 1)[1] for line in lines[-3:]]
    bad = await cli.run("view", SLUG, job_id, "--log", "--step", "Nope", *cli.api)
    assert "Nope" in bad.one_line_error(2)


async def test_nothing_to_print_is_said_on_stderr(cli: Cli, fake: FakeGitHub) -> None:
    """--failed on a job with no failed step, --step on a skipped one: no line, one note, 0."""
    run = fake.add_run(OWNER, REPO, jobs=1, conclusions=("success",), log_size=20_000)
    result = await cli.run("view", SLUG, run.job_ids[0], "--log", "--failed", *cli.api)
    assert (result.code, result.out) == (0, ""), result
    assert result.err.splitlines() == [
        f"gh-jobs: job {run.job_ids[0]} has no failed step "
        "(none concluded action_required, failure, startup_failure, timed_out)"
    ]
    failed = fake.add_run(OWNER, REPO, jobs=12, conclusions=("failure",), log_size=20_000)
    job_id, skipped = next(
        (j, s) for j in failed.job_ids for s in fake.job(j)["steps"] if s["conclusion"] == "skipped"
    )
    result = await cli.run("view", SLUG, job_id, "--log", "--step", skipped["number"], *cli.api)
    assert (result.code, result.out) == (0, ""), result
    assert result.err.splitlines() == [
        f"gh-jobs: step {skipped['number']} ({skipped['name']}) did not run (skipped): "
        "it has no lines"
    ]


async def test_a_closed_pipe_ends_quietly_and_early(cli: Cli, fake: FakeGitHub) -> None:
    """`| head -5` prints 5 lines; gh-jobs exits 0, says nothing, and stops reading the log."""
    size = 64 * MiB
    run = fake.add_run(OWNER, REPO, jobs=1, log_size=size)
    job_id = run.job_ids[0]
    command = (
        f"{sys.executable} -m gh_jobs_async view {SLUG} {job_id} --log "
        f"--api-url {fake.api_url} | head -5; echo status=${{PIPESTATUS[0]}} >&2"
    )
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli.env(),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    head = fake.log_bytes(job_id)[:4096].decode("utf-8").removeprefix("\ufeff")
    assert out.decode().splitlines() == [strip_ansi(line) for line in head.split("\n")[:5]]
    assert err.decode().strip() == "status=0"
    assert fake.stats.blob_bytes_by_job[job_id] < size // 2  # it stopped, did not drain the log


async def test_unmatched_boundaries_are_never_a_silent_guess(cli: Cli, fake: FakeGitHub) -> None:
    """A composite job's extra Run groups: --failed still prints, and stderr says how it chose."""
    run = fake.add_run(
        OWNER, REPO, jobs=6, conclusions=("failure",), log_size=60_000, composite=True
    )
    job_id = next(j for j in run.job_ids if len(fake.job(j)["steps"]) > 5)
    result = await cli.run("view", SLUG, job_id, "--log", "--failed", *cli.api)
    assert result.code == 0, result
    assert result.out
    assert "warning" in result.err
    assert "may be in the wrong step" in result.err
