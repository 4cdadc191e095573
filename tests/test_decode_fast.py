"""The fast production decoder agrees with the detailed converter on every body.

The production path (``decode_job`` / ``decode_jobs_page`` without ``converter=``) parses
with orjson when installed and structures with generated functions that inline the hooks
(``gh_jobs_async._fastgen``); what it refuses is decoded again by the detailed converter,
which names the JSON path. So two things are checked here, on fixtures, GitHub's examples,
the fake's generated jobs and hypothesis-generated bodies, with and without orjson:

* the fast converter on its own accepts exactly what the detailed one accepts, with the
  same objects (same classes all the way down: a constant is not a plain ``str``, a
  timestamp keeps its offset);
* the production functions give the same objects or the same ``DecodeError`` (message,
  path and value) as the detailed converter.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import attrs
import cattrs
import pytest
from _support import sample_job
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gh_jobs_async import DecodeError, _fastgen, models
from gh_jobs_async.models import Job, JobConclusion, JobStatus, decode_job, decode_jobs_page
from gh_jobs_async.testing import _jobgen

DETAILED = models._CONVERTER
FAST = models._FAST_CONVERTER
FEW = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(name="orjson", params=["orjson", "json"], autouse=True)
def fixture_orjson(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with orjson (skipped when not installed) and without it."""
    if request.param == "json":
        monkeypatch.setattr(models, "_orjson_loads", None)
    elif models._orjson_loads is None:
        pytest.skip("orjson is not installed (the `fast` extra)")
    return str(request.param)


# --------------------------------------------------------------------------- comparing


def shape(value: object) -> object:
    """``value`` as nested tuples that tell classes apart (``==`` on a StrEnum does not)."""
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return (type(value), tuple(shape(getattr(value, f.name)) for f in fields))
    if isinstance(value, tuple):
        return (tuple, tuple(shape(item) for item in value))
    if isinstance(value, datetime):
        return (datetime, value, value.utcoffset(), type(value.tzinfo))
    return (type(value), value)


def outcome(decode: Any) -> tuple[str, object]:
    """What a decode call gives: its object's shape, or its error's message, path and value."""
    try:
        return "ok", shape(decode())
    except DecodeError as exc:
        return "error", (str(exc), exc.path, repr(exc.value))


def structured(converter: cattrs.Converter, data: object, cls: type) -> tuple[str, object]:
    """The converter's result on already parsed ``data`` (its shape), or that it refused."""
    try:
        return "ok", shape(converter.structure(data, cls))
    except Exception:
        return "refused", None


def assert_agree_on_data(data: object, cls: type) -> None:
    """The fast converter accepts ``data`` exactly when the detailed one does, alike."""
    assert structured(FAST, data, cls) == structured(DETAILED, data, cls)


def assert_agree(body: bytes | str | dict[str, Any], *, page: bool) -> None:
    """The production decoder and the detailed converter give the same outcome on ``body``."""
    if page:
        fast = outcome(lambda: decode_jobs_page(body))
        detailed = outcome(lambda: decode_jobs_page(body, converter=DETAILED))
    else:
        fast = outcome(lambda: decode_job(body))
        detailed = outcome(lambda: decode_job(body, converter=DETAILED))
    assert fast == detailed
    if isinstance(body, dict):
        assert_agree_on_data(body, models._JobsPageBody if page else Job)


# --------------------------------------------------------------------------- fixtures


def generated_jobs() -> Iterator[dict[str, Any]]:
    """Jobs from the fake's generator, in every status and conclusion it knows."""
    blueprint = _jobgen.JobBlueprint(
        jobs=60,
        log_size=10,
        conclusions=("success", "failure", "timed_out", "cancelled", "skipped", "neutral"),
        names=None,
        statuses=("completed",) * 5 + ("in_progress", "queued", "waiting", "pending"),
        workflow_name=None,
        head_branch="main",
    )
    jobs, _ = _jobgen.build_attempt(
        blueprint,
        api_url="https://api.github.com",
        html_origin="https://github.com",
        owner="o",
        repo="r",
        run_id=7,
        attempt=2,
        first_job_id=1,
        seed=3,
    )
    yield from jobs


