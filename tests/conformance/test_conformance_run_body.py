"""The fake's workflow runs checked against GitHub's ``workflow-run`` schema, and the model.

Every run body the fake serves (every job state, several attempts, every event option) is
validated with the OAS 3.0 validator against ``actions-runs.openapi.json``, more strictly
than the description asks: the run carries every property of ``workflow-run`` and none
other. GitHub's own example decodes with the strict converter, and `WorkflowRun` has a
field for every property of the schema, required ones without a default.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest
from conformance_support import OPENAPI_DIR, nullable_enums_fixed, problems
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from gh_jobs_async.models import WorkflowRun, decode_run, make_converter
from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.conformance

SPEC: dict[str, Any] = json.loads(
    (OPENAPI_DIR / "actions-runs.openapi.json").read_text(encoding="utf-8")
)
RUN_SCHEMA = SPEC["components"]["schemas"]["workflow-run"]
OWNER, REPO = "octo-org", "hello-world"


def _exact_validator() -> OAS30Validator:
    components = nullable_enums_fixed(SPEC["components"])
    run = components["schemas"]["workflow-run"]
    run["required"] = sorted(run["properties"])
    run["additionalProperties"] = False
    root = {"$ref": "#/components/schemas/workflow-run", "components": components}
    return OAS30Validator(root, format_checker=oas30_format_checker)


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as fake:
        yield fake


async def test_every_run_body_fits_the_schema(fake: FakeGitHub) -> None:
    """Bodies of runs in every state and outcome (pull requests, startup failures without
    jobs, waiting...), each attempt, over HTTP, validate with every property."""
    validator = _exact_validator()
    runs = [
        fake.add_run(OWNER, REPO, jobs=3, attempts=2),
        fake.add_run(OWNER, REPO, jobs=4, statuses=["queued", "in_progress", "completed"]),
        fake.add_run(OWNER, REPO, jobs=2, conclusions=["failure", "cancelled"], event="schedule"),
        fake.add_run(OWNER, REPO, jobs=0, workflow_name=None, head_branch=None),
    ]
    pulls = [fake.add_run(OWNER, REPO, jobs=1, event="pull_request") for _ in range(4)]
    pulls.append(fake.add_run(OWNER, REPO, jobs=1, event="pull_request", head_branch=None))
    assert any(fake.run_dict(run.run_id)["pull_requests"] for run in pulls)
    runs += pulls
    outcomes = {"timed_out": 1, "skipped": 1, "startup_failure": 1, "action_required": 1}
    planned = fake.add_runs(OWNER, REPO, count=7, days=1, queued=1, waiting=1, **outcomes)
    shown = {
        fake.run_dict(run_id)["conclusion"] or fake.run_dict(run_id)["status"] for run_id in planned
    }
    assert shown == {"success", "queued", "waiting", *outcomes}
    runs += [fake.run(run_id) for run_id in planned]
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for run in runs:
            paths = [f"/runs/{run.run_id}"] + [
                f"/runs/{run.run_id}/attempts/{n}" for n in range(1, len(run.attempts) + 1)
            ]
            for path in paths:
                url = f"{fake.api_url}/repos/{OWNER}/{REPO}/actions{path}"
                async with http.get(url) as response:
                    assert response.status == 200
                    body = await response.json()
                failures += [f"{path}: {p}" for p in problems(validator, body)]
    assert failures == []


def test_the_check_is_not_vacuous() -> None:
    """A body missing a property, or with one too many, is refused by the exact validator."""
    validator = _exact_validator()
    example = copy.deepcopy(SPEC["components"]["examples"]["workflow-run"]["value"])
    example.pop("display_title")
    assert problems(validator, example)
    assert problems(validator, {**example, "display_title": "x", "extra": 1})


def test_github_example_decodes_strictly() -> None:
    """GitHub's example run decodes with the strict converter, equal to the lenient decode."""
    example = SPEC["components"]["examples"]["workflow-run"]["value"]
    strict = decode_run(example, converter=make_converter(strict=True))
    assert strict == decode_run(example)


def test_model_has_every_property() -> None:
    """One field per schema property; required properties have no default, others do."""
    fields = {field.name: field for field in attrs.fields(WorkflowRun)}
    assert set(fields) == set(RUN_SCHEMA["properties"])
    required = set(RUN_SCHEMA["required"])
    for name, field in fields.items():
        assert (field.default is attrs.NOTHING) == (name in required), name
