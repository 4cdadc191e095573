"""``gh-jobs runs`` and ``gh-jobs logs`` with run filters, as subprocesses against the fake."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from _support import CliResult, run_gh_jobs

from gh_jobs_async.testing import FakeConfig, FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
SLUG = f"{OWNER}/{REPO}"
JOB_LISTING = re.compile(r"/actions/runs/(\d+)/jobs")


async def gh_jobs(fake: FakeGitHub, *args: object) -> CliResult:
    """Run ``python -m gh_jobs_async ARGS --api-url FAKE`` to its end: (status, out, err)."""
    return await run_gh_jobs(fake, *args, timeout=120)


@pytest_asyncio.fixture(name="fake")
async def _fake() -> AsyncIterator[FakeGitHub]:
    """Runs in the last 25 days, and runs 35 to 60 days ago: none near 30 days back."""
    async with FakeGitHub(FakeConfig(rate_limit=None)) as fake:
        now = datetime.now(UTC)
        fake.add_runs(OWNER, REPO, count=150, days=25, end=now, failed=30, in_progress=5, jobs=3)
        fake.add_runs(
            OWNER, REPO, count=150, days=25, end=now - timedelta(days=35), failed=30, jobs=3
        )
        yield fake


def listed_runs(fake: FakeGitHub) -> set[int]:
    return {
        int(match.group(1))
        for record in fake.stats.requests_log
        if (match := JOB_LISTING.search(record.path_qs))
    }


async def test_logs_since_30d_of_failed_runs_takes_exactly_their_failed_jobs(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    """--since 30d --status failure --failed-only: the failed jobs of the failed runs of
    those 30 days; run again, no finished run's jobs are listed and nothing is downloaded."""
    since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = fake.runs_matching(OWNER, REPO, status="failure", created=f">={since}")
    assert len(runs) == 30
    want = {
        job["id"]
        for run in runs
        for job in fake.jobs_for(OWNER, REPO, run["id"])
        if job["conclusion"] in ("failure", "timed_out")
    }
    out = tmp_path / "logs"
    args = ("logs", SLUG, "--since", "30d", "--status", "failure", "--failed-only", "--out", out)
    code, stdout, stderr = await gh_jobs(fake, *args)
    assert code == 0, stderr
    logs = {int(p.stem) for p in out.iterdir() if p.suffix == ".log"}
    assert logs == want
    assert listed_runs(fake) == {run["id"] for run in runs}
    assert re.search(rf"^downloaded\s+{len(want)}$", stdout, re.M), stdout

    fake.reset_stats()
    code, stdout, stderr = await gh_jobs(fake, *args)
    assert code == 0, stderr
    assert listed_runs(fake) == set()
    assert sum(fake.stats.log_downloads.values()) == 0
    assert fake.stats.blob_requests == 0
    assert re.search(rf"^skipped\s+{len(want)}$", stdout, re.M), stdout


async def test_runs_prints_a_table_of_every_match(fake: FakeGitHub) -> None:
    """The table lists every matching run, newest first, with its workflow and outcome."""
    code, stdout, stderr = await gh_jobs(fake, "runs", SLUG, "--status", "failure")
    assert code == 0, stderr
    want = fake.runs_matching(OWNER, REPO, status="failure")
    assert f"{SLUG}: {len(want)} runs" in stdout
    ids = [int(line.split()[0]) for line in stdout.splitlines()[2:]]
    assert ids == [run["id"] for run in want]


async def test_runs_json_streams_one_run_a_line(fake: FakeGitHub) -> None:
    """--json prints each run as one JSON object a line, with every filter applied."""
    args = ("runs", SLUG, "--json", "--branch", "main", "--until", "10d", "--workflow", "ci.yml")
    code, stdout, stderr = await gh_jobs(fake, *args)
    assert code == 0, stderr
    until = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    want = fake.runs_matching(OWNER, REPO, workflow="ci.yml", branch="main", created=f"<={until}")
    got = [json.loads(line) for line in stdout.splitlines()]
    # a run created in the second the command started may differ: compare with slack
    assert abs(len(got) - len(want)) <= 1
    assert {run["id"] for run in got} <= {run["id"] for run in fake.runs_matching(OWNER, REPO)}
    assert all(run["head_branch"] == "main" and run["path"].endswith("ci.yml") for run in got)


