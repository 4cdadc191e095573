"""The fake GitHub checked against GitHub's description, so the two cannot drift apart.

Every JSON body the fake serves for the four operations (jobs in every state, pages of runs
with several attempts, both filters, several page sizes, past the last page, and the error
bodies) is validated with openapi-schema-validator's ``OAS30Validator`` (formats checked:
``int64``, ``date-time``) against the schema the description gives for that operation and
status. Two documented adjustments (see ``conformance_support``): fix-up 2 (``None`` added to
nullable enums), and :func:`~conformance_support.exact`: the fake must serve every property
of ``job`` and its steps and none that the description lacks.

Statuses the description does not list for an operation (401 anywhere, 404 on the job, list
and logs operations, 410 on logs) are checked against ``basic-error``, the schema of GitHub's
error bodies, which the description uses for the 404 it does list.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from conformance_support import (
    ATTEMPT_PATH,
    JOB_PATH,
    LIST_PATH,
    LOGS_PATH,
    JSONDict,
    fixed_example,
    load_spec,
    problems,
    raw_validator_for,
    response_schema,
    validator_for,
)

from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.conformance

_JOB = load_spec()["components"]["schemas"]["job"]["properties"]
CONCLUSIONS = tuple(_JOB["conclusion"]["enum"])  # every value the spec knows
STATUSES = tuple(_JOB["status"]["enum"])
OPERATION_NAMES = {JOB_PATH: "job", LOGS_PATH: "logs", LIST_PATH: "list", ATTEMPT_PATH: "attempt"}
BASIC_ERROR: JSONDict = {"$ref": "#/components/schemas/basic-error"}


@dataclass
class Checker:
    """Fetches from the fake and validates each answer against one spec's schemas."""

    spec: JSONDict
    fake: FakeGitHub
    http: aiohttp.ClientSession
    failures: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def _validator(self, operation: str, status: int) -> Any:
        schema = response_schema(self.spec, operation, status)
        if schema is None:
            return validator_for(self.spec, BASIC_ERROR, strict=True)
        if "properties" in schema:  # the page object, written inline in the operation
            schema = copy.deepcopy(schema)
            schema["additionalProperties"] = False
        return validator_for(self.spec, schema, strict=True)

    async def fetch(
        self, operation: str, path: str, *, expect: int, token: str | None = None
    ) -> tuple[Any, dict[str, str]]:
        """GET ``path`` (relative to the API root) and validate its body for ``operation``."""
        headers = {"Authorization": f"Bearer {token or self.fake.token}"}
        headers["Accept"] = "application/vnd.github+json"
        async with self.http.get(
            self.fake.api_url + path, headers=headers, allow_redirects=False
        ) as response:
            body, status = await response.read(), response.status
            answer = {key.lower(): value for key, value in response.headers.items()}
        where = f"GET {path} -> {status}"
        key = f"{OPERATION_NAMES[operation]} {status}"
        self.checked[key] = self.checked.get(key, 0) + 1
        if status != expect:
            self.failures.append(f"{where}: expected {expect}")
            return None, answer
        if status == 302:
            if not answer.get("location"):  # the spec: 302 with a Location string
                self.failures.append(f"{where}: no Location header")
            return None, answer
        if not answer.get("content-type", "").startswith("application/json"):
            self.failures.append(f"{where}: content-type {answer.get('content-type')}")
        data = json.loads(body)
        self.failures += [
            f"{where}: {p}" for p in problems(self._validator(operation, status), data)
        ]
        return data, answer


