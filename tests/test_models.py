"""The job models and their converter, checked against GitHub's own OpenAPI description."""

from __future__ import annotations

import copy
import json
import types
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from _support import sample_job as _job

from gh_jobs_async import DecodeError, GhJobsError, Job, JobConclusion, JobStatus, Step, StepStatus
from gh_jobs_async.models import decode_job, decode_jobs_page, make_converter

SPEC_PATH = (
    Path(__file__).resolve().parents[1].parent / "shared" / "openapi" / "actions-jobs.openapi.json"
)

# GitHub's `job` and `job-paginated` examples lack `created_at`, which the schema requires,
# and `run_attempt` (see shared/openapi/SOURCE.md). This is the documented fix-up: the two
# fields are added, nothing else changes.
FIXUP = {"created_at": "2020-01-20T17:42:35Z", "run_attempt": 1}

# The spec's `job.required`, as listed in shared/docs/github-api.md.
REQUIRED = (
    "id",
    "node_id",
    "run_id",
    "run_url",
    "head_sha",
    "workflow_name",
    "head_branch",
    "name",
    "url",
    "html_url",
    "status",
    "conclusion",
    "started_at",
    "completed_at",
    "check_run_url",
    "labels",
    "runner_id",
    "runner_name",
    "runner_group_id",
    "runner_group_name",
    "created_at",
)
NULLABLE = (
    "html_url",
    "conclusion",
    "completed_at",
    "runner_id",
    "runner_name",
    "runner_group_id",
    "runner_group_name",
    "workflow_name",
    "head_branch",
)
STEP_NULLABLE = ("conclusion", "started_at", "completed_at")

STRICT = make_converter(strict=True)


@pytest.fixture(name="spec")
def fixture_spec() -> dict[str, Any]:
    """GitHub's OpenAPI slice for the jobs endpoints; the test is skipped when it is absent."""
    if not SPEC_PATH.is_file():
        pytest.skip(f"OpenAPI slice not found at {SPEC_PATH}")
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


@pytest.fixture(name="spec_job")
def fixture_spec_job(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's `job` example, exactly as GitHub publishes it."""
    return copy.deepcopy(spec["components"]["examples"]["job"]["value"])


# --------------------------------------------------------------------------- spec examples


def test_spec_job_example_decodes_strictly(spec_job: dict[str, Any]) -> None:
    """The spec's `job` example, plus the two fields it omits, decodes with the strict converter."""
    job = decode_job({**spec_job, **FIXUP}, converter=STRICT)

    assert job.id == 399444496
    assert job.run_id == 29679449
    assert job.run_attempt == 1
    assert job.status is JobStatus.COMPLETED
    assert job.conclusion is JobConclusion.SUCCESS
    assert job.name == "build"
    assert job.labels == ("self-hosted", "foo", "bar")
    assert (job.runner_id, job.runner_name) == (1, "my runner")
    assert (job.runner_group_id, job.runner_group_name) == (2, "my runner group")
    assert (job.workflow_name, job.head_branch) == ("CI", "main")
    assert job.created_at == datetime(2020, 1, 20, 17, 42, 35, tzinfo=UTC)
    # The example's step numbers jump from 8 to 16: decoding keeps them as they are.
    assert [step.number for step in job.steps] == [1, 2, 3, 4, 5, 6, 7, 8, 16, 17]
    assert all(step.status is StepStatus.COMPLETED for step in job.steps)
    assert all(step.conclusion is JobConclusion.SUCCESS for step in job.steps)


def test_spec_job_paginated_example_decodes_strictly(spec: dict[str, Any]) -> None:
    """The spec's `job-paginated` example, with the fix-up on each job, decodes strictly."""
    body = copy.deepcopy(spec["components"]["examples"]["job-paginated"]["value"])
    for job in body["jobs"]:
        job.update(FIXUP)

    page = decode_jobs_page(json.dumps(body), converter=STRICT)

    assert page.total_count == body["total_count"] == 1
    assert [job.id for job in page.jobs] == [399444496]
    assert page.jobs[0].steps[-1].name == "Complete job"
    assert dict(page.links) == {}


def test_spec_example_as_published_lacks_created_at(spec_job: dict[str, Any]) -> None:
    """Without the fix-up the spec's example is rejected, naming the missing `$.created_at`."""
    with pytest.raises(DecodeError) as info:
        decode_job(spec_job, converter=STRICT)

    assert info.value.path == "$.created_at"
    assert "$.created_at" in str(info.value)


def test_every_schema_property_is_a_model_attribute(spec: dict[str, Any]) -> None:
    """Job and Step have exactly the schema's properties; required ones have no default."""
    schema = spec["components"]["schemas"]["job"]
    step_schema = schema["properties"]["steps"]["items"]

    for cls, sch in ((Job, schema), (Step, step_schema)):
        fields = attrs.fields(cls)
        assert {f.name for f in fields} == set(sch["properties"])
        without_default = {f.name for f in fields if f.default is attrs.NOTHING}
        assert without_default == set(sch["required"])


def test_nullable_schema_properties_are_optional(spec: dict[str, Any]) -> None:
    """Every property the schema marks nullable is typed ``... | None`` in the models."""
    schema = spec["components"]["schemas"]["job"]
    step_schema = schema["properties"]["steps"]["items"]

    for cls, sch in ((Job, schema), (Step, step_schema)):
        hints = typing.get_type_hints(cls)
        nullable = {name for name, prop in sch["properties"].items() if prop.get("nullable")}
        assert nullable, "the schema should mark some properties nullable"
        for name in nullable:
            assert type(None) in typing.get_args(hints[name]), name
    assert set(NULLABLE) == {
        name for name, prop in schema["properties"].items() if prop.get("nullable")
    }


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    "stamp", ["2020-01-20T17:42:40Z", "2020-01-20T09:42:40.000-08:00", "2020-01-20T17:42:40+00:00"]
)
def test_timestamp_forms_decode_to_the_same_aware_instant(stamp: str) -> None:
    """`...Z` and `...-08:00` timestamps become aware datetimes equal to the same UTC instant."""
    job = decode_job(_job(started_at=stamp))

    assert job.started_at.tzinfo is not None
    assert job.started_at.utcoffset() is not None
    assert job.started_at == datetime(2020, 1, 20, 17, 42, 40, tzinfo=UTC)
    assert job.started_at.astimezone(UTC).isoformat() == "2020-01-20T17:42:40+00:00"