@pytest.mark.parametrize(
    "args",
    [
        ("runs", SLUG, "--since", "yesterday"),
        ("runs", SLUG, "--since", "2026-02-30"),
        ("runs", SLUG, "--until", "2026-01-01T10:00:00"),
        ("runs", SLUG, "--status", "failed"),
        ("logs", SLUG, "7000000001", "--status", "failure", "--out", "x"),
        ("logs", SLUG, "7000000001", "--all-runs", "--out", "x"),
        ("logs", SLUG, "--all-runs", "--since", "7d", "--out", "x"),
    ],
)
async def test_bad_run_selections_exit_2_with_one_line(
    fake: FakeGitHub, args: tuple[str, ...]
) -> None:
    """Bad WHEN, an unknown status, or RUN_IDs with filters: exit 2, one line, no request."""
    code, stdout, stderr = await gh_jobs(fake, *args)
    assert code == 2, (stdout, stderr)
    assert len(stderr.splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    assert fake.stats.api_requests == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("--since", "2026-02-01", "--until", "2026-01-01"),
            "--since/--until 2026-02-01 .. 2026-01-01",
        ),
        (("--sha", "zz"), "--sha 'zz'"),
        (("--status", "nope"), "--status 'nope'"),
    ],
)
async def test_a_bad_filter_is_named_by_its_option(
    fake: FakeGitHub, args: tuple[str, ...], said: str
) -> None:
    """The error names the option given (``--sha``), not the library's parameter
    (``head_sha``), and its value as typed; exit 2, nothing sent."""
    code, stdout, stderr = await gh_jobs(fake, "runs", SLUG, *args)
    assert code == 2, (stdout, stderr)
    assert stderr.startswith(f"gh-jobs: error: {said}: "), stderr
    assert "head_sha" not in stderr
    assert "datetime" not in stderr
    assert fake.stats.api_requests == 0


async def test_logs_without_run_id_or_filter_is_refused(fake: FakeGitHub, tmp_path: Path) -> None:
    """No RUN_ID and no filter would harvest every run of the repository: exit 2 with one
    line asking for a RUN_ID or a filter (naming --all-runs), nothing sent, no DIR made."""
    out = tmp_path / "logs"
    code, stdout, stderr = await gh_jobs(fake, "logs", SLUG, "--out", out)
    assert code == 2, (stdout, stderr)
    assert len(stderr.splitlines()) == 1, stderr
    assert "RUN_ID" in stderr
    assert "filter" in stderr
    assert "--all-runs" in stderr
    assert fake.stats.api_requests == 0
    assert not out.exists()


async def test_logs_all_runs_harvests_every_run(tmp_path: Path) -> None:
    """--all-runs (no RUN_ID, no filter) harvests every job of every run of the repository."""
    async with FakeGitHub(FakeConfig(rate_limit=None)) as fake:
        runs = [fake.add_run(OWNER, REPO, jobs=2).run_id for _ in range(3)]
        fake.add_run(OWNER, "other-repo", jobs=1)
        out = tmp_path / "logs"
        code, stdout, stderr = await gh_jobs(fake, "logs", SLUG, "--all-runs", "--out", out)
        assert code == 0, stderr
        want = {job["id"] for run_id in runs for job in fake.jobs_for(OWNER, REPO, run_id)}
        assert {int(p.stem) for p in out.iterdir() if p.suffix == ".log"} == want
        assert listed_runs(fake) == set(runs)
        assert re.search(rf"^downloaded\s+{len(want)}$", stdout, re.M), stdout


async def test_logs_skips_a_missing_run_of_many_but_not_a_single_one(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    """RUN_IDs with one GitHub does not know: a warning, the others harvested, exit 1 (an
    API error: a run asked for is missing); that RUN_ID alone is an error (exit 1)."""
    good = fake.runs_matching(OWNER, REPO, status="success")[0]["id"]
    out = tmp_path / "logs"
    code, stdout, stderr = await gh_jobs(fake, "logs", SLUG, good, 7999999999, "--out", out)
    assert code == 1, stderr
    assert "skipping run 7999999999" in stderr
    assert "1 runs skipped" in stderr
    assert {int(p.stem) for p in out.iterdir() if p.suffix == ".log"} == {
        job["id"] for job in fake.jobs_for(OWNER, REPO, good)
    }
    assert re.search(r"^downloaded\s+3$", stdout, re.M), stdout
    code, stdout, stderr = await gh_jobs(fake, "logs", SLUG, 7999999999, "--out", out)
    assert code == 1, (stdout, stderr)
    assert "404" in stderr