@pytest.fixture(name="http")
async def fixture_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session (the fake is checked without the client)."""
    async with aiohttp.ClientSession() as http:
        yield http


def _runs(fake: FakeGitHub, owner: str, repo: str) -> list[int]:
    """Runs covering every status and conclusion, several attempts, nulls, an empty run."""
    runs = [
        fake.add_run(owner, repo, jobs=len(CONCLUSIONS), attempts=3, conclusions=CONCLUSIONS),
        fake.add_run(owner, repo, jobs=len(STATUSES), attempts=2, statuses=STATUSES),
        fake.add_run(owner, repo, jobs=3, workflow_name=None, head_branch=None),
        fake.add_run(owner, repo, jobs=0),
    ]
    return [run.run_id for run in runs]


async def _check_listings(check: Checker, base: str, run_id: int, attempts: int) -> set[int]:
    """Every page (and one past the end) of each listing of ``run_id``; the job ids seen."""
    seen: set[int] = set()
    listings = [(LIST_PATH, f"{base}/runs/{run_id}/jobs?filter={f}&") for f in ("latest", "all")]
    listings += [
        (ATTEMPT_PATH, f"{base}/runs/{run_id}/attempts/{a}/jobs?") for a in range(1, attempts + 1)
    ]
    for operation, prefix in listings:
        for per_page in (1, 4, 100):
            page = 1
            while True:
                data, _ = await check.fetch(
                    operation, f"{prefix}per_page={per_page}&page={page}", expect=200
                )
                jobs = data["jobs"] if isinstance(data, dict) else []
                seen.update(job["id"] for job in jobs if isinstance(job, dict))
                if not jobs:
                    break
                page += 1
    return seen


@pytest.mark.parametrize(("spec_name", "ghes"), [("api.github.com", False), ("ghes-3.20", True)])
async def test_every_body_the_fake_serves_matches_the_description(
    http: aiohttp.ClientSession, spec_name: str, ghes: bool
) -> None:
    """Jobs, pages, redirects and error bodies of the fake all validate against the spec."""
    owner, repo = "octo-org", "hello-world"
    async with FakeGitHub(ghes=ghes, seed=3) as fake:
        check = Checker(load_spec(spec_name), fake, http)
        base = f"/repos/{owner}/{repo}/actions"
        run_ids = _runs(fake, owner, repo)
        job_ids: set[int] = set()
        for run_id in run_ids:
            attempts = len(fake.run(run_id).attempts)
            job_ids |= await _check_listings(check, base, run_id, attempts)
        some = sorted(job_ids)
        fake.set_log_state(some[0], "gone")  # 410 from the logs endpoint
        fake.set_log_state(some[1], "ok")
        for job_id in some:
            await check.fetch(JOB_PATH, f"{base}/jobs/{job_id}", expect=200)
            expect = 410 if job_id == some[0] else _logs_status(fake.job(job_id))
            await check.fetch(LOGS_PATH, f"{base}/jobs/{job_id}/logs", expect=expect)
        # Error bodies: unknown job, run and attempt; a wrong token.
        await check.fetch(JOB_PATH, f"{base}/jobs/1", expect=404)
        await check.fetch(LIST_PATH, f"{base}/runs/1/jobs", expect=404)
        await check.fetch(ATTEMPT_PATH, f"{base}/runs/{run_ids[0]}/attempts/9/jobs", expect=404)
        await check.fetch(JOB_PATH, f"{base}/jobs/{some[2]}", expect=401, token="wrong")

    assert check.failures == [], "\n".join(check.failures[:20])
    # Every job of every attempt was listed.
    assert len(job_ids) == len(CONCLUSIONS) * 3 + len(STATUSES) * 2 + 3
    expected = {"job 200", "job 401", "job 404", "list 200", "list 404", "attempt 200"}
    expected |= {"attempt 404", "logs 302", "logs 404", "logs 410"}
    assert set(check.checked) == expected, check.checked


def _logs_status(job: JSONDict) -> int:
    """The fake's documented rule: a log exists for completed jobs that ran, neither
    cancelled (before a runner took them) nor skipped (else 404)."""
    ran = job["conclusion"] not in ("cancelled", "skipped")
    return 302 if job["status"] == "completed" and ran else 404


async def test_fake_job_bodies_have_exactly_the_spec_properties() -> None:
    """A served job has every property of the spec's job (and steps), and no other."""
    spec = load_spec()
    job_schema = spec["components"]["schemas"]["job"]
    step_schema = job_schema["properties"]["steps"]["items"]
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=4, statuses=("completed", "in_progress"))
        jobs = [fake.job(job_id) for job_id in run.job_ids]
    assert all(set(job) == set(job_schema["properties"]) for job in jobs)
    steps = [step for job in jobs for step in job["steps"]]
    assert steps
    assert all(set(step) == set(step_schema["properties"]) for step in steps)


def test_validator_catches_a_drifting_body() -> None:
    """Control: a wrong type, a missing field, an extra field and a bad date all fail."""
    spec = load_spec()
    validator = validator_for(spec, {"$ref": "#/components/schemas/job"}, strict=True)
    good = fixed_example(spec, "job")
    assert problems(validator, good) == []
    cases: list[tuple[str, Any]] = [
        ("runner_id", "7"),
        ("labels", "ubuntu-latest"),
        ("created_at", "yesterday"),
        ("status", "sleeping"),
        ("id", 2**64),
    ]
    for key, value in cases:
        assert problems(validator, {**good, key: value}), key
    assert problems(validator, {k: v for k, v in good.items() if k != "head_branch"})
    assert problems(validator, {**good, "runner_labels": []})


def test_nullable_enum_quirk_is_handled_explicitly() -> None:
    """GitHub's schema as published rejects ``conclusion: null``; fix-up 2 accepts it."""
    spec = load_spec()
    job = {"$ref": "#/components/schemas/job"}
    running = {**fixed_example(spec, "job"), "status": "in_progress", "conclusion": None}
    running["completed_at"] = None
    assert any("None is not one of" in p for p in problems(raw_validator_for(spec, job), running))
    assert problems(validator_for(spec, job), running) == []
    # Fix-up 2 adds null only where the schema is nullable: a null status stays an error.
    assert problems(validator_for(spec, job), {**running, "status": None})
