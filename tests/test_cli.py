"""The ``gh-jobs`` command, run as a subprocess against gh_jobs_async.testing.

Each test starts ``python -m gh_jobs_async`` with ``asyncio.create_subprocess_exec``
so that the FakeGitHub running in the test's own event loop keeps serving while
the command runs. stdout is a pipe, so the command's output is plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from _support import LEAKY_ENV

from gh_jobs_async.testing import FakeConfig, FakeGitHub, FakeRun, Fault

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
SLUG = f"{OWNER}/{REPO}"
PART_SUFFIX = ".gh-jobs-part"
#: Cycled over each attempt's jobs: jobs 2, 4 and 7 are the failed ones.
CONCLUSIONS = ("success", "failure", "success", "timed_out", "skipped")
FAILED = frozenset({"failure", "timed_out"})
#: Small, one of them sent by the fake in two 64 KiB chunks.
LOG_SIZES = (1_000, 5_000, 70_000)
#: Variables of the outer environment that must not reach the command.
TIMEOUT = 60.0


@dataclass(frozen=True)
class Result:
    """What a finished command left behind."""

    code: int
    out: str
    err: str

    def one_line_error(self, code: int) -> str:
        """Assert exit status ``code``, nothing on stdout, one line on stderr; return it."""
        assert self.code == code, self
        assert self.out == "", self
        lines = self.err.splitlines()
        assert len(lines) == 1, self
        assert lines[0].startswith("gh-jobs"), self
        assert "Traceback" not in self.err
        return lines[0]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Cli:
    """Runs ``python -m gh_jobs_async`` against one fake; kills what is left at teardown."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.procs: list[asyncio.subprocess.Process] = []

    @property
    def api(self) -> tuple[str, str]:
        """``--api-url`` of the fake."""
        return ("--api-url", self.fake.api_url)

    def env(self, token: str | None = "", **extra: str) -> dict[str, str]:
        """The outer environment without tokens; ``GH_TOKEN`` is the fake's unless given."""
        env = {key: value for key, value in os.environ.items() if key not in LEAKY_ENV}
        if token is not None:
            env["GH_TOKEN"] = token or self.fake.token
        env.update(extra)
        return env

    async def start(
        self, *args: object, env: Mapping[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        """Start the command with stdout and stderr as pipes."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gh_jobs_async",
            *map(str, args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(self.env() if env is None else env),
            # as from a terminal: a shell running us in the background (CI scripts do) starts
            # children with SIGINT ignored, and Python then never turns Ctrl-C into
            # KeyboardInterrupt
            preexec_fn=_default_sigint,
        )
        self.procs.append(proc)
        return proc

    async def finish(self, proc: asyncio.subprocess.Process) -> Result:
        """Wait for the command to end (within TIMEOUT) and collect its output."""
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        assert proc.returncode is not None
        return Result(proc.returncode, out.decode(), err.decode())

    async def run(self, *args: object, env: Mapping[str, str] | None = None) -> Result:
        """Run the command to its end."""
        return await self.finish(await self.start(*args, env=env))

    async def close(self) -> None:
        """Kill and reap every command still running (a failed test must not leak them)."""
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):  # it may have just ended
                    proc.kill()
                await proc.communicate()


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as fake:
        yield fake


@pytest.fixture(name="run")
def fixture_run(fake: FakeGitHub) -> FakeRun:
    """A run of two attempts of 8 jobs each, with failures and logs of three sizes."""
    return fake.add_run(
        OWNER, REPO, jobs=8, attempts=2, conclusions=CONCLUSIONS, log_size=LOG_SIZES
    )


@pytest.fixture(name="cli")
async def fixture_cli(fake: FakeGitHub) -> AsyncIterator[Cli]:
    cli = Cli(fake)
    yield cli
    await cli.close()


def json_lines(text: str) -> list[dict[str, object]]:
    """Parse JSON Lines (each line one object)."""
    return [json.loads(line) for line in text.splitlines()]


def job_ids(
    fake: FakeGitHub, run_id: int, filter: Literal["latest", "all"] = "latest"
) -> list[int]:
    """Ids of the jobs a listing yields, in order."""
    return [int(job["id"]) for job in fake.jobs_for(OWNER, REPO, run_id, filter)]


def logged_ids(fake: FakeGitHub, run_id: int) -> list[int]:
    """Ids of the run's latest jobs that have a log (not skipped or cancelled before they
    ran), in listing order: what a harvest downloads."""
    return [j for j in job_ids(fake, run_id) if fake.log_state(j) == "ok"]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def logs_in(out: Path) -> dict[int, Path]:
    """The finished log files of a harvest directory, by job id."""
    return {int(path.stem): path for path in out.glob("*.log")}


def parts_in(out: Path) -> list[Path]:
    """Temporary files of downloads in progress, anywhere under ``out``."""
    return list(out.rglob(f"*{PART_SUFFIX}"))


def assert_intact(fake: FakeGitHub, logs: Mapping[int, Path]) -> None:
    """Every log file holds exactly the fake's log."""
    for job_id, path in logs.items():
        assert sha256(path) == fake.log_sha256(job_id), job_id


# ------------------------------------------------------------------ list and get


@pytest.mark.parametrize(
    ("options", "selection"),
    [
        ((), {}),
        (("--filter", "all"), {"filter": "all"}),
        (("--attempt", "1"), {"attempt": 1}),
    ],
    ids=["latest", "filter-all", "attempt-1"],
)
async def test_list_json_prints_the_fakes_jobs(
    cli: Cli,
    fake: FakeGitHub,
    run: FakeRun,
    options: tuple[str, ...],
    selection: dict[str, Any],
) -> None:
    """`list --json` prints JSON Lines equal, in order, to the jobs the fake serves."""
    result = await cli.run("list", SLUG, run.run_id, "--json", *options, *cli.api)
    assert result.code == 0, result
    assert result.err == ""
    expected = fake.jobs_for(OWNER, REPO, run.run_id, **selection)
    assert json_lines(result.out) == expected
    assert len(expected) == (16 if selection.get("filter") == "all" else 8)


async def test_list_table_lists_every_job_plainly(cli: Cli, fake: FakeGitHub, run: FakeRun) -> None:
    """`list` prints a plain table with every job id, even when FORCE_COLOR asks for colour."""
    env = cli.env(FORCE_COLOR="1")
    result = await cli.run("list", SLUG, run.run_id, "--filter", "all", *cli.api, env=env)
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0] == f"{SLUG} run {run.run_id}: 16 jobs"
    assert lines[1].split() == ["id", "name", "status", "conclusion", "duration", "runner"]
    assert [int(line.split()[0]) for line in lines[2:]] == job_ids(fake, run.run_id, filter="all")
    assert "\x1b" not in result.out  # no escape codes
    assert not set(result.out) & set("─━│┃┌┏")  # no box drawing


