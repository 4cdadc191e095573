"""The attrs models walked against the spec's ``job`` schema and its step items.

A property GitHub adds to the description shows up here as a failing test naming it; so does
a model field the description lacks, and any disagreement on required-ness (required means
no default), nullability (nullable means ``Optional``) or type. GitHub's examples, with fix-up
1, must decode with the strict converter, which rejects keys the models lack.
"""

from __future__ import annotations

import enum
import types
import typing
from datetime import datetime
from typing import Any

import attrs
import pytest
from conformance_support import EXAMPLE_FIXUP, fixed_example, load_spec, problems, validator_for

from gh_jobs_async import models
from gh_jobs_async.models import Job, Step, decode_job, decode_jobs_page, make_converter

pytestmark = pytest.mark.conformance

SPEC = load_spec()
JOB_SCHEMA = SPEC["components"]["schemas"]["job"]
STEP_SCHEMA = JOB_SCHEMA["properties"]["steps"]["items"]
WALK = (("job", JOB_SCHEMA, Job), ("step", STEP_SCHEMA, Step))


def _properties() -> list[Any]:
    return [
        pytest.param(schema, model, name, id=f"{label}.{name}")
        for label, schema, model in WALK
        for name in schema["properties"]
    ]


def _hints(model: type) -> dict[str, Any]:
    return typing.get_type_hints(model, vars(models))


def _members(annotation: Any) -> set[Any]:
    """The members of a union annotation (a one-member set otherwise)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return set(typing.get_args(annotation))
    return {annotation}


def _expected_types(prop: dict[str, Any]) -> set[Any]:
    """The Python types a spec property maps to (without ``None``)."""
    kind, fmt = prop.get("type"), prop.get("format")
    if kind == "integer":
        return {int}
    if kind == "array":
        item = prop["items"]
        return {tuple[Step, ...]} if item.get("type") == "object" else {tuple[str, ...]}
    if fmt == "date-time":
        return {datetime}
    return {str}


@pytest.mark.parametrize(("schema", "model", "name"), _properties())
def test_spec_property_is_a_model_field(schema: dict[str, Any], model: type, name: str) -> None:
    """Every property of the spec's job and step schemas is an attribute of the model."""
    fields = attrs.fields_dict(model)
    assert name in fields, f"spec property {name!r} has no attribute on {model.__qualname__}"


@pytest.mark.parametrize(("label", "schema", "model"), WALK, ids=[w[0] for w in WALK])
def test_model_has_no_field_the_spec_lacks(label: str, schema: dict[str, Any], model: type) -> None:
    """No model attribute is missing from the spec (the models mirror GitHub exactly)."""
    extra = set(attrs.fields_dict(model)) - set(schema["properties"])
    assert not extra, f"{model.__qualname__} fields not in the spec's {label}: {sorted(extra)}"


@pytest.mark.parametrize(("schema", "model", "name"), _properties())
def test_required_ness_and_nullability_agree(
    schema: dict[str, Any], model: type, name: str
) -> None:
    """Required means no default; nullable means Optional; required and not nullable, not."""
    field = attrs.fields_dict(model).get(name)
    if field is None:
        pytest.fail(f"{model.__qualname__} has no attribute {name!r}")
    prop = schema["properties"][name]
    required = name in schema.get("required", [])
    optional = type(None) in _members(_hints(model)[name])
    has_default = field.default is not attrs.NOTHING
    assert has_default is not required, (
        f"{name}: the spec says {'required' if required else 'optional'}, "
        f"the model {'has' if has_default else 'has no'} default"
    )
    if prop.get("nullable"):
        assert optional, f"{name} is nullable in the spec but not Optional in the model"
    elif required:
        assert not optional, f"{name} is required and not nullable, but Optional in the model"


@pytest.mark.parametrize(("schema", "model", "name"), _properties())
def test_types_agree(schema: dict[str, Any], model: type, name: str) -> None:
    """Integers are int, date-times datetime, arrays tuples; enums open (constants or str)."""
    if name not in attrs.fields_dict(model):
        pytest.fail(f"{model.__qualname__} has no attribute {name!r}")
    members = _members(_hints(model)[name]) - {type(None)}
    enums = {m for m in members if isinstance(m, type) and issubclass(m, enum.StrEnum)}
    assert members - enums == _expected_types(schema["properties"][name]), members
    for constants in enums:  # every enum value of the spec is a constant
        spec_values = [v for v in schema["properties"][name].get("enum", []) if v is not None]
        assert {c.value for c in constants} >= set(spec_values), (name, spec_values)


def test_examples_decode_strictly_after_the_fixup() -> None:
    """GitHub's job and job-paginated examples decode with the strict converter (fix-up 1)."""
    strict = make_converter(strict=True)
    job = decode_job(fixed_example(SPEC, "job"), converter=strict)
    page = decode_jobs_page(fixed_example(SPEC, "job-paginated"), converter=strict)

    assert job.id == 399444496
    assert len(job.steps) == 10
    assert page.total_count == 1
    assert page.jobs == (job,)


def test_fixup_adds_only_what_github_omits() -> None:
    """Fix-up 1 adds the fields the examples lack, which then satisfy the schema."""
    job = SPEC["components"]["examples"]["job"]["value"]
    paginated = SPEC["components"]["examples"]["job-paginated"]["value"]["jobs"][0]
    assert not set(EXAMPLE_FIXUP) & set(job)
    assert not set(EXAMPLE_FIXUP) & set(paginated)
    validator = validator_for(SPEC, {"$ref": "#/components/schemas/job"}, strict=True)
    assert any("'created_at' is a required property" in p for p in problems(validator, job))
    assert problems(validator, fixed_example(SPEC, "job")) == []
