"""The four run operations of ``actions-runs.openapi.json``: Prism static and dynamic, the
fake's listing bodies against the schemas, and `WorkflowRun` walked against ``workflow-run``.

See ``conformance_runs`` for the derived documents and fix-up 5 (``created``).
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from conformance_prism import PrismServer
from conformance_runs import (
    REPO_RUNS_PATH,
    created_fixed,
    exact_runs_validator,
    load_runs_spec,
    start_runs_prism,
)
from conformance_support import WireRecorder, problems
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from gh_jobs_async import Client, GhJobsError, WorkflowRun, models
from gh_jobs_async.models import (
    ReferencedWorkflow,
    RunCommit,
    RunPullRequest,
    RunRepository,
    RunUser,
    decode_run,
    decode_runs_page,
    make_converter,
)
from gh_jobs_async.testing import FakeConfig, FakeGitHub

pytestmark = pytest.mark.conformance

SPEC = load_runs_spec()
RUN_SCHEMA = SPEC["components"]["schemas"]["workflow-run"]
STRICT = make_converter(strict=True)
TOKEN = "ghp_conformanceRUNS0123456789abcdef"
OWNER, REPO = "octo-org", "octo-repo"
END = datetime(2026, 3, 31, tzinfo=UTC)


@pytest.fixture(name="prism_runs_static", scope="session")
def fixture_prism_runs_static(prism_executable: str, prism_folder: Path) -> Iterator[PrismServer]:
    """Prism ``--errors`` serving the runs document."""
    server = start_runs_prism(prism_executable, prism_folder, mode="static")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="prism_runs_dynamic", scope="session")
def fixture_prism_runs_dynamic(prism_executable: str, prism_folder: Path) -> Iterator[PrismServer]:
    """Prism ``--dynamic`` serving the runs document."""
    server = start_runs_prism(prism_executable, prism_folder, mode="dynamic")
    try:
        yield server
    finally:
        server.stop()


@attrs.define
class Harness:
    """A recorded client of a mock."""

    client: Client
    recorder: WireRecorder
    prism: PrismServer

    def context(self) -> str:
        report = "\n".join(exchange.describe() for exchange in self.recorder.exchanges)
        return f"requests:\n{report}\nPrism log:\n{self.prism.log_tail()}"

    def assert_valid(self) -> None:
        """Every request went to the mock, and none was refused or flagged."""
        context = self.context()
        assert self.recorder.exchanges, context
        assert self.recorder.hosts() == {"127.0.0.1"}, context
        for exchange in self.recorder.exchanges:
            assert exchange.status not in {None, 406, 422}, context
            assert exchange.violations() == [], context
            assert exchange.request_headers["Accept"] == "application/vnd.github+json"
            assert exchange.request_headers["X-GitHub-Api-Version"] == "2022-11-28"


@pytest.fixture(name="static")
async def fixture_static(prism_runs_static: PrismServer) -> AsyncIterator[Harness]:
    recorder = WireRecorder()
    async with (
        recorder.session() as http,
        Client(
            TOKEN,
            base_url=prism_runs_static.url,
            session=http,
            requests_per_minute=None,
            max_retries=0,
        ) as client,
    ):
        yield Harness(client, recorder, prism_runs_static)


def example(name: str) -> Any:
    return copy.deepcopy(SPEC["components"]["examples"][name]["value"])


# ------------------------------------------------------------------ Prism, static


async def test_get_run_and_attempt_requests_are_valid(static: Harness) -> None:
    """get_run, with and without attempt, sends valid requests and gets GitHub's example."""
    try:
        run = await static.client.get_run(OWNER, REPO, 30433642)
        attempt = await static.client.get_run(OWNER, REPO, 30433642, attempt=2)
    except GhJobsError as exc:
        pytest.fail(f"{exc}\n{static.context()}", pytrace=False)
    static.assert_valid()
    expected = decode_run(example("workflow-run"), converter=STRICT)
    assert run == attempt == expected