async def test_get_prints_a_summary_with_steps(cli: Cli, fake: FakeGitHub, run: FakeRun) -> None:
    """`get` prints the job's name, id, status and every step."""
    job = fake.job(job_ids(fake, run.run_id)[1])
    result = await cli.run("get", SLUG, job["id"], *cli.api)
    assert result.code == 0, result
    assert result.out.startswith(f"{job['name']}  (job {job['id']}, run {run.run_id}")
    assert f"{job['status']} / {job['conclusion']}" in result.out
    steps = job["steps"]
    assert steps
    for step in steps:
        assert re.search(rf"^\s*{step['number']}\s+{re.escape(step['name'])}\s", result.out, re.M)


async def test_get_json_equals_the_fakes_job(cli: Cli, fake: FakeGitHub, run: FakeRun) -> None:
    """`get --json` prints the job exactly as the fake serves it."""
    job_id = job_ids(fake, run.run_id)[0]
    result = await cli.run("get", SLUG, job_id, "--json", *cli.api)
    assert result.code == 0, result
    assert json.loads(result.out) == fake.job(job_id)


# ------------------------------------------------------------------ logs


async def test_logs_harvests_every_log_intact(
    cli: Cli, fake: FakeGitHub, run: FakeRun, tmp_path: Path
) -> None:
    """`logs --out DIR` writes every job's log with the right SHA-256 and exits 0."""
    out = tmp_path / "logs"
    result = await cli.run("logs", SLUG, run.run_id, "--out", out, *cli.api)
    assert result.code == 0, result
    logs = logs_in(out)
    assert sorted(logs) == sorted(logged_ids(fake, run.run_id))
    assert_intact(fake, logs)
    assert parts_in(out) == []
    assert re.search(rf"^downloaded\s+{len(logs)}$", result.out, re.M), result.out
    never_ran = len(job_ids(fake, run.run_id)) - len(logs)
    assert never_ran > 0  # a skipped job: not a failure, no request, named
    assert re.search(rf"^not_available\s+{never_ran}$", result.out, re.M), result.out
    assert f"{never_ran} jobs never ran" in result.out
    assert "\x1b" not in result.out