def test_offset_timestamp_keeps_its_offset() -> None:
    """A `-08:00` timestamp keeps its offset (it is not silently rewritten to UTC)."""
    job = decode_job(_job(started_at="2020-01-20T09:42:40.000-08:00"))

    assert job.started_at.utcoffset() == timedelta(hours=-8)


def test_spec_example_mixes_both_forms(spec_job: dict[str, Any]) -> None:
    """In the spec's example the job's `Z` start equals its first step's `-08:00` start."""
    job = decode_job({**spec_job, **FIXUP}, converter=STRICT)

    assert job.started_at.utcoffset() == timedelta(0)
    assert job.steps[0].started_at is not None
    assert job.steps[0].started_at.utcoffset() == timedelta(hours=-8)
    assert job.started_at == job.steps[0].started_at


def test_timestamp_without_offset_is_taken_as_utc() -> None:
    """A timestamp without an offset is read as UTC, never as a naive datetime."""
    job = decode_job(_job(started_at="2020-01-20T17:42:40"))

    assert job.started_at == datetime(2020, 1, 20, 17, 42, 40, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["yesterday", "2020-13-45T00:00:00Z", "", 1579542160, True])
def test_bad_timestamp_is_a_decode_error(bad: object) -> None:
    """A timestamp that is not an ISO 8601 string raises DecodeError naming the field."""
    with pytest.raises(DecodeError) as info:
        decode_job(_job(started_at=bad))

    assert info.value.path == "$.started_at"
    assert info.value.value == bad


# --------------------------------------------------------------------------- nulls and enums


def test_nulls_in_every_nullable_field() -> None:
    """Null in every nullable job and step field decodes (strictly) to None."""
    step = {"name": "queued step", "status": "queued", "number": 1}
    step |= dict.fromkeys(STEP_NULLABLE)
    body = _job(status="queued", steps=[step]) | dict.fromkeys(NULLABLE)

    job = decode_job(body, converter=STRICT)

    for name in NULLABLE:
        assert getattr(job, name) is None, name
    for name in STEP_NULLABLE:
        assert getattr(job.steps[0], name) is None, name
    assert job.duration is None


def test_optional_fields_may_be_absent() -> None:
    """`run_attempt` and `steps`, which the schema does not require, may be missing."""
    body = _job()
    del body["run_attempt"], body["steps"]

    job = decode_job(body, converter=STRICT)

    assert job.run_attempt is None
    assert job.steps == ()


