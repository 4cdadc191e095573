"""What gh_jobs_async.Client puts on the wire: URLs, query strings, headers (aioresponses)."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from _support import sample_job
from aioresponses import aioresponses
from yarl import URL

from gh_jobs_async import (
    ApiError,
    Client,
    ClientClosedError,
    InvalidArgumentError,
    Job,
    NotFoundError,
    PrimaryRateLimitError,
    RateLimit,
    ServerError,
    UnauthorizedError,
    __version__,
)

TOKEN = "ghp_R3questSh4peT0kenNeverShown0123456789"
GITHUB = "https://api.github.com"
GHES = "https://ghe.example.com/api/v3"
JOB_PATH = "/repos/octo-org/octo-repo/actions/jobs/399444496"
RUN_JOBS_PATH = "/repos/octo-org/octo-repo/actions/runs/29679449/jobs"
START = 1_700_000_000.0

JOB = sample_job(steps=[], labels=["ubuntu-latest"])
PAGE = {"total_count": 1, "jobs": [JOB]}


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 omits ``stream_writer``, which aiohttp 3.14 responses require."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentWriter())
        super().__init__(method, url, **kwargs)


class _SentWriter:
    """Stands for the writer of a request that was already sent (aiohttp reads its size)."""

    output_size = 0


_NEEDS_STREAM_WRITER = (
    "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters
)


class _Mocked(aioresponses):
    """aioresponses, compatible with the installed aiohttp."""

    def add(self, url: Any, method: str = "GET", **kwargs: Any) -> None:  # type: ignore[override]
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("response_class", _CompatResponse)
        super().add(url, method, **kwargs)


class FakeTime:
    """Injected clock and sleep: sleeping only records the delay and moves the clock."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += max(delay, 0.0)


@pytest.fixture(name="fake")
def fixture_fake() -> FakeTime:
    """A fresh fake clock and sleep."""
    return FakeTime()


@pytest.fixture(name="mocked")
def fixture_mocked() -> Iterator[aioresponses]:
    """aioresponses intercepting every aiohttp request of the test."""
    with _Mocked() as mocked:
        yield mocked