async def test_logs_harvests_two_runs_at_once(
    cli: Cli, fake: FakeGitHub, run: FakeRun, tmp_path: Path
) -> None:
    """`logs` with two RUN_IDs harvests the jobs of both."""
    other = fake.add_run(OWNER, REPO, jobs=5, log_size=2_000)
    out = tmp_path / "logs"
    result = await cli.run("logs", SLUG, run.run_id, other.run_id, "--out", out, *cli.api)
    assert result.code == 0, result
    logs = logs_in(out)
    assert sorted(logs) == sorted(logged_ids(fake, run.run_id) + logged_ids(fake, other.run_id))
    assert_intact(fake, logs)


async def test_logs_failed_only_fetches_only_failed_jobs(
    cli: Cli, fake: FakeGitHub, run: FakeRun, tmp_path: Path
) -> None:
    """`logs --failed-only` downloads the logs of failed and timed-out jobs, and no other."""
    failed = [
        int(job["id"])
        for job in fake.jobs_for(OWNER, REPO, run.run_id)
        if job["conclusion"] in FAILED
    ]
    assert len(failed) == 3
    out = tmp_path / "logs"
    result = await cli.run("logs", SLUG, run.run_id, "--out", out, "--failed-only", *cli.api)
    assert result.code == 0, result
    assert sorted(logs_in(out)) == sorted(failed)
    assert sorted(fake.stats.log_downloads) == sorted(failed)


async def test_logs_without_log_exit_1_and_are_named(
    cli: Cli, fake: FakeGitHub, run: FakeRun, tmp_path: Path
) -> None:
    """Jobs that ran whose logs answer 404 or 410 make `logs` exit 1 and are listed with the
    reason."""
    ids = logged_ids(fake, run.run_id)
    missing, gone = ids[2], ids[5]
    fake.set_log_state(missing, "not_available")
    fake.set_log_state(gone, "gone")
    out = tmp_path / "logs"
    result = await cli.run("logs", SLUG, run.run_id, "--out", out, *cli.api)
    assert result.code == 1, result
    assert "Traceback" not in result.err
    assert re.search(rf"^{missing}\s+not_available\s+404", result.out, re.M), result.out
    assert re.search(rf"^{gone}\s+gone\s+410", result.out, re.M), result.out
    logs = logs_in(out)
    assert sorted(logs) == sorted(set(ids) - {missing, gone})
    assert_intact(fake, logs)