@pytest.mark.parametrize("field", ["started_at", "status", "id", "name", "labels", "created_at"])
def test_null_in_a_non_nullable_field_is_a_decode_error(field: str) -> None:
    """Null where the schema does not allow it raises DecodeError naming the field."""
    with pytest.raises(DecodeError) as info:
        decode_job(_job(**{field: None}))

    assert info.value.path == f"$.{field}"


@pytest.mark.parametrize("status", list(JobStatus))
def test_known_status_decodes_to_its_constant(status: JobStatus) -> None:
    """Each status the spec lists decodes to the JobStatus constant itself."""
    job = decode_job(_job(status=status.value))

    assert job.status is status


@pytest.mark.parametrize("conclusion", list(JobConclusion))
def test_known_conclusion_decodes_to_its_constant(conclusion: JobConclusion) -> None:
    """Each conclusion the spec lists decodes to the JobConclusion constant itself."""
    job = decode_job(_job(conclusion=conclusion.value))

    assert job.conclusion is conclusion


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "frobnicating"), ("conclusion", "startup_failure"), ("status", "COMPLETED")],
)
def test_unknown_status_or_conclusion_decodes_as_plain_str(field: str, value: str) -> None:
    """A status or conclusion GitHub adds later decodes without error, as a plain str."""
    job = decode_job(_job(**{field: value}), converter=STRICT)

    decoded = getattr(job, field)
    assert type(decoded) is str
    assert decoded == value


def test_step_status_and_conclusion_are_open_too() -> None:
    """Step status and conclusion: known values become constants, new ones stay str."""
    steps = [
        {"name": "a", "status": "in_progress", "conclusion": None, "number": 1},
        {"name": "b", "status": "blocked", "conclusion": "weird", "number": 2},
    ]
    job = decode_job(_job(steps=steps))

    assert job.steps[0].status is StepStatus.IN_PROGRESS
    assert type(job.steps[1].status) is str
    assert job.steps[1].status == "blocked"
    assert type(job.steps[1].conclusion) is str


@pytest.mark.parametrize("value", [5, True, ["completed"], {"v": 1}])
def test_non_string_status_is_a_decode_error(value: object) -> None:
    """An open enum still requires a string."""
    with pytest.raises(DecodeError) as info:
        decode_job(_job(status=value))

    assert info.value.path == "$.status"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("field", REQUIRED)
def test_missing_required_field_is_named(field: str) -> None:
    """Each field the schema requires, when missing, raises DecodeError naming `$.<field>`."""
    body = _job()
    del body[field]

    with pytest.raises(DecodeError) as info:
        decode_job(body)

    assert info.value.path == f"$.{field}"
    assert f"$.{field}" in str(info.value)
    assert "missing" in str(info.value)


def test_bad_nested_value_names_its_full_path_and_value() -> None:
    """A bad step timestamp on page job 3 is reported as `$.jobs[3].steps[2].started_at`."""
    jobs = [_job(id=n) for n in range(1, 6)]
    jobs[3]["steps"][2]["started_at"] = "not-a-timestamp"
    body = json.dumps({"total_count": 5, "jobs": jobs})

    with pytest.raises(DecodeError) as info:
        decode_jobs_page(body)

    assert info.value.path == "$.jobs[3].steps[2].started_at"
    assert info.value.value == "not-a-timestamp"
    assert "$.jobs[3].steps[2].started_at" in str(info.value)
    assert "'not-a-timestamp'" in str(info.value)
    assert isinstance(info.value, GhJobsError)


def test_several_problems_are_counted_in_one_error() -> None:
    """Several bad fields give one DecodeError that says how many more problems there are."""
    with pytest.raises(DecodeError) as info:
        decode_job(_job(id="one", run_id="two", name=3))

    assert "more problem" in str(info.value)


def test_unknown_fields_are_ignored_by_default() -> None:
    """Fields GitHub adds later, on the job or on a step, are ignored by the production decoder."""
    body = _job(brand_new_field={"x": 1})
    body["steps"][0]["also_new"] = True

    job = decode_job(body)

    assert job.id == 399444496
    assert not hasattr(job, "brand_new_field")


def test_unknown_job_field_is_rejected_by_the_strict_converter() -> None:
    """The strict converter names an unknown job field."""
    with pytest.raises(DecodeError) as info:
        decode_job(_job(brand_new_field=1), converter=STRICT)

    assert "brand_new_field" in str(info.value)
    assert info.value.path == "$"


def test_unknown_step_field_is_rejected_by_the_strict_converter() -> None:
    """The strict converter names an unknown step field and where it is."""
    body = _job()
    body["steps"][1]["also_new"] = True

    with pytest.raises(DecodeError) as info:
        decode_job(body, converter=STRICT)

    assert "also_new" in str(info.value)
    assert info.value.path == "$.steps[1]"


