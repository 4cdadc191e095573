"""Prism in static mode with ``--errors``: every request the client makes is one GitHub's
description allows, and the spec's own examples come back as the models.

Prism validates each request (path, path parameters, query parameters, media type) and
answers 422 to one that breaks the description; it adds an ``sl-violations`` header for
anything less. It also validates its own answer, the example, and answers 500 if that breaks
the schema: so a 200 here also proves that the example with fix-up 1 satisfies the schema.
The description declares no security scheme and no header parameters, so Prism checks
neither ``Authorization`` nor ``X-GitHub-Api-Version``; it does check ``Accept`` (406).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import pytest
from conformance_prism import PrismServer
from conformance_support import LOGS_PATH, WireRecorder, fixed_example, load_spec

from gh_jobs_async import Client, GhJobsError, Job, LogLocation
from gh_jobs_async.models import decode_job, decode_jobs_page, make_converter

pytestmark = pytest.mark.conformance

TOKEN = "ghp_conformanceSTATIC0123456789abcdef"
OWNER, REPO, RUN_ID, JOB_ID = "octo-org", "octo-repo", 29679449, 399444496
STRICT = make_converter(strict=True)
T = TypeVar("T")


@dataclass
class Harness:
    """A client of the static mock, what it sent, and the mock."""

    client: Client
    recorder: WireRecorder
    prism: PrismServer

    def context(self) -> str:
        """What was sent and Prism's log, for failure messages."""
        report = "\n".join(exchange.describe() for exchange in self.recorder.exchanges)
        return f"requests:\n{report}\nPrism log:\n{self.prism.log_tail()}"

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Await a client call; an error (say Prism's 422 or 500) fails with the context."""
        try:
            return await awaitable
        except GhJobsError as exc:
            pytest.fail(f"{type(exc).__name__}: {exc}\n{self.context()}", pytrace=False)

    def assert_valid(self, *, count: int) -> None:
        """``count`` requests, all to the mock, none refused or flagged by Prism."""
        sent = self.recorder.exchanges
        context = self.context()
        version = load_spec()["info"]["x-github-source"]["api-version"]
        assert len(sent) == count, context
        assert self.recorder.hosts() == {"127.0.0.1"}, context
        for exchange in sent:
            assert exchange.status is not None, context
            assert exchange.status not in {406, 422}, context
            assert exchange.violations() == [], context
            # Not in the description's parameters, so Prism cannot check these two: we do.
            assert exchange.request_headers["Accept"] == "application/vnd.github+json"
            assert exchange.request_headers["X-GitHub-Api-Version"] == version


@pytest.fixture(name="static")
async def fixture_static(prism_static: PrismServer) -> AsyncIterator[Harness]:
    """A recorded client of the static mock; no retries, so a 5xx from Prism fails at once."""
    recorder = WireRecorder()
    async with (
        recorder.session() as http,
        Client(
            TOKEN, base_url=prism_static.url, session=http, requests_per_minute=None, max_retries=0
        ) as client,
    ):
        yield Harness(client, recorder, prism_static)


def example_job() -> Job:
    """GitHub's ``job`` example (fix-up 1), decoded by the strict converter."""
    return decode_job(fixed_example(load_spec(), "job"), converter=STRICT)


async def test_get_job_request_is_valid_and_decodes_the_example(static: Harness) -> None:
    """get_job sends a request the description allows and returns GitHub's example job."""
    job = await static.call(static.client.get_job(OWNER, REPO, JOB_ID))

    static.assert_valid(count=1)
    assert static.recorder.exchanges[0].status == 200
    assert job == example_job()


@pytest.mark.parametrize(
    "options",
    [
        {"filter": "latest", "per_page": 100},
        {"filter": "all", "per_page": 1},
        {"per_page": 30},
        {"attempt": 1},
        {"attempt": 3, "per_page": 2},
    ],
    ids=["latest-100", "all-1", "default-filter-30", "attempt-1", "attempt-3-per-page-2"],
)
async def test_list_jobs_requests_are_valid(static: Harness, options: dict[str, Any]) -> None:
    """list_jobs' first request and its follow-up page requests all pass validation."""
    jobs = await static.call(static.client.list_jobs(OWNER, REPO, RUN_ID, **options).collect())

    # Page 1, then page 2 built by the paginator from the mock's rel="last" (fix-up 4).
    static.assert_valid(count=2)
    assert "page=2" in static.recorder.exchanges[1].url
    assert jobs == [example_job()]  # page 2 repeats the example's job: dropped as seen


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"filter": "latest", "page": 1, "per_page": 100},
        {"filter": "all", "page": 3, "per_page": 7},
        {"attempt": 2, "page": 2, "per_page": 50},
        {"filter": "all", "per_page": 1},
    ],
    ids=["defaults", "latest-p1", "all-p3", "attempt-2-p2", "all-per-page-1"],
)
async def test_get_jobs_page_requests_are_valid(static: Harness, options: dict[str, Any]) -> None:
    """get_jobs_page with every filter, page and per_page gets GitHub's example page."""
    result = await static.call(static.client.get_jobs_page(OWNER, REPO, RUN_ID, **options))

    static.assert_valid(count=1)
    expected = decode_jobs_page(fixed_example(load_spec(), "job-paginated"), converter=STRICT)
    assert (result.total_count, result.jobs) == (expected.total_count, expected.jobs)
    assert set(result.links) == {"next", "last"}
    assert all(url.startswith(static.prism.url) for url in result.links.values())


async def test_get_log_url_request_is_valid_and_not_followed(static: Harness) -> None:
    """get_log_url sends a valid request and returns the example Location, unfollowed."""
    location = await static.call(static.client.get_log_url(OWNER, REPO, JOB_ID))

    static.assert_valid(count=1)  # one request: the Location is not followed
    logs = load_spec()["paths"][LOGS_PATH]["get"]
    assert static.recorder.exchanges[0].status == 302
    assert isinstance(location, LogLocation)
    assert location.url == logs["responses"]["302"]["headers"]["Location"]["example"]
    assert not location.inline


@pytest.mark.parametrize(
    "path",
    [
        "/repos/octo-org/octo-repo/actions/jobs/not-a-number",
        "/repos/octo-org/octo-repo/actions/runs/29679449/jobs?filter=newest",
        "/repos/octo-org/octo-repo/actions/runs/29679449/jobs?per_page=many",
        "/repos/octo-org/octo-repo/actions/runs/29679449/attempts/first/jobs",
    ],
)
async def test_prism_refuses_a_request_the_description_forbids(
    prism_static: PrismServer, path: str
) -> None:
    """Control: the static mock does answer 422 to invalid requests, so 'no 422' means something."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            prism_static.url + path, headers={"Accept": "application/vnd.github+json"}
        ) as response,
    ):
        assert response.status == 422, prism_static.log_tail()


async def test_prism_checks_the_accept_header(prism_static: PrismServer) -> None:
    """Control: an Accept type the document does not list gets 406 (hence fix-up 3)."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{prism_static.url}/repos/{OWNER}/{REPO}/actions/jobs/{JOB_ID}",
            headers={"Accept": "application/vnd.github.raw+json"},
        ) as response,
    ):
        assert response.status == 406, prism_static.log_tail()