async def test_second_run_downloads_nothing(
    cli: Cli, fake: FakeGitHub, run: FakeRun, tmp_path: Path
) -> None:
    """A second `logs` over the same --out downloads nothing, skips every log and exits 0."""
    out = tmp_path / "logs"
    first = await cli.run("logs", SLUG, run.run_id, "--out", out, *cli.api)
    assert first.code == 0, first
    downloads = fake.stats.snapshot().log_downloads
    blob_requests = fake.stats.blob_requests
    second = await cli.run("logs", SLUG, run.run_id, "--out", out, *cli.api)
    assert second.code == 0, second
    assert fake.stats.log_downloads == downloads
    assert fake.stats.blob_requests == blob_requests
    assert re.search(rf"^skipped\s+{len(logged_ids(fake, run.run_id))}$", second.out, re.M)
    assert_intact(fake, logs_in(out))


# ------------------------------------------------------------------ errors


BAD_USAGE = {
    "unknown-subcommand": ["bogus", SLUG, "{run}"],
    "missing-out": ["logs", SLUG, "{run}"],
    "repo-without-slash": ["list", "noslash", "{run}"],
    "repo-with-two-slashes": ["list", "a/b/c", "{run}"],
    "non-integer-run-id": ["list", SLUG, "abc"],
    "unknown-filter": ["list", SLUG, "{run}", "--filter", "bogus"],
    "run-id-0": ["list", SLUG, "0"],
    "run-id-0-in-logs": ["logs", SLUG, "{run}", "0", "--out", "{out}"],
    "attempt-with-filter-all": ["list", SLUG, "{run}", "--attempt", "1", "--filter", "all"],
    "concurrency-0": ["logs", SLUG, "{run}", "--out", "{out}", "--concurrency", "0"],
    "missing-token-file": ["list", SLUG, "{run}", "--token-file", "{out}.token"],
    "token-file-and-anonymous": ["list", SLUG, "{run}", "--token-file", "x", "--anonymous"],
    "demo-jobs-0": ["demo", "--out", "{out}", "--jobs", "0"],
}


@pytest.mark.parametrize("args", BAD_USAGE.values(), ids=BAD_USAGE.keys())
async def test_bad_usage_is_one_line_and_exit_2(
    cli: Cli, fake: FakeGitHub, run: FakeRun, tmp_path: Path, args: list[str]
) -> None:
    """Bad arguments give one line on stderr and exit 2, before any request or any file."""
    out = tmp_path / "logs"
    argv = [arg.format(run=run.run_id, out=out) for arg in args]
    if argv[0] != "demo":
        argv += cli.api
    result = await cli.run(*argv)
    result.one_line_error(2)
    assert fake.stats.requests == 0
    assert not out.exists()


@pytest.mark.parametrize("command", ["list", "logs"])
async def test_missing_token_is_one_line_and_exit_2(
    cli: Cli, fake: FakeGitHub, run: FakeRun, tmp_path: Path, command: str
) -> None:
    """Without GH_TOKEN, GITHUB_TOKEN or --token-file the command says so and exits 2."""
    out = tmp_path / "logs"
    args = [run.run_id] + (["--out", out] if command == "logs" else [])
    result = await cli.run(command, SLUG, *args, *cli.api, env=cli.env(token=None))
    line = result.one_line_error(2)
    assert "GH_TOKEN" in line
    assert fake.stats.requests == 0
    assert not out.exists()


@pytest.mark.parametrize("command", ["list", "logs"])
async def test_wrong_token_is_one_line_and_exit_2(
    cli: Cli, run: FakeRun, tmp_path: Path, command: str
) -> None:
    """A token GitHub refuses (401) gives one line naming the problem and exits 2."""
    args = [run.run_id] + (["--out", tmp_path / "logs"] if command == "logs" else [])
    env = cli.env(token="ghp_notTheRightOne")
    result = await cli.run(command, SLUG, *args, *cli.api, env=env)
    line = result.one_line_error(2)
    assert "401" in line
    assert "ghp_notTheRightOne" not in line


async def test_unknown_run_is_one_line_and_exit_1(cli: Cli) -> None:
    """A run GitHub does not know (404) gives one line and exits 1."""
    result = await cli.run("list", SLUG, "424242", *cli.api)
    line = result.one_line_error(1)
    assert "404" in line