@pytest.mark.parametrize(
    "body", [b"<html>502 Bad Gateway</html>", b"", b"\xff\xfe\x00", "{not json", b'{"id": 1']
)
def test_non_json_body_is_a_decode_error(body: bytes | str) -> None:
    """A body that is not JSON raises DecodeError (not ValueError or UnicodeDecodeError)."""
    with pytest.raises(DecodeError) as info:
        decode_job(body)
    assert info.value.path == "$"
    with pytest.raises(DecodeError):
        decode_jobs_page(body)


@pytest.mark.parametrize("body", [b"[]", b"null", b"42", b'"job"', b"[{}]", b"true"])
def test_non_object_json_is_a_decode_error(body: bytes) -> None:
    """JSON that is not an object raises DecodeError at `$` naming what it got."""
    with pytest.raises(DecodeError) as info:
        decode_job(body)
    assert info.value.path == "$"
    assert "expected a JSON object" in str(info.value)
    with pytest.raises(DecodeError):
        decode_jobs_page(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", True), ("run_id", False), ("runner_id", True), ("run_attempt", True), ("id", 1.0)],
)
def test_bool_or_float_is_not_accepted_as_int(field: str, value: object) -> None:
    """JSON true/false (and floats) are not integers: DecodeError naming the field."""
    with pytest.raises(DecodeError) as info:
        decode_job(_job(**{field: value}))

    assert info.value.path == f"$.{field}"
    assert info.value.value is value


def test_bool_step_number_and_total_count_are_rejected() -> None:
    """The bool-is-not-int rule holds for nested and page-level integers too."""
    body = _job()
    body["steps"][0]["number"] = True
    with pytest.raises(DecodeError) as info:
        decode_job(body)
    assert info.value.path == "$.steps[0].number"

    with pytest.raises(DecodeError) as info:
        decode_jobs_page({"total_count": True, "jobs": []})
    assert info.value.path == "$.total_count"


@pytest.mark.parametrize(("field", "value"), [("labels", "self-hosted"), ("steps", {"a": 1})])
def test_arrays_must_be_json_arrays(field: str, value: object) -> None:
    """A string or object where the schema has an array is an error, not iterated into items."""
    with pytest.raises(DecodeError) as info:
        decode_job(_job(**{field: value}))

    assert info.value.path == f"$.{field}"


def test_jobs_must_be_an_array() -> None:
    """A page whose `jobs` is not an array is a decode error at `$.jobs`."""
    with pytest.raises(DecodeError) as info:
        decode_jobs_page({"total_count": 1, "jobs": "x"})

    assert info.value.path == "$.jobs"


# --------------------------------------------------------------------------- decoding API


def test_bytes_str_and_mapping_decode_alike() -> None:
    """decode_job accepts bytes, str and an already parsed mapping with the same result."""
    body = _job()
    text = json.dumps(body)

    assert decode_job(text.encode()) == decode_job(text) == decode_job(body)


def test_decoded_models_are_frozen() -> None:
    """Decoded jobs are immutable."""
    job = decode_job(_job())

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        job.id = 1  # type: ignore[misc]


def test_page_carries_its_links_read_only() -> None:
    """decode_jobs_page attaches the parsed Link relations, as a read-only mapping."""
    links = {"next": "https://api.github.com/x?page=2", "last": "https://api.github.com/x?page=3"}
    page = decode_jobs_page({"total_count": 250, "jobs": [_job()]}, links)
    links["next"] = "changed"

    assert page.total_count == 250
    assert page.links["next"] == "https://api.github.com/x?page=2"
    assert isinstance(page.links, types.MappingProxyType)


# --------------------------------------------------------------------------- duration


def test_duration_of_the_spec_example(spec_job: dict[str, Any]) -> None:
    """The spec's job ran from 17:42:40 to 17:44:39: 119 seconds."""
    job = decode_job({**spec_job, **FIXUP})

    assert job.duration == 119.0


def test_duration_across_offsets() -> None:
    """Duration is right when start and end use different offsets."""
    job = decode_job(
        _job(started_at="2020-01-20T17:42:40Z", completed_at="2020-01-20T09:43:10.500-08:00")
    )

    assert job.duration == 30.5


def test_duration_is_none_until_completed() -> None:
    """A job without `completed_at` has no duration yet."""
    job = decode_job(_job(status="in_progress", conclusion=None, completed_at=None))

    assert job.duration is None
