"""`WorkflowRun` decoding: typed, open enums, lenient nested objects, clear errors."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from gh_jobs_async import DecodeError, RunConclusion, RunStatus, WorkflowRun
from gh_jobs_async.models import decode_run, make_converter


def _user(login: str = "octocat") -> dict[str, Any]:
    return {
        "login": login,
        "id": 1,
        "node_id": "MDQ6VXNlcjE=",
        "type": "User",
        "site_admin": False,
        "html_url": f"https://github.com/{login}",
        "avatar_url": "https://github.com/images/error/octocat_happy.gif",
        "gists_url": "https://api.github.com/users/octocat/gists{/gist_id}",
    }


def _repo() -> dict[str, Any]:
    return {
        "id": 1296269,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": "Hello-World",
        "full_name": "octocat/Hello-World",
        "owner": _user(),
        "private": False,
        "fork": False,
        "html_url": "https://github.com/octocat/Hello-World",
        "url": "https://api.github.com/repos/octocat/Hello-World",
        "description": None,
        "archive_url": "https://api.github.com/repos/octocat/Hello-World/{archive_format}{/ref}",
    }


def _pr_repo() -> dict[str, Any]:
    return {"id": 1, "url": "https://api.github.com/repos/octocat/Hello-World", "name": "n"}


def sample_run(**changes: Any) -> dict[str, Any]:
    """A workflow-run body with every required property, as GitHub serves it."""
    api = "https://api.github.com/repos/octocat/Hello-World/actions/runs/30433642"
    run: dict[str, Any] = {
        "id": 30433642,
        "name": "Build",
        "node_id": "MDEyOldvcmtmbG93IFJ1bjI2OTI4OQ==",
        "check_suite_id": 42,
        "check_suite_node_id": "MDEwOkNoZWNrU3VpdGU0Mg==",
        "head_branch": "main",
        "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
        "path": ".github/workflows/build.yml@main",
        "run_number": 562,
        "run_attempt": 2,
        "referenced_workflows": [{"path": "o/r/.github/workflows/x.yml@v1", "sha": "f" * 40}],
        "event": "push",
        "status": "completed",
        "conclusion": "startup_failure",
        "workflow_id": 159038,
        "url": api,
        "html_url": "https://github.com/octocat/Hello-World/actions/runs/30433642",
        "pull_requests": [
            {
                "id": 7,
                "number": 3,
                "url": "https://api.github.com/repos/octocat/Hello-World/pulls/3",
                "head": {"ref": "f", "sha": "a" * 40, "repo": _pr_repo()},
                "base": {"ref": "main", "sha": "b" * 40, "repo": _pr_repo()},
            }
        ],
        "created_at": "2020-01-22T19:33:08Z",
        "updated_at": "2020-01-22T19:33:08Z",
        "actor": _user(),
        "triggering_actor": _user("hubot"),
        "run_started_at": "2020-01-22T19:33:08Z",
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "check_suite_url": "https://api.github.com/repos/octocat/Hello-World/check-suites/42",
        "artifacts_url": f"{api}/artifacts",
        "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun",
        "previous_attempt_url": f"{api}/attempts/1",
        "workflow_url": "https://api.github.com/repos/octocat/Hello-World/actions/workflows/159038",
        "head_commit": {
            "id": "acb5820ced9479c074f688cc328bf03f341a511d",
            "tree_id": "d23f6eedb1e1b9610bbc754ddb5197bfe7271223",
            "message": "Create linter.yaml",
            "timestamp": "2020-01-22T19:33:05+12:00",
            "author": {"name": "Octo Cat", "email": "octocat@github.com"},
            "committer": None,
        },
        "repository": _repo(),
        "head_repository": _repo(),
        "head_repository_id": 1296269,
        "display_title": "Create linter.yaml",
    }
    run.update(changes)
    return run


def test_every_field_is_typed() -> None:
    """A full body decodes into typed fields: enums, aware datetimes, nested objects, tuples."""
    run = decode_run(sample_run())
    assert isinstance(run, WorkflowRun)
    assert run.status is RunStatus.COMPLETED
    assert run.conclusion is RunConclusion.STARTUP_FAILURE
    assert run.completed
    assert run.run_attempt == 2
    assert run.created_at == datetime(2020, 1, 22, 19, 33, 8, tzinfo=UTC)
    assert run.head_commit is not None
    assert run.head_commit.timestamp.utcoffset() is not None
    assert run.head_commit.committer is None
    assert run.actor is not None
    assert run.triggering_actor is not None
    assert (run.actor.login, run.triggering_actor.login) == ("octocat", "hubot")
    assert run.repository.owner.login == "octocat"
    assert run.pull_requests is not None
    assert run.pull_requests[0].base.ref == "main"
    assert run.referenced_workflows is not None
    assert run.referenced_workflows[0].ref is None


def test_new_status_and_conclusion_values_stay_strings() -> None:
    """A value GitHub adds later decodes as a plain string, never an error."""
    run = decode_run(sample_run(status="brand_new", conclusion="another"))
    assert (run.status, run.conclusion) == ("brand_new", "another")
    assert not isinstance(run.status, RunStatus)
    assert not run.completed


def test_nullable_fields_accept_null() -> None:
    """status, conclusion, head_branch, head_commit, pull_requests and the optional fields."""
    run = decode_run(
        sample_run(
            status=None,
            conclusion=None,
            head_branch=None,
            head_commit=None,
            pull_requests=None,
            referenced_workflows=None,
            previous_attempt_url=None,
            name=None,
        )
    )
    assert (run.status, run.head_commit, run.pull_requests) == (None, None, None)


def test_head_repository_may_be_null() -> None:
    """A run from a fork since deleted has ``head_repository: null`` (not in the schema,
    github/rest-api-description#1586): it decodes, strictly too, with both decoders."""
    from gh_jobs_async import models

    body = sample_run(head_repository=None)
    for converter in (None, models._CONVERTER, models._FAST_CONVERTER, make_converter(strict=True)):
        run = decode_run(body, converter=converter)
        assert run.head_repository is None
        assert run.repository.name == "Hello-World"
    assert models._FAST_CONVERTER.structure(body, WorkflowRun).head_repository is None


def test_optional_properties_may_be_absent() -> None:
    """Properties the schema does not require get defaults."""
    body = sample_run()
    for key in ("name", "run_attempt", "actor", "run_started_at", "head_repository_id"):
        del body[key]
    run = decode_run(body)
    assert (run.name, run.run_attempt, run.actor, run.run_started_at) == (None, None, None, None)


def test_nested_objects_are_lenient_even_for_the_strict_converter() -> None:
    """The lean nested models ignore GitHub's many URL templates; the run itself stays strict."""
    strict = make_converter(strict=True)
    assert decode_run(sample_run(), converter=strict) == decode_run(sample_run())
    with pytest.raises(DecodeError, match="unknown field"):
        decode_run(sample_run(surprise=1), converter=strict)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"id": "30433642"}, "$.id"),
        ({"created_at": "yesterday"}, "$.created_at"),
        ({"pull_requests": "none"}, "$.pull_requests"),
        ({"repository": {**_repo(), "private": "no"}}, "$.repository.private"),
        ({"actor": {**_user(), "id": None}}, "$.actor.id"),
        ({"referenced_workflows": [{"path": "p"}]}, "$.referenced_workflows[0].sha"),
    ],
)
def test_a_bad_body_names_the_path(change: dict[str, Any], path: str) -> None:
    """DecodeError names the JSON path of the first problem."""
    with pytest.raises(DecodeError) as info:
        decode_run(sample_run(**change))
    assert info.value.path == path