def fixture_bodies() -> list[Any]:
    """The test-suite's sample job and its variants, and the fake's generated jobs."""
    queued = sample_job(status="queued", conclusion=None, completed_at=None, steps=[])
    offsets = sample_job(started_at="2020-01-20T09:42:40.000-08:00", completed_at=None)
    naive = sample_job(started_at="2020-01-20T17:42:40")
    unknown = sample_job(status="frobnicating", conclusion="startup_failure", extra={"x": 1})
    bodies = [sample_job(), queued, offsets, naive, unknown, *generated_jobs()]
    return [pytest.param(body, id=f"fixture{index}") for index, body in enumerate(bodies)]


@pytest.mark.parametrize("body", fixture_bodies())
def test_fixtures_decode_alike(body: dict[str, Any]) -> None:
    """Every fixture job, and a page of it, decodes to the same objects both ways."""
    assert_agree(body, page=False)
    assert_agree(json.dumps(body).encode(), page=False)
    page = {"total_count": 3, "jobs": [body, body]}
    assert_agree(page, page=True)
    assert_agree(json.dumps(page), page=True)


def test_generated_page_decodes_alike() -> None:
    """A whole page of the fake's generated jobs decodes to the same objects both ways."""
    page = {"total_count": 60, "jobs": list(generated_jobs())}

    assert_agree(json.dumps(page).encode(), page=True)
    assert outcome(lambda: decode_jobs_page(json.dumps(page)))[0] == "ok"


def openapi_examples() -> list[Any]:
    """GitHub's ``job`` and ``job-paginated`` examples of both descriptions (fix-up 1)."""
    from conformance.conformance_support import SPECS, fixed_example, load_spec

    params = []
    for name, path in SPECS.items():
        if not path.is_file():
            continue
        spec = load_spec(name)
        params.append(pytest.param(fixed_example(spec, "job"), False, id=f"{name}-job"))
        page = fixed_example(spec, "job-paginated")
        params.append(pytest.param(page, True, id=f"{name}-job-paginated"))
        published = spec["components"]["examples"]["job"]["value"]  # lacks created_at
        params.append(pytest.param(published, False, id=f"{name}-job-as-published"))
    if not params:
        params.append(pytest.param({}, False, marks=pytest.mark.skip(reason="no OpenAPI slice")))
    return params


@pytest.mark.parametrize(("body", "page"), openapi_examples())
def test_openapi_examples_decode_alike(body: dict[str, Any], page: bool) -> None:
    """GitHub's examples give the same objects, or the same error, both ways."""
    assert_agree(body, page=page)
    assert_agree(json.dumps(body).encode(), page=page)


# --------------------------------------------------------------------------- hypothesis

TIMESTAMPS = st.one_of(
    st.sampled_from(
        [
            "2020-01-20T17:42:40Z",
            "2020-01-20T09:42:40.000-08:00",
            "2020-01-20T17:42:40+00:00",
            "2020-01-20T17:42:40",  # naive: read as UTC
            "2020-01-20",
            "2020-13-45T00:00:00Z",
            "yesterday",
            "",
        ]
    ),
    st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat),
)
ENUM_TEXT = st.sampled_from(
    [*JobStatus, *JobConclusion, "frobnicating", "COMPLETED", "", "startup_failure"]
).map(str)
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _field_values(name: str) -> st.SearchStrategy[Any]:
    """Plausible values for a field of a job or step, by name."""
    if name in {"status", "conclusion"}:
        return ENUM_TEXT
    if name.endswith("_at"):
        return TIMESTAMPS
    if name.endswith("id") or name in {"number", "run_attempt", "total_count"}:
        return st.integers(min_value=-(2**70), max_value=2**70)
    if name == "labels":
        return st.lists(st.text(max_size=8), max_size=3)
    return st.text(max_size=10)