@pytest.fixture(name="make_client")
async def fixture_make_client(fake: FakeTime) -> AsyncIterator[Callable[..., Client]]:
    """Build clients with instant sleeps; every client built is closed after the test."""
    clients: list[Client] = []

    def make(token: str | None = TOKEN, **options: Any) -> Client:
        options.setdefault("sleep", fake.sleep)
        options.setdefault("clock", fake.clock)
        client = Client(token, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture(name="client")
def fixture_client(make_client: Callable[..., Client]) -> Client:
    """A client for api.github.com with a token."""
    return make_client()


def _calls(mocked: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    """Every request aioresponses saw, as (method, URL, kwargs)."""
    return [
        (method, url, call.kwargs)
        for (method, url), calls in mocked.requests.items()
        for call in calls
    ]


def _only_call(mocked: aioresponses) -> tuple[str, URL, dict[str, Any]]:
    calls = _calls(mocked)
    assert len(calls) == 1, calls
    return calls[0]


def _sent_headers(mocked: aioresponses) -> dict[str, str]:
    return dict(_only_call(mocked)[2]["headers"])


# --------------------------------------------------------------------------- URLs


async def test_get_job_url_on_github_com(client: Client, mocked: aioresponses) -> None:
    """get_job GETs /repos/{owner}/{repo}/actions/jobs/{job_id} on api.github.com."""
    mocked.get(GITHUB + JOB_PATH, payload=JOB)

    job = await client.get_job("octo-org", "octo-repo", 399444496)

    method, url, _ = _only_call(mocked)
    assert (method, str(url)) == ("GET", GITHUB + JOB_PATH)
    assert job.id == 399444496


@pytest.mark.parametrize("base", [GHES, GHES + "/", "https://GHE.example.com//api/v3//"])
async def test_get_job_url_on_ghes(
    make_client: Callable[..., Client], mocked: aioresponses, base: str
) -> None:
    """On GHES the same path sits under /api/v3, however the base URL was written."""
    mocked.get(GHES + JOB_PATH, payload=JOB)
    client = make_client(base_url=base)

    await client.get_job("octo-org", "octo-repo", 399444496)

    assert str(_only_call(mocked)[1]) == GHES + JOB_PATH
    assert client.base_url == GHES


async def test_list_jobs_default_query(client: Client, mocked: aioresponses) -> None:
    """list_jobs asks for filter=latest and 100 per page (GitHub's default of 30 is too few)."""
    mocked.get(GITHUB + RUN_JOBS_PATH + "?filter=latest&per_page=100", payload=PAGE)

    jobs = await client.list_jobs("octo-org", "octo-repo", 29679449).collect()

    _, url, _ = _only_call(mocked)
    assert url.path == RUN_JOBS_PATH
    assert dict(url.query) == {"filter": "latest", "per_page": "100"}
    assert [job.id for job in jobs] == [399444496]


async def test_list_jobs_filter_and_per_page(client: Client, mocked: aioresponses) -> None:
    """filter and per_page are sent as given."""
    mocked.get(GITHUB + RUN_JOBS_PATH + "?filter=all&per_page=50", payload=PAGE)

    await client.list_jobs("octo-org", "octo-repo", 29679449, filter="all", per_page=50).collect()

    assert dict(_only_call(mocked)[1].query) == {"filter": "all", "per_page": "50"}


async def test_list_jobs_of_an_attempt(client: Client, mocked: aioresponses) -> None:
    """attempt=N uses .../runs/{run_id}/attempts/{N}/jobs, without a filter."""
    path = "/repos/octo-org/octo-repo/actions/runs/29679449/attempts/2/jobs"
    mocked.get(GITHUB + path + "?per_page=100", payload=PAGE)

    await client.list_jobs("octo-org", "octo-repo", 29679449, attempt=2).collect()

    _, url, _ = _only_call(mocked)
    assert url.path == path
    assert dict(url.query) == {"per_page": "100"}


async def test_get_jobs_page_query_and_links(client: Client, mocked: aioresponses) -> None:
    """get_jobs_page sends page, per_page and filter, and returns the Link relations."""
    link = (
        f'<{GITHUB}{RUN_JOBS_PATH}?filter=latest&per_page=20&page=4>; rel="next", '
        f'<{GITHUB}{RUN_JOBS_PATH}?filter=latest&per_page=20&page=9>; rel="last"'
    )
    mocked.get(
        GITHUB + RUN_JOBS_PATH + "?filter=latest&per_page=20&page=3",
        payload={"total_count": 170, "jobs": [JOB]},
        headers={"Link": link},
    )

    page = await client.get_jobs_page("octo-org", "octo-repo", 29679449, page=3, per_page=20)

    assert dict(_only_call(mocked)[1].query) == {"filter": "latest", "per_page": "20", "page": "3"}
    assert page.total_count == 170
    assert page.links["next"].endswith("page=4")
    assert page.links["last"].endswith("page=9")


async def test_get_jobs_page_of_an_attempt(client: Client, mocked: aioresponses) -> None:
    """get_jobs_page with attempt uses the attempts URL."""
    path = "/repos/octo-org/octo-repo/actions/runs/29679449/attempts/3/jobs"
    mocked.get(GITHUB + path + "?per_page=100&page=1", payload=PAGE)

    await client.get_jobs_page("octo-org", "octo-repo", 29679449, attempt=3)

    assert _only_call(mocked)[1].path == path


# --------------------------------------------------------------------------- headers


async def test_headers_with_a_token(client: Client, mocked: aioresponses) -> None:
    """Accept, the API version, a User-Agent naming the library, and a Bearer token."""
    mocked.get(GITHUB + JOB_PATH, payload=JOB)

    await client.get_job("octo-org", "octo-repo", 399444496)

    headers = _sent_headers(mocked)
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert headers["User-Agent"].startswith(f"gh_jobs_async/{__version__}")
    assert headers["Authorization"] == f"Bearer {TOKEN}"


async def test_no_authorization_without_a_token(
    make_client: Callable[..., Client], mocked: aioresponses
) -> None:
    """Without a token no Authorization header is sent, in any spelling."""
    mocked.get(GITHUB + JOB_PATH, payload=JOB)

    await make_client(None).get_job("octo-org", "octo-repo", 399444496)

    headers = _sent_headers(mocked)
    assert "authorization" not in {name.lower() for name in headers}
    assert headers["Accept"] == "application/vnd.github+json"


async def test_api_version_and_user_agent_can_be_chosen(
    make_client: Callable[..., Client], mocked: aioresponses
) -> None:
    """api_version and user_agent options replace the defaults."""
    mocked.get(GITHUB + JOB_PATH, payload=JOB)
    client = make_client(api_version="2026-03-10", user_agent="my-tool/2.0")

    await client.get_job("octo-org", "octo-repo", 399444496)

    headers = _sent_headers(mocked)
    assert headers["X-GitHub-Api-Version"] == "2026-03-10"
    assert headers["User-Agent"] == "my-tool/2.0"


async def test_rate_limit_is_exposed(client: Client, mocked: aioresponses) -> None:
    """client.rate_limit is None before any answer, then the latest x-ratelimit-* state."""
    mocked.get(
        GITHUB + JOB_PATH,
        payload=JOB,
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4321",
            "x-ratelimit-used": "679",
            "x-ratelimit-reset": str(int(START) + 1800),
            "x-ratelimit-resource": "core",
        },
    )
    assert client.rate_limit is None

    await client.get_job("octo-org", "octo-repo", 399444496)

    rate = client.rate_limit
    assert isinstance(rate, RateLimit)
    assert (rate.limit, rate.remaining, rate.used) == (5000, 4321, 679)


# --------------------------------------------------------------------------- arguments


BAD_CALLS: dict[str, Callable[[Client], Awaitable[object]]] = {
    "owner with space": lambda c: c.get_job("octo org", "r", 1),
    "owner with slash": lambda c: c.get_job("a/b", "r", 1),
    "repo dot-dot": lambda c: c.get_job("o", "..", 1),
    "repo too long": lambda c: c.get_job("o", "x" * 101, 1),
    "job id zero": lambda c: c.get_job("o", "r", 0),
    "job id bool": lambda c: c.get_job("o", "r", True),
    "job id str": lambda c: c.get_job("o", "r", "1"),  # type: ignore[arg-type]
    "job id too big": lambda c: c.get_job("o", "r", 2**63),
    "run id negative": lambda c: c.list_jobs("o", "r", -1).collect(),
    "per_page 101": lambda c: c.list_jobs("o", "r", 1, per_page=101).collect(),
    "per_page 0": lambda c: c.get_jobs_page("o", "r", 1, per_page=0),
    "filter unknown": lambda c: c.list_jobs("o", "r", 1, filter="completed").collect(),
    "page zero": lambda c: c.get_jobs_page("o", "r", 1, page=0),
    "attempt zero": lambda c: c.list_jobs("o", "r", 1, attempt=0).collect(),
    "max_items zero": lambda c: c.list_jobs("o", "r", 1, max_items=0).collect(),
    "filter all with attempt": lambda c: c.list_jobs(
        "o", "r", 1, filter="all", attempt=2
    ).collect(),
    "page filter all with attempt": lambda c: c.get_jobs_page("o", "r", 1, filter="all", attempt=2),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
async def test_bad_arguments_fail_before_any_request(
    client: Client, mocked: aioresponses, call: Callable[[Client], Awaitable[object]]
) -> None:
    """Bad arguments raise InvalidArgumentError (a ValueError) and nothing is sent."""
    mocked.get(GITHUB + JOB_PATH, payload=JOB, repeat=True)

    with pytest.raises(InvalidArgumentError) as info:
        await call(client)

    assert isinstance(info.value, ValueError)
    assert mocked.requests == {}
    assert client.requests_sent == 0


def test_list_jobs_checks_arguments_when_called(client: Client) -> None:
    """list_jobs raises at call time, before the stream is iterated."""
    with pytest.raises(InvalidArgumentError, match="filter"):
        client.list_jobs("o", "r", 1, filter="all", attempt=2)


@pytest.mark.parametrize(
    "option",
    [
        {"max_concurrency": 0},
        {"max_concurrency": 101},
        {"requests_per_minute": 0},
        {"max_retries": -1},
        {"api_version": "latest"},
        {"base_url": "ftp://ghe.example.com"},
    ],
)
def test_bad_client_options_are_rejected(option: dict[str, Any]) -> None:
    """Bad client options raise InvalidArgumentError when the client is built."""
    with pytest.raises(InvalidArgumentError):
        Client(TOKEN, **option)


# --------------------------------------------------------------------------- secrets


def _all_text(exc: BaseException) -> str:
    """Everything an exception can show: str, repr, args, attributes, chain and traceback."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    parts.append("".join(traceback.format_exception(exc)))
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, {"message": "Bad credentials"}, UnauthorizedError),
        (404, {"message": "Not Found"}, NotFoundError),
        (500, {"message": "Server Error"}, ServerError),
    ],
)
async def test_token_in_no_exception(
    make_client: Callable[..., Client],
    mocked: aioresponses,
    status: int,
    body: dict[str, str],
    cls: type[ApiError],
) -> None:
    """API errors (after retries for 500) carry status, URL and message, never the token."""
    mocked.get(
        GITHUB + JOB_PATH,
        status=status,
        payload=body | {"documentation_url": "https://docs.github.com/rest"},
        headers={"x-github-request-id": "CF3A:1B2C:3D4E5F:6A7B8C:65F0A1B2"},
        repeat=True,
    )
    client = make_client(max_retries=2)

    with pytest.raises(cls) as info:
        await client.get_job("octo-org", "octo-repo", 399444496)

    error = info.value
    assert (error.status, error.url) == (status, GITHUB + JOB_PATH)
    assert error.request_id == "CF3A:1B2C:3D4E5F:6A7B8C:65F0A1B2"
    assert error.message == body["message"]
    text = _all_text(error)
    assert TOKEN not in text
    assert TOKEN[4:20] not in text


async def test_token_in_no_repr(client: Client, mocked: aioresponses) -> None:
    """Neither the client nor a decoded job nor a page shows the token in its repr."""
    mocked.get(GITHUB + JOB_PATH, payload=JOB)
    mocked.get(GITHUB + RUN_JOBS_PATH + "?filter=latest&per_page=100&page=1", payload=PAGE)

    job = await client.get_job("octo-org", "octo-repo", 399444496)
    page = await client.get_jobs_page("octo-org", "octo-repo", 29679449)
    stream = client.list_jobs("octo-org", "octo-repo", 29679449)

    for obj in (client, job, page, stream, client.rate_limit):
        assert TOKEN not in repr(obj)
        assert TOKEN not in str(obj)
    assert "api.github.com" in repr(client)
    assert isinstance(job, Job)


@pytest.mark.parametrize("token", ["ghp_with space", "ghp_newline\n", ""])
def test_bad_token_is_refused_without_echoing_it(token: str) -> None:
    """A malformed token is refused, and the error does not show it."""
    with pytest.raises(InvalidArgumentError) as info:
        Client(token)

    if token:
        assert token.strip() not in _all_text(info.value)


# --------------------------------------------------------------------------- lifecycle


async def test_closed_client_refuses_every_operation(client: Client, mocked: aioresponses) -> None:
    """After close(), every operation raises ClientClosedError and nothing is sent."""
    await client.close()
    await client.close()  # idempotent

    with pytest.raises(ClientClosedError):
        await client.get_job("octo-org", "octo-repo", 399444496)
    with pytest.raises(ClientClosedError):
        client.list_jobs("octo-org", "octo-repo", 29679449)
    with pytest.raises(ClientClosedError):
        await client.get_jobs_page("octo-org", "octo-repo", 29679449)
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert isinstance(ClientClosedError("x"), RuntimeError)
    assert mocked.requests == {}
    assert "closed" in repr(client)


async def test_context_manager_closes_the_client(mocked: aioresponses, fake: FakeTime) -> None:
    """Leaving `async with` closes the client."""
    mocked.get(GITHUB + JOB_PATH, payload=JOB)
    async with Client(TOKEN, sleep=fake.sleep, clock=fake.clock) as client:
        await client.get_job("octo-org", "octo-repo", 399444496)

    with pytest.raises(ClientClosedError):
        await client.get_job("octo-org", "octo-repo", 399444496)


async def test_borrowed_session_stays_open(mocked: aioresponses) -> None:
    """A caller's ClientSession is used for requests and left open when the client closes."""
    mocked.get(GITHUB + JOB_PATH, payload=JOB)
    async with aiohttp.ClientSession() as http:
        async with Client(TOKEN, session=http) as client:
            await client.get_job("octo-org", "octo-repo", 399444496)

        assert not http.closed
        assert _sent_headers(mocked)["Authorization"] == f"Bearer {TOKEN}"


async def test_borrowed_session_with_authorization_is_refused() -> None:
    """A session whose default headers carry Authorization would leak it to the log host."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        with pytest.raises(InvalidArgumentError) as info:
            Client(session=http)

        assert TOKEN not in _all_text(info.value)


# --------------------------------------------------------------------------- retries (instant)


async def test_502_is_retried(
    make_client: Callable[..., Client], mocked: aioresponses, fake: FakeTime
) -> None:
    """A 502 is retried after a backoff sleep; the second answer is returned."""
    mocked.get(GITHUB + JOB_PATH, status=502, body="<html>502 Bad Gateway</html>")
    mocked.get(GITHUB + JOB_PATH, payload=JOB)
    client = make_client()

    job = await client.get_job("octo-org", "octo-repo", 399444496)

    assert job.id == 399444496
    assert client.requests_sent == 2
    assert len(fake.sleeps) == 1
    assert 0.0 <= fake.sleeps[0] <= 30.0


async def test_retry_after_on_503_is_a_minimum(
    make_client: Callable[..., Client], mocked: aioresponses, fake: FakeTime
) -> None:
    """retry-after on a 503 is honoured as the minimum backoff."""
    mocked.get(GITHUB + JOB_PATH, status=503, headers={"Retry-After": "7"})
    mocked.get(GITHUB + JOB_PATH, payload=JOB)

    await make_client().get_job("octo-org", "octo-repo", 399444496)

    assert len(fake.sleeps) == 1
    assert fake.sleeps[0] >= 7.0


async def test_retries_are_bounded(
    make_client: Callable[..., Client], mocked: aioresponses, fake: FakeTime
) -> None:
    """After max_retries retries of a 500, ServerError is raised."""
    mocked.get(GITHUB + JOB_PATH, status=500, payload={"message": "boom"}, repeat=True)
    client = make_client(max_retries=3)

    with pytest.raises(ServerError):
        await client.get_job("octo-org", "octo-repo", 399444496)

    assert client.requests_sent == 4
    assert len(fake.sleeps) == 3


@pytest.mark.parametrize("status", [401, 403, 404, 410, 422])
async def test_client_errors_are_not_retried(
    make_client: Callable[..., Client], mocked: aioresponses, fake: FakeTime, status: int
) -> None:
    """A final 4xx is raised at once: one request, no sleep."""
    mocked.get(GITHUB + JOB_PATH, status=status, payload={"message": "no"}, repeat=True)
    client = make_client()

    with pytest.raises(ApiError) as info:
        await client.get_job("octo-org", "octo-repo", 399444496)

    assert info.value.status == status
    assert client.requests_sent == 1
    assert fake.sleeps == []


async def test_secondary_limit_pauses_and_retries(
    make_client: Callable[..., Client], mocked: aioresponses, fake: FakeTime
) -> None:
    """A secondary limit with retry-after: the client pauses that long, then retries."""
    mocked.get(
        GITHUB + JOB_PATH,
        status=403,
        payload={"message": "You have exceeded a secondary rate limit."},
        headers={"Retry-After": "30", "x-ratelimit-remaining": "4000"},
    )
    mocked.get(GITHUB + JOB_PATH, payload=JOB)
    client = make_client()

    job = await client.get_job("octo-org", "octo-repo", 399444496)

    assert job.id == 399444496
    assert client.requests_sent == 2
    assert sum(fake.sleeps) >= 30.0


async def test_primary_limit_beyond_max_wait_raises(
    make_client: Callable[..., Client], mocked: aioresponses, fake: FakeTime
) -> None:
    """A spent primary budget whose reset is beyond max_rate_limit_wait raises at once."""
    mocked.get(
        GITHUB + JOB_PATH,
        status=403,
        payload={"message": "API rate limit exceeded"},
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(START) + 3600),
        },
        repeat=True,
    )
    client = make_client(max_rate_limit_wait=60)

    with pytest.raises(PrimaryRateLimitError) as info:
        await client.get_job("octo-org", "octo-repo", 399444496)

    assert info.value.reset_at is not None
    assert info.value.reset_at.timestamp() == START + 3600
    assert client.requests_sent == 1
    assert all(delay < 60 for delay in fake.sleeps)