OPTIONS: dict[str, dict[str, Any]] = {
    "none": {},
    "workflow-file": {"workflow": "ci.yml"},
    "workflow-id": {"workflow": 161335},
    "branch-event-actor": {"branch": "main", "event": "push", "actor": "octocat"},
    "head-sha": {"head_sha": "acb5820ced9479c074f688cc328bf03f341a511d"},
    "exclude-prs-per-page": {"exclude_pull_requests": True, "per_page": 7},
    "created-datetime": {"created": END},
    "created-date": {"created": date(2026, 1, 1)},
    "created-pair": {"created": (date(2026, 1, 1), END)},
    "created-open-since": {"created": (None, END)},
    "created-qualifier": {"created": "2026-01-01..2026-01-31"},
    "created-lt": {"created": "<2026-01-31T10:00:00+02:00"},
    "everything": {
        "workflow": "ci.yml",
        "branch": "main",
        "event": "pull_request",
        "status": "failure",
        "actor": "monalisa",
        "created": ">=2026-01-01",
        "exclude_pull_requests": True,
        "per_page": 100,
    },
}
OPTIONS.update(
    {
        f"status-{value}": {"status": value}
        for value in SPEC["components"]["parameters"]["workflow-run-status"]["schema"]["enum"]
    }
)


@pytest.mark.parametrize("name", sorted(OPTIONS))
async def test_list_runs_requests_are_valid(static: Harness, name: str) -> None:
    """list_runs with every filter, status and created form: valid requests, and GitHub's
    example page comes back as its run, decoded strictly."""
    try:
        runs = await static.client.list_runs(OWNER, REPO, **OPTIONS[name]).collect()
    except GhJobsError as exc:
        pytest.fail(f"{exc}\n{static.context()}", pytrace=False)
    static.assert_valid()
    page = decode_runs_page(example("workflow-run-paginated"), converter=STRICT)
    assert tuple(runs) == page.runs


async def test_every_request_of_a_split_listing_is_valid(prism_runs_static: PrismServer) -> None:
    """The probes, windows and pages list_runs sends past the cap (recorded at the fake)
    all pass Prism's validation, replayed as they were sent."""
    async with (
        FakeGitHub(FakeConfig(rate_limit=None, runs_unfiltered_limit=500)) as fake,
        Client(fake.token, base_url=fake.api_url) as client,
    ):
        # sparse recent failures, then a dense burst: density cuts, halves and 1-run probes
        fake.add_runs("octo-org", "octo-repo", count=200, days=10, end=END, failed=200, jobs=1)
        burst = END - timedelta(days=11)
        fake.add_runs(
            "octo-org", "octo-repo", count=1700, days=0.05, end=burst, failed=1700, jobs=1
        )
        await client.list_runs("octo-org", "octo-repo", status="failure").collect()
        await client.list_runs("octo-org", "octo-repo", workflow="ci.yml").collect()
        await client.list_runs("octo-org", "octo-repo").collect()  # past the unfiltered limit
        sent = [record.path_qs for record in fake.stats.requests_log]
    assert any("created=" in path and "per_page=1&" in path for path in sent)
    assert any("page=3" in path for path in sent)
    bad = []
    headers = {"Accept": "application/vnd.github+json"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for path in sent:
            async with http.get(prism_runs_static.url + path) as response:
                if response.status in {406, 422} or "sl-violations" in response.headers:
                    bad.append(f"{path} -> {response.status}")
    assert bad == [], prism_runs_static.log_tail()


@pytest.mark.parametrize(
    "query",
    ["status=startup_failure", "status=failed", "per_page=many", "exclude_pull_requests=maybe"],
)
async def test_prism_refuses_what_the_description_forbids(
    prism_runs_static: PrismServer, query: str
) -> None:
    """Control: the runs mock answers 422 to an invalid query (startup_failure is the enum's
    known gap), so 'no 422' above means something."""
    url = f"{prism_runs_static.url}{REPO_RUNS_PATH.format(owner=OWNER, repo=REPO)}?{query}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Accept": "application/vnd.github+json"}) as response,
    ):
        assert response.status == 422, prism_runs_static.log_tail()


