"""The fake's API origin: endpoints, pagination and Link headers, errors, headers, GHES."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

REPO = "/repos/octo-org/hello-world/actions"
Call = Callable[..., Awaitable[Any]]  # the `call` fixture (see conftest.py)
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def _links(reply: Any) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(reply.headers.get("Link", ""))}


async def test_get_job_returns_the_job(fake: FakeGitHub, call: Call) -> None:
    """GET /actions/jobs/{id} answers 200 with exactly the job dict."""
    run = fake.add_run(jobs=3)
    reply = await call(fake, f"{REPO}/jobs/{run.job_ids[1]}")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.json() == fake.job(run.job_ids[1])


@pytest.mark.parametrize("per_page", [None, 100])
@pytest.mark.parametrize("jobs", [0, 1, 30, 100, 101, 250])
async def test_pages_follow_link_headers(
    fake: FakeGitHub, call: Call, jobs: int, per_page: int | None
) -> None:
    """Following rel="next" yields every job once, with GitHub's rels on every page."""
    run = fake.add_run(jobs=jobs, log_size=10)
    size = per_page or 30
    pages = max(1, -(-jobs // size))
    query = "?filter=latest" + (f"&per_page={per_page}" if per_page else "")
    url: str | None = f"{fake.api_url}{REPO}/runs/{run.run_id}/jobs{query}"
    seen: list[dict[str, Any]] = []
    for page in range(1, pages + 1):
        assert url is not None
        reply = await call(fake, url)
        assert reply.status == 200
        assert reply.json()["total_count"] == jobs
        seen += reply.json()["jobs"]
        links = _links(reply)
        expected = set()
        if page > 1:
            expected |= {"prev", "first"}
        if page < pages:
            expected |= {"next", "last"}
        assert set(links) == expected
        if pages == 1:
            assert "Link" not in reply.headers
        if "last" in links:
            assert links["last"].endswith(f"page={pages}")
        url = links.get("next")
    assert url is None
    assert seen == fake.jobs_for("octo-org", "hello-world", run.run_id)


async def test_link_header_exact_format(fake: FakeGitHub, call: Call) -> None:
    """The Link header is absolute, keeps other parameters and lists prev, next, last, first."""
    run = fake.add_run(jobs=250, log_size=10)
    path = f"{REPO}/runs/{run.run_id}/jobs"
    reply = await call(fake, f"{path}?filter=all&per_page=100&page=2")
    base = f"{fake.api_url}{path}?filter=all&per_page=100&page="
    assert reply.headers["Link"] == (
        f'<{base}1>; rel="prev", <{base}3>; rel="next", '
        f'<{base}3>; rel="last", <{base}1>; rel="first"'
    )


async def test_per_page_is_clamped_and_garbage_ignored(fake: FakeGitHub, call: Call) -> None:
    """per_page above 100 means 100; garbage per_page or page means the defaults."""
    run = fake.add_run(jobs=150, log_size=10)
    path = f"{REPO}/runs/{run.run_id}/jobs"
    assert len((await call(fake, f"{path}?per_page=500")).json()["jobs"]) == 100
    assert len((await call(fake, f"{path}?per_page=abc&page=x")).json()["jobs"]) == 30
    assert len((await call(fake, f"{path}?per_page=0")).json()["jobs"]) == 30


async def test_page_past_the_end_is_empty(fake: FakeGitHub, call: Call) -> None:
    """A page past the last answers 200 with no jobs and the true total_count."""
    run = fake.add_run(jobs=5, log_size=10)
    reply = await call(fake, f"{REPO}/runs/{run.run_id}/jobs?page=9")
    assert reply.status == 200
    assert reply.json() == {"total_count": 5, "jobs": []}
    assert set(_links(reply)) == {"prev", "first"}


async def test_filter_latest_and_all(fake: FakeGitHub, call: Call) -> None:
    """filter=latest lists the newest attempt; filter=all every attempt, oldest first."""
    run = fake.add_run(jobs=3, attempts=3, log_size=10)
    path = f"{REPO}/runs/{run.run_id}/jobs"
    latest = (await call(fake, path)).json()
    assert [job["id"] for job in latest["jobs"]] == [job["id"] for job in run.latest]
    everything = (await call(fake, f"{path}?filter=all&per_page=100")).json()
    assert everything["total_count"] == 9
    assert [job["id"] for job in everything["jobs"]] == run.job_ids
    bogus = (await call(fake, f"{path}?filter=bogus")).json()
    assert bogus == latest


async def test_attempt_endpoint(fake: FakeGitHub, call: Call) -> None:
    """/attempts/{n}/jobs lists attempt n; attempts that do not exist are 404."""
    run = fake.add_run(jobs=2, attempts=2, log_size=10)
    path = f"{REPO}/runs/{run.run_id}/attempts"
    first = await call(fake, f"{path}/1/jobs")
    assert [job["id"] for job in first.json()["jobs"]] == run.job_ids[:2]
    assert fake.jobs_for("octo-org", "hello-world", run.run_id, attempt=1) == first.json()["jobs"]
    for missing in (0, 3):
        assert (await call(fake, f"{path}/{missing}/jobs")).status == 404


async def test_unknown_things_are_404(fake: FakeGitHub, call: Call) -> None:
    """Unknown repo, run, job or path, a trailing slash and non-GET methods all give 404."""
    run = fake.add_run(jobs=1, log_size=10)
    job_id = run.job_ids[0]
    for path in (
        f"/repos/octo-org/other/actions/jobs/{job_id}",
        f"{REPO}/jobs/1",
        f"{REPO}/jobs/{job_id}/",
        f"{REPO}/runs/1/jobs",
        f"{REPO}/runs/{run.run_id}/logs",
        f"{REPO}/runs/{run.run_id}/",
        "/",
        "/rate_limit",
    ):
        reply = await call(fake, path)
        assert reply.status == 404, path
        assert reply.json() == {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/actions/workflow-jobs#get-a-job-for-a-workflow-run",
            "status": "404",
        }
    assert (await call(fake, f"{REPO}/jobs/{job_id}", method="POST")).status == 404


async def test_owner_and_repo_match_case_insensitively(fake: FakeGitHub, call: Call) -> None:
    """Like GitHub, OWNER/REPO spelled in another case finds the same run."""
    run = fake.add_run("Octo-Org", "Hello-World", jobs=1, log_size=10)
    reply = await call(fake, f"/repos/octo-org/HELLO-WORLD/actions/runs/{run.run_id}/jobs")
    assert reply.json()["total_count"] == 1


async def test_credentials_are_checked(call: Call) -> None:
    """No token or a wrong one is 401 Bad credentials; "Bearer" and "token" both work."""
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=1, log_size=10)
        path = f"{REPO}/jobs/{run.job_ids[0]}"
        missing = await call(fake, path, token=False)
        assert missing.status == 401
        assert missing.json() == {
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401",
        }
        assert (await call(fake, path, token="ghp_wrong")).status == 401
        token_form = {"Authorization": f"token {fake.token}"}
        assert (await call(fake, path, token=False, headers=token_form)).status == 200
    async with FakeGitHub(require_token=False) as open_fake:
        run = open_fake.add_run(jobs=1, log_size=10)
        path = f"{REPO}/jobs/{run.job_ids[0]}"
        assert (await call(open_fake, path, token=False)).status == 200
        assert (await call(open_fake, path, token="ghp_wrong")).status == 401


async def test_common_headers(fake: FakeGitHub, call: Call) -> None:
    """Answers carry unique request ids, the selected API version and rate-limit headers."""
    first = await call(fake, "/nowhere")
    second = await call(fake, "/nowhere", headers={"X-GitHub-Api-Version": "2026-03-10"})
    ids = {first.headers["x-github-request-id"], second.headers["x-github-request-id"]}
    assert len(ids) == 2
    assert all(re.fullmatch(r"C0DE(:[0-9A-F]+){4}", rid) for rid in ids)
    assert first.headers["x-github-api-version-selected"] == "2022-11-28"
    assert second.headers["x-github-api-version-selected"] == "2026-03-10"
    assert first.headers["x-ratelimit-limit"] == "5000"
    assert first.headers["x-ratelimit-remaining"] == "4999"
    assert second.headers["x-ratelimit-used"] == "2"
    assert second.headers["x-ratelimit-resource"] == "core"
    assert int(second.headers["x-ratelimit-reset"]) > 1_600_000_000


async def test_unsupported_version_and_missing_user_agent(fake: FakeGitHub, call: Call) -> None:
    """An unknown X-GitHub-Api-Version is 400; a request without User-Agent is 403."""
    bad_version = await call(fake, "/x", headers={"X-GitHub-Api-Version": "2020-01-01"})
    assert bad_version.status == 400
    no_agent = await call(fake, "/x", skip_auto_headers=["User-Agent"])
    assert no_agent.status == 403


async def test_ghes_serves_under_api_v3(call: Call) -> None:
    """With ghes the API lives under /api/v3 (links too); the bare path is 404."""
    async with FakeGitHub(ghes=True) as fake:
        assert fake.api_url.endswith("/api/v3")
        run = fake.add_run(jobs=40, log_size=10)
        reply = await call(fake, f"{REPO}/runs/{run.run_id}/jobs")
        assert reply.status == 200
        assert _links(reply)["next"].startswith(f"{fake.api_url}{REPO}/runs/")
        assert reply.json()["jobs"][0]["url"].startswith(f"{fake.api_url}/repos/")
        bare = fake.api_url.removesuffix("/api/v3") + f"{REPO}/runs/{run.run_id}/jobs"
        assert (await call(fake, bare)).status == 404


async def test_link_origin_overrides_link_urls(call: Call) -> None:
    """link_origin replaces the origin written into Link headers (foreign-link tests)."""
    async with FakeGitHub(link_origin="https://api.github.com") as fake:
        run = fake.add_run(jobs=40, log_size=10)
        reply = await call(fake, f"{REPO}/runs/{run.run_id}/jobs")
        assert _links(reply)["next"].startswith(f"https://api.github.com{REPO}/runs/")