def test_a_missing_required_field_is_named() -> None:
    """A required property absent from the body is reported, not defaulted."""
    body = sample_run()
    del body["head_sha"]
    with pytest.raises(DecodeError, match=r"\$\.head_sha: required field is missing"):
        decode_run(body)


def test_to_dict_round_trips() -> None:
    """to_dict() gives a mapping that decodes to the same run."""
    run = decode_run(sample_run())
    assert decode_run(copy.deepcopy(run.to_dict())) == run


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"status": None, "conclusion": None, "pull_requests": None, "head_commit": None},
        {"status": "brand_new", "referenced_workflows": None, "actor": None},
        {"head_repository": None, "triggering_actor": None},
        {"id": "1"},
        {"repository": {**_repo(), "fork": 0}},
        {"pull_requests": [{"id": 1}]},
        {"created_at": "2020-01-22T19:33:08"},
    ],
)
def test_fast_and_detailed_decoders_agree(change: dict[str, Any]) -> None:
    """The production decoder gives the same run, or the same error, as the detailed one."""
    from gh_jobs_async import models

    body = sample_run(**change)
    outcomes = []
    for converter in (None, models._CONVERTER):
        try:
            outcomes.append(decode_run(body, converter=converter))
        except DecodeError as exc:
            outcomes.append((exc.path, str(exc)))
    assert outcomes[0] == outcomes[1]
    if isinstance(outcomes[0], WorkflowRun):  # compare classes too: enum against plain str
        assert type(outcomes[0].status) is type(outcomes[1].status)  # type: ignore[union-attr]