def test_fixup_5_is_needed() -> None:
    """GitHub's created qualifiers break the declared date-time format; the fix-up lifts it."""
    raw = SPEC["components"]["parameters"]["created"]["schema"]
    fixed = created_fixed(SPEC)["components"]["parameters"]["created"]["schema"]
    qualifier = "2026-01-01T00:00:00Z..2026-01-31T23:59:59Z"
    assert list(OAS30Validator(raw, format_checker=oas30_format_checker).iter_errors(qualifier))
    assert not list(
        OAS30Validator(fixed, format_checker=oas30_format_checker).iter_errors(qualifier)
    )
    assert {k: v for k, v in raw.items() if k != "format"} == fixed


# ------------------------------------------------------------------ Prism, dynamic


async def test_generated_runs_decode(prism_runs_dynamic: PrismServer) -> None:
    """Runs and pages generated from the schemas (nulls, odd strings, big numbers) decode."""
    headers = {"Accept": "application/vnd.github+json"}
    run_url = f"{prism_runs_dynamic.url}/repos/{OWNER}/{REPO}/actions/runs/5"
    attempt_url = f"{run_url}/attempts/1"
    list_urls = [
        f"{prism_runs_dynamic.url}/repos/{OWNER}/{REPO}/actions/runs",
        f"{prism_runs_dynamic.url}/repos/{OWNER}/{REPO}/actions/workflows/ci.yml/runs",
    ]
    decoded = 0
    async with aiohttp.ClientSession(headers=headers) as http:
        for index in range(150):
            url = (run_url, attempt_url, *list_urls)[index % 4]
            async with http.get(url) as response:
                assert response.status == 200, prism_runs_dynamic.log_tail()
                body = await response.read()
            if url in list_urls:
                page = decode_runs_page(body)
                decoded += len(page.runs)
            else:
                decode_run(body)
                decoded += 1
    assert decoded >= 75


async def test_get_run_through_the_client_decodes_generated_runs(
    prism_runs_dynamic: PrismServer,
) -> None:
    """get_run over the client: generated runs decode into WorkflowRun."""
    async with Client(TOKEN, base_url=prism_runs_dynamic.url, requests_per_minute=None) as client:
        for _ in range(50):
            run = await client.get_run(OWNER, REPO, 5)
            assert isinstance(run, WorkflowRun)


# ------------------------------------------------------------------ the fake vs the schemas


def _page_validator() -> OAS30Validator:
    responses = SPEC["paths"][REPO_RUNS_PATH]["get"]["responses"]
    schema = copy.deepcopy(responses["200"]["content"]["application/json"]["schema"])
    schema["additionalProperties"] = False
    return exact_runs_validator(SPEC, schema)