@st.composite
def changed(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with a few fields set to plausible or odd values, deleted, or added."""
    body = dict(body)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        key = draw(st.sampled_from([*sorted(body), "brand_new"]))
        action = draw(st.sampled_from(["plausible", "odd", "null", "delete"]))
        if action == "delete":
            body.pop(key, None)
        elif action == "null":
            body[key] = None
        else:
            body[key] = draw(_field_values(key) if action == "plausible" else ODD)
    return body


@st.composite
def jobs(draw: st.DrawFn) -> dict[str, Any]:
    """A job with changed fields and changed steps (or odd values instead of steps)."""
    step = sample_job()["steps"][0]
    job = draw(changed(sample_job()))
    if draw(st.booleans()):
        job["steps"] = draw(st.lists(changed(step), max_size=3))
    return job


@FEW
@given(jobs())
@example(sample_job(id=2**64 + 1))  # past orjson's integers: json decides
@example(sample_job(labels="ab"))  # a string is not an array of strings
@example(sample_job(status=5, name=3))  # not strings
@example(sample_job(id="1", run_attempt=True))  # not integers
@example(sample_job(created_at="2020-01-20T17:42:35"))  # naive: read as UTC
@example(sample_job(steps=[{"name": "a", "status": "x", "number": True, "conclusion": None}]))
def test_hypothesis_jobs_decode_alike(job: dict[str, Any]) -> None:
    """Arbitrary changed jobs: the same objects or the same DecodeError, both ways."""
    assert_agree(job, page=False)
    assert_agree(json.dumps(job), page=False)


@FEW
@given(st.lists(jobs(), max_size=3), _field_values("total_count") | ODD)
def test_hypothesis_pages_decode_alike(page_jobs: list[dict[str, Any]], total: object) -> None:
    """Arbitrary pages of changed jobs: the same objects or the same DecodeError, both ways."""
    body = {"total_count": total, "jobs": page_jobs}
    assert_agree(body, page=True)
    assert_agree(json.dumps(body).encode(), page=True)


@FEW
@given(st.binary(max_size=40) | st.text(max_size=40))
@example(b'{"a": NaN}')
@example('"\\ud800"')
@example(b"\xef\xbb\xbf{}")
@example(json.dumps(sample_job()).encode("utf-16"))
def test_hypothesis_raw_bodies_decode_alike(body: bytes | str) -> None:
    """Arbitrary bytes and text: the same outcome with and without the fast path."""
    assert_agree(body, page=False)
    assert_agree(body, page=True)


# --------------------------------------------------------------------------- the fast path


def test_valid_pages_never_reach_the_detailed_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body that fits is decoded by the fast path alone (the detailed one is for errors)."""

    class Refusing(cattrs.Converter):
        def structure(self, obj: Any, cl: Any) -> Any:
            raise AssertionError("the detailed converter was used")

    monkeypatch.setattr(models, "_CONVERTER", Refusing())
    page = {"total_count": 60, "jobs": list(generated_jobs())}

    assert len(decode_jobs_page(json.dumps(page)).jobs) == 60
    assert decode_job(sample_job()).id == 399444496


def test_refused_body_still_names_path_and_value() -> None:
    """Through the fast path, a bad nested value is still reported with its full path."""
    jobs_ = [sample_job(id=n) for n in range(3)]
    jobs_[2]["steps"][1]["started_at"] = "not-a-timestamp"

    with pytest.raises(DecodeError) as info:
        decode_jobs_page(json.dumps({"total_count": 3, "jobs": jobs_}).encode())

    assert info.value.path == "$.jobs[2].steps[1].started_at"
    assert info.value.value == "not-a-timestamp"


# --------------------------------------------------------------------------- generic classes


@attrs.frozen
class _Leaf:
    label: str
    count: int | None = None


@attrs.frozen
class _Node:
    name: str
    leaf: _Leaf | None
    leaves: tuple[_Leaf, ...] = ()
    tags: list[str] = attrs.field(factory=list)
    extra: dict[str, int] = attrs.field(factory=dict)
    weight: float = 1.0
    flag: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class _Tree:
    name: str
    children: tuple[_Tree, ...] = ()


@attrs.frozen
class _Converted:
    value: int = attrs.field(converter=abs)
    hidden: int = attrs.field(init=False, default=3)


def _converters() -> tuple[cattrs.Converter, cattrs.Converter]:
    """A detailed converter and a fast one, with the models' hooks."""
    from cattrs.preconf.json import make_converter

    detailed = models._with_hooks(make_converter(detailed_validation=True))
    fast = make_converter(detailed_validation=False)
    _fastgen.install(fast)
    return detailed, models._with_hooks(fast)


CLASS_BODIES = [
    (_Node, {"name": "n", "leaf": None}),
    (_Node, {"name": "n", "leaf": {"label": "l", "count": 2}, "flag": True, "weight": 2}),
    (_Node, {"name": "n", "leaf": {"label": "l"}, "leaves": [{"label": "a", "count": None}]}),
    (_Node, {"name": "n", "leaf": None, "tags": ["a", "b"], "extra": {"k": 1}, "x": 0}),
    (_Node, {"name": "n", "leaf": {"label": 5}}),
    (_Node, {"name": "n", "leaf": None, "leaves": "ab"}),
    (_Node, {"leaf": None}),
    (_Tree, {"name": "root", "children": [{"name": "a", "children": [{"name": "b"}]}]}),
    (_Tree, {"name": "root", "children": [{"name": 1}]}),
    (_Converted, {"value": -4}),
    (_Node, {"name": "n", "leaf": None, "flag": 1}),
]


@pytest.mark.parametrize(("cls", "data"), CLASS_BODIES)
def test_other_attrs_classes_structure_alike(cls: type, data: dict[str, Any]) -> None:
    """Defaults, factories, kw_only, nesting, self-reference, attrs converters: as cattrs."""
    detailed, fast = _converters()

    assert structured(fast, data, cls) == structured(detailed, data, cls)


def test_bool_fields_take_json_booleans_only() -> None:
    """A ``bool`` field takes true and false, not 1 (int's hook would refuse true)."""
    detailed, fast = _converters()
    node = {"name": "n", "leaf": None, "flag": True}

    assert fast.structure(node, _Node).flag is True
    assert detailed.structure(node, _Node).flag is True
    assert structured(fast, {**node, "flag": 1}, _Node) == ("refused", None)


def test_generated_function_reads_one_key_per_field() -> None:
    """The generated function calls no hook for a str, an int, a known constant or None."""
    _, fast = _converters()
    calls: list[object] = []
    original = models._strict_str

    def spy(value: object, type_: object) -> str:
        calls.append(value)
        return original(value, type_)

    fast.register_structure_hook(str, _fastgen.inline(spy, exact=str))
    leaf = fast.structure({"label": "plain", "count": None}, _Leaf)

    assert leaf == _Leaf("plain", None)
    assert calls == []
    assert fast.structure({"label": StrSub("sub")}, _Leaf).label == "sub"
    assert calls == ["sub"]  # a str subclass is not the exact class: the hook decides


class StrSub(str):
    """A str subclass, which the inline check hands to the hook."""

    __slots__ = ()


def test_seeded_pages_agree(orjson: str) -> None:
    """Two hundred randomly damaged pages (fixed seed) give the same outcome both ways."""
    rng = random.Random(f"decode-fast:{orjson}")
    base = list(generated_jobs())[:5]
    odd: list[object] = [None, True, 1.5, "x", [], {}, 2**65, "2020-01-20T17:42:40"]
    for _ in range(200):
        body = json.loads(json.dumps({"total_count": 5, "jobs": base}))
        job = rng.choice(body["jobs"])
        where = rng.choice([job, *job["steps"]]) if job["steps"] else job
        key = rng.choice(sorted(where))
        where[key] = rng.choice(odd)
        assert_agree(json.dumps(body).encode(), page=True)
