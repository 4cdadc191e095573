"""Prism in dynamic mode: hundreds of generated answers decode, whatever legal values they hold.

Every answer is generated afresh from GitHub's schemas by json-schema-faker: nulls in every
nullable field, every enum value, negative and very large integers, timestamps from the
19th century on, free-form step conclusions. The lenient production converter must take all of them.
The mock keeps GitHub's ``Link`` example, which points at ``https://api.github.com``: the
paginator must refuse it without sending anything there.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from conformance_prism import PrismServer
from conformance_support import WireRecorder, load_spec

from gh_jobs_async import Client, Job, JobsPage, LogLocation, UnsafeURLError

pytestmark = pytest.mark.conformance

TOKEN = "ghp_conformanceDYNAMIC0123456789abcdef"
OWNER, REPO = "octo-org", "octo-repo"
JOBS = 200  # get_job answers
PAGES = 100  # get_jobs_page answers (each holds zero or more generated jobs)
LOG_URLS = 20
# Ids are int64 in the description, but Prism (JavaScript) refuses a path id above 2**53 - 1
# with 422 "must be <= 9007199254740991": a limit of the mock, not of GitHub.
MAX_PRISM_ID = 2**53 - 1


@dataclass
class Harness:
    """A client of the dynamic mock, what it sent, and the mock."""

    client: Client
    recorder: WireRecorder
    prism: PrismServer

    def context(self) -> str:
        """What was sent and Prism's log, for failure messages."""
        sent = self.recorder.exchanges
        lines = "\n".join(exchange.describe() for exchange in sent[-20:])
        return f"{len(sent)} requests, the last ones:\n{lines}\nPrism log:\n{self.prism.log_tail()}"

    def assert_no_request_violations(self) -> None:
        """No answer of Prism flags the client's request (response issues are Prism's)."""
        flagged = [
            exchange.describe()
            for exchange in self.recorder.exchanges
            if any(v.get("location", [""])[0] == "request" for v in exchange.violations())
            or exchange.status in {406, 422}
        ]
        assert flagged == [], "\n".join(flagged[:10]) + "\n" + self.context()


@pytest.fixture(name="dynamic")
async def fixture_dynamic(prism_dynamic: PrismServer) -> AsyncIterator[Harness]:
    """A recorded client of the dynamic mock; no retries, so a 5xx fails at once."""
    recorder = WireRecorder()
    async with (
        recorder.session() as http,
        Client(
            TOKEN,
            base_url=prism_dynamic.url,
            session=http,
            requests_per_minute=None,
            max_retries=0,
            max_concurrency=8,
        ) as client,
    ):
        yield Harness(client, recorder, prism_dynamic)


async def _decode_all(calls: Sequence[Awaitable[object]]) -> tuple[list[Any], list[str]]:
    """Await every call (concurrently, under the client's limiter); results and errors."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    results = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    errors = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    return results, errors


def _variety(jobs: list[Job]) -> dict[str, set[object]]:
    """Per spec property of interest, the values (or null / not null) seen across ``jobs``."""
    job = load_spec()["components"]["schemas"]["job"]["properties"]
    seen: dict[str, set[object]] = collections.defaultdict(set)
    for decoded in jobs:
        seen["status"].add(decoded.status)
        seen["conclusion"].add(decoded.conclusion)
        for name in (name for name, prop in job.items() if prop.get("nullable")):
            seen[f"{name} is None"].add(getattr(decoded, name) is None)
    return seen


async def test_generated_jobs_decode(dynamic: Harness) -> None:
    """A few hundred generated job answers decode, with nulls and every status among them."""
    rng = random.Random(6)
    calls = [
        dynamic.client.get_job(OWNER, REPO, rng.randrange(1, MAX_PRISM_ID)) for _ in range(JOBS)
    ]
    jobs, errors = await _decode_all(calls)

    assert errors == [], "\n".join(errors[:10]) + "\n" + dynamic.context()
    assert len(jobs) == JOBS
    assert all(isinstance(job, Job) for job in jobs)
    dynamic.assert_no_request_violations()
    # The answers really varied: every status and conclusion of the spec, and both null and
    # a value in every nullable field (each misses with odds below 1e-7 in 200 answers).
    spec = load_spec()["components"]["schemas"]["job"]["properties"]
    seen = _variety(jobs)
    assert seen.pop("status") == set(spec["status"]["enum"])
    assert seen.pop("conclusion") == {*spec["conclusion"]["enum"], None}
    assert all(both == {True, False} for both in seen.values()), seen


async def test_generated_pages_decode(dynamic: Harness) -> None:
    """A hundred generated page answers decode, for every listing and page shape."""
    rng = random.Random(7)
    options: list[dict[str, Any]] = [
        {
            "page": rng.randrange(1, 1000),
            "per_page": rng.randrange(1, 101),
            **rng.choice([{"filter": "latest"}, {"filter": "all"}, {"attempt": 1 + i % 9}]),
        }
        for i in range(PAGES)
    ]
    calls = [
        dynamic.client.get_jobs_page(OWNER, REPO, rng.randrange(1, MAX_PRISM_ID), **kw)
        for kw in options
    ]
    pages, errors = await _decode_all(calls)

    assert errors == [], "\n".join(errors[:10]) + "\n" + dynamic.context()
    assert len(pages) == PAGES
    assert all(isinstance(page, JobsPage) for page in pages)
    dynamic.assert_no_request_violations()
    assert sum(len(page.jobs) for page in pages) > PAGES  # pages do carry generated jobs


async def test_log_url_is_the_generated_location_and_not_followed(dynamic: Harness) -> None:
    """get_log_url returns Prism's Location as it came, without a request to it."""
    for job_id in range(1, LOG_URLS + 1):
        location = await dynamic.client.get_log_url(OWNER, REPO, job_id)
        answer = dynamic.recorder.exchanges[-1]
        assert answer.status == 302, dynamic.context()
        assert isinstance(location, LogLocation)
        assert location.url == answer.response_headers["location"]
        assert not location.inline
    assert len(dynamic.recorder.exchanges) == LOG_URLS  # one request each, no follow
    assert dynamic.recorder.hosts() == {"127.0.0.1"}
    dynamic.assert_no_request_violations()


@pytest.mark.parametrize("attempt", [None, 2], ids=["run", "attempt"])
async def test_paginator_refuses_the_api_github_com_link(
    dynamic: Harness, attempt: int | None
) -> None:
    """list_jobs raises UnsafeURLError on Prism's api.github.com Link, before sending there."""
    stream = dynamic.client.list_jobs(OWNER, REPO, 29679449, attempt=attempt, per_page=1)
    with pytest.raises(UnsafeURLError) as raised:
        await stream.collect()

    first = dynamic.recorder.exchanges[0]
    assert "https://api.github.com/" in first.response_headers["link"]  # the precondition
    assert raised.value.origin == "https://api.github.com"
    # One request, page 1 to the mock; none to api.github.com, with or without the token.
    assert dynamic.client.requests_sent == 1
    assert [e.host for e in dynamic.recorder.exchanges] == ["127.0.0.1"], dynamic.context()
    assert first.request_headers["Authorization"] == f"Bearer {TOKEN}"
    dynamic.assert_no_request_violations()