async def test_every_listing_body_of_the_fake_fits_the_schema() -> None:
    """Listing pages of the fake (filters, both endpoints, page sizes, past the cap) carry
    every property of workflow-run and none other, in a closed page object."""
    validator = _page_validator()
    queries = [
        "",
        "?per_page=100",
        "?status=failure&per_page=7&page=2",
        "?status=in_progress",
        "?created=2026-03-01..*&exclude_pull_requests=true",
        "?branch=main&per_page=100&page=11",  # past the cap: empty page
    ]
    failures: list[str] = []
    async with FakeGitHub(FakeConfig(rate_limit=None, runs_search_cap=20)) as fake:
        fake.add_runs(OWNER, REPO, count=120, days=40, end=END, failed=20, in_progress=5)
        fake.add_run(OWNER, REPO, jobs=0, workflow_name=None, head_branch=None)
        headers = {"Authorization": f"Bearer {fake.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            for base in ("/actions/runs", "/actions/workflows/ci.yml/runs"):
                for query in queries:
                    url = f"{fake.api_url}/repos/{OWNER}/{REPO}{base}{query}"
                    async with http.get(url) as response:
                        assert response.status == 200, url
                        body = await response.json()
                    failures += [f"{base}{query}: {p}" for p in problems(validator, body)]
    assert failures == []


def test_the_page_check_is_not_vacuous() -> None:
    """A page with an extra key, or a run missing a property, is refused."""
    validator = _page_validator()
    page = example("workflow-run-paginated")
    assert problems(validator, {**page, "extra": 1})
    page["workflow_runs"][0].pop("display_title")
    assert problems(validator, page)


# ------------------------------------------------------------------ the model vs the schema

_REFS = {
    "simple-user": RunUser,
    "minimal-repository": RunRepository,
    "nullable-simple-commit": RunCommit,
    "pull-request-minimal": RunPullRequest,
    "referenced-workflow": ReferencedWorkflow,
}


def _members(annotation: Any) -> set[Any]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return set(typing.get_args(annotation))
    return {annotation}


def _resolved(prop: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref = prop.get("$ref")
    if ref is None:
        return prop, None
    name = ref.rsplit("/", 1)[-1]
    return SPEC["components"]["schemas"][name], name


def _expected(prop: dict[str, Any]) -> set[Any]:
    schema, ref = _resolved(prop)
    if ref is not None:
        return {_REFS[ref]}
    kind = schema.get("type")
    if kind == "integer":
        return {int}
    if kind == "array":
        _item, item_ref = _resolved(schema["items"])
        return {tuple[_REFS[item_ref], ...]} if item_ref else {tuple[str, ...]}  # type: ignore[misc]
    if schema.get("format") == "date-time":
        return {datetime}
    return {str}


# Required and not nullable in the spec, but null in GitHub's answers: Optional in the model.
KNOWN_NULL = {
    # a run from a fork since deleted (github/rest-api-description#1586)
    "head_repository",
}


@pytest.mark.parametrize("name", sorted(RUN_SCHEMA["properties"]))
def test_each_run_property_agrees_on_nullability_and_type(name: str) -> None:
    """Nullable means Optional (and required and not nullable, not, but for what GitHub
    is known to send null); ints are int, date-times datetime, arrays tuples, nested
    objects their lean models."""
    hints = typing.get_type_hints(WorkflowRun, vars(models))
    prop = RUN_SCHEMA["properties"][name]
    schema, _ref = _resolved(prop)
    members = _members(hints[name])
    optional = type(None) in members
    required = name in RUN_SCHEMA["required"]
    if prop.get("nullable") or schema.get("nullable"):
        assert optional, f"{name} is nullable in the spec but not Optional"
    elif name in KNOWN_NULL:
        assert optional, f"GitHub sends null for {name}, but it is not Optional"
    elif required:
        assert not optional, f"{name} is required and not nullable, but Optional"
    plain = {
        m
        for m in members - {type(None)}
        if not (isinstance(m, type) and m is not str and issubclass(m, str))
    }
    assert plain == _expected(prop), (name, members)


def test_the_lean_models_require_only_what_the_schemas_require() -> None:
    """A lean model's fields without default are required by its schema (so decoding
    any run GitHub may send cannot fail for a missing field the schema allows to be absent)."""
    for ref, model in _REFS.items():
        schema = SPEC["components"]["schemas"][ref]
        required = set(schema.get("required", []))
        for field in attrs.fields(model):
            if field.default is attrs.NOTHING:
                assert field.name in required or ref == "referenced-workflow", (ref, field.name)


def test_created_windows_are_what_the_fake_and_github_count_alike() -> None:
    """A window's qualifier is one GitHub's date syntax reads back to the same seconds."""
    from gh_jobs_async._created import Window, parse_created

    window = Window(END - timedelta(days=3), END)
    assert parse_created(window.qualifier()) == parse_created((window.since, window.until))
