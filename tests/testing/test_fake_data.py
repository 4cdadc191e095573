"""The fake's generated data: job dicts per the OpenAPI schema, determinism, realistic logs."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gh_jobs_async.testing import FIRST_JOB_ID, FIRST_RUN_ID, FakeConfig, FakeGitHub
from gh_jobs_async.testing._logs import BOM, LogSpec, iter_log, log_bytes, log_sha256

OPENAPI = Path(__file__).parents[2].parent / "shared" / "openapi" / "actions-jobs.openapi.json"
LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z ")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _spec(size: int, *, failed: bool = False, name: str = "build") -> LogSpec:
    started = datetime(2020, 1, 20, 17, 42, 40, tzinfo=UTC)
    return LogSpec(20_000_000_001, size, name, failed, started, "GitHub Actions 7")


async def test_job_has_every_schema_property(fake: FakeGitHub) -> None:
    """Every job dict holds every property of the OpenAPI job schema, steps included."""
    if not OPENAPI.exists():
        pytest.skip(f"{OPENAPI} not found")
    schema = json.loads(OPENAPI.read_text())["components"]["schemas"]["job"]
    step_schema = schema["properties"]["steps"]["items"]
    run = fake.add_run(jobs=6, statuses=("completed", "in_progress", "queued"))
    for job in run.latest:
        assert set(schema["properties"]) <= set(job)
        for step in job["steps"]:
            assert set(step_schema["properties"]) <= set(step)
        for name in schema["required"]:
            if job[name] is None:
                assert schema["properties"][name].get("nullable"), name


async def test_ids_are_int64_and_counted(fake: FakeGitHub) -> None:
    """Run and job ids come from counters above 2**31, attempts getting fresh job ids."""
    first = fake.add_run(jobs=3, attempts=2)
    second = fake.add_run(jobs=1)
    assert (first.run_id, second.run_id) == (FIRST_RUN_ID, FIRST_RUN_ID + 1)
    assert first.job_ids == list(range(FIRST_JOB_ID, FIRST_JOB_ID + 6))
    assert second.job_ids == [FIRST_JOB_ID + 6]
    assert all(job_id > 2**31 for job_id in first.job_ids)
    assert [job["run_attempt"] for job in first.all_jobs] == [1, 1, 1, 2, 2, 2]
    assert [j["name"] for j in first.attempts[0]] == [j["name"] for j in first.attempts[1]]


async def test_job_fields_look_like_github(fake: FakeGitHub) -> None:
    """URLs point at the fake, timestamps use the Z form, head_sha is 40 hex digits."""
    run = fake.add_run("Octo-Org", "Hello-World", jobs=2, run_id=42)
    job = run.latest[0]
    base = f"{fake.api_url}/repos/Octo-Org/Hello-World"
    assert job["url"] == f"{base}/actions/jobs/{job['id']}"
    assert job["run_url"] == f"{base}/actions/runs/42"
    assert job["check_run_url"] == f"{base}/check-runs/{job['id']}"
    assert job["html_url"].startswith("https://github.com/Octo-Org/Hello-World/actions/runs/42/")
    assert re.fullmatch(r"[0-9a-f]{40}", job["head_sha"])
    assert re.fullmatch(r"[A-Za-z0-9_\-]+", job["node_id"])
    for key in ("created_at", "started_at", "completed_at"):
        assert TIMESTAMP.match(job[key])
    assert job["created_at"] <= job["started_at"] <= job["completed_at"]
    assert [step["number"] for step in job["steps"]] == list(range(1, len(job["steps"]) + 1))
    assert 3 <= len(job["steps"]) <= 8
    assert job["steps"][0]["name"] == "Set up job"
    assert job["steps"][-1]["name"] == "Complete job"


async def test_default_names_are_realistic_and_unique(fake: FakeGitHub) -> None:
    """Default job names mix fixed jobs, matrix builds and shards, without repeats."""
    names = [job["name"] for job in fake.add_run(jobs=300).latest]
    assert names[:3] == ["lint", "typecheck", "docs"]
    assert "build (ubuntu-latest, 3.11)" in names
    assert "test / unit (shard 3)" in names
    assert len(set(names)) == len(names)


async def test_hostile_names_are_served_verbatim(fake: FakeGitHub) -> None:
    """Overridden names are cycled and kept byte for byte, control characters included."""
    names = ["../../etc/passwd", "a/b\x00c", "日本語 ✓"]
    run = fake.add_run(jobs=4, names=names)
    assert [job["name"] for job in run.latest] == [*names, names[0]]
    assert "Complete job name: a/b\x00c" in fake.log_bytes(run.job_ids[1]).decode()


async def test_statuses_and_conclusions_shape_jobs(fake: FakeGitHub) -> None:
    """Queued jobs lack runner and steps; failures fail one step; cancelled jobs never ran."""
    run = fake.add_run(
        jobs=4,
        statuses=("completed", "completed", "in_progress", "queued"),
        conclusions=("failure", "cancelled"),
    )
    failed, cancelled, running, queued = run.latest
    assert [s["conclusion"] for s in failed["steps"]].count("failure") == 1
    assert failed["steps"][-1]["conclusion"] == "success"
    assert cancelled["runner_id"] is None
    assert cancelled["steps"] == []
    assert running["conclusion"] is None
    assert running["completed_at"] is None
    assert running["runner_name"] is not None
    assert any(step["status"] != "completed" for step in running["steps"])
    assert queued["runner_id"] is queued["runner_group_name"] is queued["conclusion"] is None
    assert queued["steps"] == []


async def test_same_calls_give_same_data() -> None:
    """Two fakes with one config and the same add_run calls serve identical jobs and logs."""
    results = []
    for _ in range(2):
        async with FakeGitHub(FakeConfig(seed=7)) as fake:
            run = fake.add_run(jobs=5, attempts=2, conclusions=("success", "failure"))
            jobs = [{k: v for k, v in j.items() if "url" not in k} for j in run.all_jobs]
            results.append((jobs, [fake.log_sha256(job_id) for job_id in run.job_ids]))
    assert results[0] == results[1]
    async with FakeGitHub(seed=8) as other:
        run = other.add_run(jobs=5, attempts=2, conclusions=("success", "failure"))
        assert other.log_sha256(run.job_ids[0]) != results[0][1][0]


async def test_update_job_changes_what_is_served(fake: FakeGitHub) -> None:
    """update_job merges fields into the served job and returns the new dict."""
    run = fake.add_run(jobs=1)
    updated = fake.update_job(run.job_ids[0], status="brand_new_status")
    assert updated["status"] == fake.job(run.job_ids[0])["status"] == "brand_new_status"
    assert run.latest[0]["status"] == "completed"  # FakeRun holds copies


@pytest.mark.parametrize("size", [0, 1, 2, 3, 10, 500, 4096, 300_000, 1 << 20])
def test_log_has_exact_size_and_streams_consistently(size: int) -> None:
    """Logs are exactly log_size bytes of UTF-8 and any range streams the same bytes."""
    spec = _spec(size, failed=True)
    body = log_bytes(spec)
    assert len(body) == size
    body.decode("utf-8")
    for start, end in ((0, size), (7, size - 3), (size // 3, size)):
        assert b"".join(iter_log(spec, start, end, chunk_size=997)) == body[start:end]
    assert log_sha256(spec) == hashlib.sha256(body).hexdigest()


def test_log_looks_like_a_runner_log() -> None:
    """BOM on the first line only, 7-digit timestamps, groups, ANSI codes, continuations."""
    body = log_bytes(_spec(600_000, failed=True))
    assert body.startswith(BOM)
    assert body.count(BOM) == 1
    lines = body[len(BOM) :].split(b"\n")[:-1]
    stamped = [line for line in lines if LINE.match(line)]
    assert len(stamped) > 0.8 * len(lines)
    assert any(line.startswith(b"  ") for line in lines)  # continuation without timestamp
    for marker in (b"##[group]Run ", b"##[endgroup]", b"##[debug]", b"\x1b[36;1m"):
        assert marker in body
    assert b"##[error]Process completed with exit code 1." in body
    assert b"##[error]" not in log_bytes(_spec(600_000, failed=False))
    assert body.endswith(b"\n")


def test_logs_of_different_jobs_differ() -> None:
    """Two jobs with the same size still get different bodies (head carries the job)."""
    one = _spec(10_000)
    other = LogSpec(20_000_000_002, 10_000, "build", False, one.started, "GitHub Actions 7")
    assert log_sha256(one) != log_sha256(other)


def test_runs_need_a_started_fake() -> None:
    """add_run before start raises RuntimeError: job URLs need the bound address."""
    with pytest.raises(RuntimeError, match="not started"):
        FakeGitHub().add_run()


@pytest.mark.parametrize(
    "overrides",
    [{"secondary_status": 500}, {"logs_mode": "ftp"}, {"chunk_size": 0}, {"fault_rate_5xx": 2.0}],
)
def test_invalid_config_is_rejected(overrides: dict[str, object]) -> None:
    """FakeConfig refuses settings the server could not honour."""
    with pytest.raises(ValueError, match="must"):
        FakeConfig(**overrides)  # type: ignore[arg-type]