async def test_debug_shows_the_traceback_and_keeps_the_exit_status(cli: Cli) -> None:
    """With --debug an error comes with its traceback and DEBUG logs; the status is unchanged."""
    result = await cli.run("list", SLUG, "424242", "--debug", *cli.api)
    assert result.code == 1, result
    assert "Traceback" in result.err
    assert "NotFoundError" in result.err
    assert " DEBUG " in result.err
    assert result.err.splitlines()[-1].startswith("gh-jobs: error: 404")


# ------------------------------------------------------------------ interruption


async def interrupt_mid_harvest(
    cli: Cli, fake: FakeGitHub, out: Path, signum: signal.Signals
) -> tuple[FakeRun, list[str], Result]:
    """Start a slow harvest, signal it once logs are done and others are half-written."""
    # 60 jobs, 3 at a time, each stalling 0.3 s: about 6 s, ample for a late poll on a
    # loaded machine to still catch the harvest mid-way
    run = fake.add_run(OWNER, REPO, jobs=60, log_size=20_000)
    # every download sends half its body, stalls, then sends the rest: files are mid-way
    fake.inject(Fault("blob", "stall", times=1_000, stall_seconds=0.3))
    argv = ["logs", SLUG, str(run.run_id), "--out", str(out), "--concurrency", "3", *cli.api]
    proc = await cli.start(*argv)
    async with asyncio.timeout(TIMEOUT):
        while len(logs_in(out)) < 2 or not parts_in(out):
            assert proc.returncode is None, await cli.finish(proc)
            await asyncio.sleep(0.01)
    proc.send_signal(signum)
    result = await cli.finish(proc)
    fake.clear_faults()
    return run, argv, result


async def test_sigint_leaves_no_partial_file_and_resumes(
    cli: Cli, fake: FakeGitHub, tmp_path: Path
) -> None:
    """Ctrl-C mid-harvest exits 130, leaves only complete logs, says how to resume; a re-run
    completes the harvest without downloading again what was complete."""
    out = tmp_path / "logs"
    run, argv, result = await interrupt_mid_harvest(cli, fake, out, signal.SIGINT)
    assert result.code == 130, result
    assert "Traceback" not in result.err
    assert "resume" in result.err
    assert f"--out {out}" in result.err
    assert parts_in(out) == []
    done = logs_in(out)
    assert 2 <= len(done) < 60
    assert_intact(fake, done)
    downloads = fake.stats.snapshot().log_downloads

    again = await cli.run(*argv)
    assert again.code == 0, again
    logs = logs_in(out)
    assert sorted(logs) == logged_ids(fake, run.run_id)
    assert_intact(fake, logs)
    assert all(fake.stats.log_downloads[job_id] == downloads[job_id] for job_id in done)


async def test_sigterm_stops_like_ctrl_c(cli: Cli, fake: FakeGitHub, tmp_path: Path) -> None:
    """SIGTERM mid-harvest exits 143 and, like Ctrl-C, leaves no partial file."""
    out = tmp_path / "logs"
    _run, _argv, result = await interrupt_mid_harvest(cli, fake, out, signal.SIGTERM)
    assert result.code == 143, result
    assert "resume" in result.err
    assert parts_in(out) == []
    assert_intact(fake, logs_in(out))


# ------------------------------------------------------------------ token and API URL


@pytest.fixture(name="secret_fake")
async def fixture_secret_fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(FakeConfig(token="ghs_cliTestSecret0123456789")) as fake:
        yield fake


async def test_token_file_works_and_the_token_never_shows(
    secret_fake: FakeGitHub, tmp_path: Path
) -> None:
    """--token-file authenticates; the token appears in no output, --debug included."""
    fake, cli = secret_fake, Cli(secret_fake)
    run = fake.add_run(OWNER, REPO, jobs=3, log_size=500)
    token_file = tmp_path / "token"
    token_file.write_text(fake.token + "\n")
    wrong_file = tmp_path / "wrong"
    wrong_file.write_text("ghs_wrongSecret9876543210\n")
    env = cli.env(token=None)
    auth = ["--token-file", token_file, "--debug", *cli.api]
    try:
        results = [
            await cli.run("list", SLUG, run.run_id, "--json", *auth, env=env),
            await cli.run("get", SLUG, job_ids(fake, run.run_id)[0], *auth, env=env),
            await cli.run("logs", SLUG, run.run_id, "--out", tmp_path / "logs", *auth, env=env),
        ]
        refused = await cli.run(
            "list", SLUG, run.run_id, "--token-file", wrong_file, "--debug", *cli.api, env=env
        )
    finally:
        await cli.close()
    assert [r.code for r in results] == [0, 0, 0], results
    assert len(json_lines(results[0].out)) == 3
    assert all(" DEBUG " in r.err for r in results)  # --debug did log the requests
    assert refused.code == 2, refused
    assert "Traceback" in refused.err
    for result in [*results, refused]:
        for secret in (fake.token, "ghs_wrongSecret9876543210"):
            assert secret not in result.out
            assert secret not in result.err


async def test_github_token_is_read_too(cli: Cli, fake: FakeGitHub, run: FakeRun) -> None:
    """GITHUB_TOKEN is used when GH_TOKEN is not set."""
    env = cli.env(token=None, GITHUB_TOKEN=fake.token)
    result = await cli.run("list", SLUG, run.run_id, "--json", *cli.api, env=env)
    assert result.code == 0, result
    assert len(json_lines(result.out)) == 8


async def test_github_api_url_is_honoured(cli: Cli, fake: FakeGitHub, run: FakeRun) -> None:
    """Without --api-url the command talks to $GITHUB_API_URL."""
    env = cli.env(GITHUB_API_URL=fake.api_url)
    result = await cli.run("list", SLUG, run.run_id, "--json", env=env)
    assert result.code == 0, result
    assert json_lines(result.out) == fake.jobs_for(OWNER, REPO, run.run_id)


# ------------------------------------------------------------------ fake-server and demo


async def test_fake_server_prints_url_and_token_and_stops_on_sigint(cli: Cli) -> None:
    """`fake-server --port 0` prints a URL and token that work, and stops cleanly on Ctrl-C."""
    proc = await cli.start("fake-server", "--port", "0", "--jobs", "3", "--attempts", "1")
    assert proc.stdout is not None
    banner: list[str] = []
    async with asyncio.timeout(TIMEOUT):
        while not banner or not banner[-1].startswith("Press Ctrl-C"):
            line = await proc.stdout.readline()
            assert line, (banner, await cli.finish(proc))
            banner.append(line.decode().rstrip("\n"))
    text = "\n".join(banner)
    url = re.search(r"^API URL:\s+(http://\S+)$", text, re.M)
    token = re.search(r"^Token:\s+(\S+)$", text, re.M)
    run_id = re.search(r"run_id=(\d+)", text)
    assert url, text
    assert token, text
    assert run_id, text

    env = cli.env(token=token[1])
    listed = await cli.run("list", SLUG, run_id[1], "--json", "--api-url", url[1], env=env)
    assert listed.code == 0, listed
    assert len(json_lines(listed.out)) == 3

    proc.send_signal(signal.SIGINT)
    result = await cli.finish(proc)
    assert result.code == 0, result
    assert "Traceback" not in result.err


async def test_demo_harvests_a_sample_run(cli: Cli, tmp_path: Path) -> None:
    """`demo --out DIR --jobs 30` harvests 30 logs, says where they are, and exits 0."""
    out = tmp_path / "demo"
    result = await cli.run("demo", "--out", out, "--jobs", "30", env=cli.env(token=None))
    assert result.code == 0, result
    assert len(logs_in(out)) == 30
    assert parts_in(out) == []
    assert re.search(r"^downloaded\s+30$", result.out, re.M), result.out
    assert f"logs are in {out.resolve()}" in result.out
