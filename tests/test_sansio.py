"""The protocol core without I/O: no event loop, no server, only values in and values out."""

from __future__ import annotations

import itertools
import json
import random
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import gh_jobs_async
from gh_jobs_async import _sansio
from gh_jobs_async._sansio import (
    ApiBase,
    Fail,
    PrimaryLimit,
    Retry,
    SecondaryLimit,
    Success,
    backoff_delay,
    check_link,
    classify,
    parse_base_url,
    parse_link,
    parse_rate_limit,
    parse_retry_after,
    request_headers,
    resolve_redirect,
)
from gh_jobs_async.exceptions import (
    ApiError,
    ForbiddenError,
    GoneError,
    InvalidArgumentError,
    NotFoundError,
    PrimaryRateLimitError,
    RateLimitError,
    SecondaryRateLimitError,
    ServerError,
    UnauthorizedError,
    UnsafeURLError,
    ValidationFailedError,
)
from gh_jobs_async.models import RateLimit

NOW = 1_700_000_000.0  # a fixed "now" in epoch seconds (2023-11-14T22:13:20Z)
API_URL = "https://api.github.com/repos/octo-org/octo-repo/actions/jobs/399444496"
LOGS_URL = API_URL + "/logs"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID "
    "CF3A:1B2C:3D4E5F:6A7B8C:65F0A1B2."
)
SECONDARY_DOC = (
    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)

# Headers in the shape GitHub sends them (docs: rate-limits-for-the-rest-api).
RATE_SAMPLE_CORE = {
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": "4999",
    "x-ratelimit-used": "1",
    "x-ratelimit-reset": "1691591363",
    "x-ratelimit-resource": "core",
}
RATE_SAMPLE_ACTIONS_TOKEN = {  # GITHUB_TOKEN in a workflow, mixed-case names as in curl -I
    "X-RateLimit-Limit": "1000",
    "X-RateLimit-Remaining": "993",
    "X-RateLimit-Reset": "1700003600",
    "X-RateLimit-Used": "7",
    "X-RateLimit-Resource": "core",
}
RATE_SAMPLE_SPENT = {
    "x-ratelimit-limit": "60",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-used": "60",
    "x-ratelimit-reset": "1700000900",
    "x-ratelimit-resource": "core",
}

GITHUB_DOC_LINK = (
    '<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", '
    '<https://api.github.com/repositories/1300192/issues?page=4>; rel="next", '
    '<https://api.github.com/repositories/1300192/issues?page=515>; rel="last", '
    '<https://api.github.com/repositories/1300192/issues?page=1>; rel="first"'
)
SPEC_LINK = (
    '<https://api.github.com/resource?page=2>; rel="next", '
    '<https://api.github.com/resource?page=5>; rel="last"'
)


def _body(message: str, doc: str | None = None) -> bytes:
    data: dict[str, Any] = {"message": message}
    if doc is not None:
        data["documentation_url"] = doc
    return json.dumps(data).encode()


def _classify(
    status: int, headers: dict[str, str] | None = None, body: bytes = b"", **kw: Any
) -> _sansio.Decision:
    return classify(status, headers or {}, body, method="GET", url=API_URL, now=NOW, **kw)


@pytest.fixture(name="github")
def fixture_github() -> ApiBase:
    """The api.github.com root."""
    return parse_base_url("https://api.github.com")


@pytest.fixture(name="ghes")
def fixture_ghes() -> ApiBase:
    """A GitHub Enterprise Server root."""
    return parse_base_url("https://ghe.example.com/api/v3")


# --------------------------------------------------------------------------- arguments


def _assert_names(exc: InvalidArgumentError, value: object) -> None:
    assert isinstance(exc, ValueError)
    assert exc.value is value or exc.value == value
    assert repr(value) in str(exc)


@pytest.mark.parametrize(
    "owner", ["octo-org", "a", "A1", "octocat", "x" * 39, "my-org-2", "octo_acme", "x" * 100]
)
def test_good_owners_pass(owner: str) -> None:
    """GitHub user and organisation names pass unchanged."""
    assert _sansio.validate_owner(owner) == owner


@pytest.mark.parametrize(
    "owner",
    [
        "",
        "-octo",
        "octo-",
        "octo org",
        "a/b",
        "..",
        ".",
        "octo.org",
        "x" * 101,
        "octo\n",
        "ÖCTO",
        "octo%2F..",
        None,
        1,
        True,
        b"octo",
    ],
)
def test_bad_owners_are_rejected(owner: object) -> None:
    """A bad owner raises InvalidArgumentError (a ValueError) whose message shows its repr."""
    with pytest.raises(InvalidArgumentError) as info:
        _sansio.validate_owner(owner)
    _assert_names(info.value, owner)
    assert info.value.name == "owner"


@pytest.mark.parametrize(
    "repo", ["hello-world", "repo.js", ".github", "a_b", "A", "x" * 100, "..."]
)
def test_good_repos_pass(repo: str) -> None:
    """Repository names of letters, digits, '.', '-' and '_' pass unchanged."""
    assert _sansio.validate_repo(repo) == repo


@pytest.mark.parametrize(
    "repo",
    ["", ".", "..", "a/b", "../x", "my repo", "x" * 101, "repo?x", "r%2F", "r#1", None, 5, True],
)
def test_bad_repos_are_rejected(repo: object) -> None:
    """A bad repo raises InvalidArgumentError whose message shows its repr."""
    with pytest.raises(InvalidArgumentError) as info:
        _sansio.validate_repo(repo)
    _assert_names(info.value, repo)
    assert info.value.name == "repo"


@pytest.mark.parametrize("value", [1, 399444496, 2**63 - 1])
def test_good_ids_pass(value: int) -> None:
    """Positive 64-bit integers are valid ids."""
    assert _sansio.validate_id("job_id", value) == value


@pytest.mark.parametrize("value", [0, -1, 2**63, True, False, 1.0, "1", None, [1]])
def test_bad_ids_are_rejected(value: object) -> None:
    """Zero, negatives, 2**63 and up, bools, floats and strings are not ids."""
    with pytest.raises(InvalidArgumentError) as info:
        _sansio.validate_id("run_id", value)
    _assert_names(info.value, value)
    assert info.value.name == "run_id"
    assert "run_id" in str(info.value)


@pytest.mark.parametrize("value", [1, 30, 100])
def test_good_per_page_passes(value: int) -> None:
    """per_page from 1 to 100 is valid."""
    assert _sansio.validate_per_page(value) == value


@pytest.mark.parametrize("value", [0, -5, 101, 2**63, True, 50.0, "50", None])
def test_bad_per_page_is_rejected(value: object) -> None:
    """per_page outside 1-100, or not an int, raises."""
    with pytest.raises(InvalidArgumentError) as info:
        _sansio.validate_per_page(value)
    _assert_names(info.value, value)


@pytest.mark.parametrize("value", ["latest", "all"])
def test_good_filters_pass(value: str) -> None:
    """`latest` and `all` are the two filters."""
    assert _sansio.validate_filter(value) == value


@pytest.mark.parametrize("value", ["LATEST", "", "completed", " all", None, 1, True])
def test_bad_filters_are_rejected(value: object) -> None:
    """Any other filter raises, naming it."""
    with pytest.raises(InvalidArgumentError) as info:
        _sansio.validate_filter(value)
    _assert_names(info.value, value)


# --------------------------------------------------------------------------- base URL


@pytest.mark.parametrize(
    "base", ["https://api.github.com", "https://api.github.com/", "HTTPS://API.GitHub.com//"]
)
def test_github_com_base(base: str) -> None:
    """api.github.com parses to an empty prefix, whatever its case or trailing slashes."""
    api = parse_base_url(base)

    assert (api.scheme, api.host, api.port, api.prefix) == ("https", "api.github.com", 443, "")
    assert api.url == "https://api.github.com"


@pytest.mark.parametrize(
    "base",
    [
        "https://ghe.example.com/api/v3",
        "https://ghe.example.com/api/v3/",
        "https://ghe.example.com/api/v3///",
        "https://ghe.example.com//api//v3",
        "  https://ghe.example.com/api/v3  ",
    ],
)
def test_ghes_base(base: str) -> None:
    """A GHES root keeps its /api/v3 prefix; trailing and doubled slashes are normalised."""
    api = parse_base_url(base)

    assert api.prefix == "/api/v3"
    assert api.url == "https://ghe.example.com/api/v3"


def test_explicit_ports() -> None:
    """A default port is not shown; another port is kept in the origin."""
    assert parse_base_url("https://ghe.example.com:443/api/v3").url == (
        "https://ghe.example.com/api/v3"
    )
    api = parse_base_url("https://ghe.example.com:8443/api/v3")
    assert api.port == 8443
    assert api.url == "https://ghe.example.com:8443/api/v3"
    assert parse_base_url("http://127.0.0.1:8080").url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "base",
    [
        "ftp://ghe.example.com/api/v3",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "api.github.com",
        "//api.github.com",
        "",
        "https://",
        "https://ghe.example.com/api/v3?token=x",
        "https://ghe.example.com/api/v3#top",
        "https://ghe.example.com:99999/api/v3",
        "https://ghe.example.com:port/api/v3",
        None,
        42,
    ],
)
def test_bad_base_urls_are_rejected(base: object) -> None:
    """Non-HTTP schemes, missing hosts, queries, fragments and bad ports are refused."""
    with pytest.raises(InvalidArgumentError) as info:
        parse_base_url(base)
    assert info.value.name == "base_url"


@pytest.mark.parametrize(
    ("base", "secret"),
    [
        ("https://user:hunter2@ghe.example.com/api/v3", "hunter2"),
        ("https://ghp_S3CRETt0ken@api.github.com", "ghp_S3CRETt0ken"),
        ("https://user:p@ssw0rd@ghe.example.com/api/v3", "ssw0rd"),
        ("https://user:pa/ssw0rd@ghe.example.com/api/v3", "ssw0rd"),
    ],
)
def test_credentials_in_base_url_are_refused_without_echoing_them(base: str, secret: str) -> None:
    """Userinfo in the base URL is refused; the error never shows the password or token."""
    with pytest.raises(InvalidArgumentError) as info:
        parse_base_url(base)

    text = f"{info.value} {info.value!r} {info.value.args!r} {info.value.value!r}"
    assert secret not in text
    assert "ghe.example.com" in text or "api.github.com" in text


def test_query_in_base_url_is_refused_without_echoing_it() -> None:
    """A query may carry a token (``?access_token=``): it is refused and not shown."""
    with pytest.raises(InvalidArgumentError) as info:
        parse_base_url("https://ghe.example.com/api/v3?access_token=SECRET_QUERY_TOKEN")

    assert "SECRET_QUERY_TOKEN" not in f"{info.value} {info.value!r} {info.value.value!r}"
    assert "ghe.example.com/api/v3" in str(info.value)


# --------------------------------------------------------------------------- building URLs


def test_build_on_github_com(github: ApiBase) -> None:
    """The get-a-job URL on api.github.com."""
    url = github.build("repos", "octo-org", "octo-repo", "actions", "jobs", 399444496)

    assert url == API_URL


def test_build_on_ghes(ghes: ApiBase) -> None:
    """The same URL under a GHES /api/v3 prefix."""
    url = ghes.build("repos", "octo-org", "octo-repo", "actions", "jobs", 399444496)

    assert url == "https://ghe.example.com/api/v3/repos/octo-org/octo-repo/actions/jobs/399444496"


@pytest.mark.parametrize(
    ("segment", "escaped"),
    [("a/b", "a%2Fb"), ("50%", "50%25"), ("x?y", "x%3Fy"), ("x#y", "x%23y"), ("a b", "a%20b")],
)
def test_build_escapes_segments(ghes: ApiBase, segment: str, escaped: str) -> None:
    """'/', '%', '?', '#' and spaces inside a segment are escaped: no path or query injection."""
    url = ghes.build("repos", segment, "r")
    parts = urlsplit(url)

    assert parts.path == f"/api/v3/repos/{escaped}/r"
    assert parts.query == ""
    assert parts.fragment == ""


@pytest.mark.parametrize(
    "base", ["https://api.github.com/", "https://ghe.example.com//api/v3//", "http://h:1/"]
)
def test_build_never_yields_double_slashes(base: str) -> None:
    """No '//' appears in a built path, whatever the base's slashes."""
    url = parse_base_url(base).build("repos", "o", "r", "actions", "runs", 1, "jobs")

    assert "//" not in urlsplit(url).path
    assert url.endswith("/repos/o/r/actions/runs/1/jobs")


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_build_refuses_empty_and_dot_segments(github: ApiBase, segment: str) -> None:
    """An empty or dot segment would yield '//' or be normalised away, so build refuses it."""
    with pytest.raises(ValueError, match="segment"):
        github.build("repos", segment, "r")


def test_build_query(github: ApiBase) -> None:
    """A query is appended, its values encoded."""
    url = github.build("x", query={"filter": "all", "per_page": 100, "q": "a&b=c"})

    assert urlsplit(url).path == "/x"
    assert parse_qs(urlsplit(url).query) == {"filter": ["all"], "per_page": ["100"], "q": ["a&b=c"]}


# --------------------------------------------------------------------------- owns


@pytest.mark.parametrize(
    ("url", "owned"),
    [
        ("https://api.github.com/repos/o/r/actions/runs/1/jobs?page=2", True),
        ("https://api.github.com:443/repos/o/r", True),
        ("HTTPS://API.GITHUB.COM/repos/o/r", True),
        ("https://api.github.com", True),
        ("http://api.github.com/repos/o/r", False),
        ("https://api.github.com:8443/repos/o/r", False),
        ("https://evil.example.com/repos/o/r", False),
        ("https://api.github.com.evil.example.com/repos", False),
        ("https://api.github.com@evil.example.com/repos", False),
        ("https://user:pw@api.github.com/repos", False),
        ("https://api.github.com:notaport/repos", False),
        ("/repos/o/r", False),
        ("not a url", False),
        ("ftp://api.github.com/repos", False),
    ],
)
def test_owns_on_github_com(github: ApiBase, url: str, *, owned: bool) -> None:
    """Only https://api.github.com (port 443 implied) is owned."""
    assert github.owns(url) is owned


@pytest.mark.parametrize(
    ("url", "owned"),
    [
        ("https://ghe.example.com/api/v3/repos/o/r", True),
        ("https://ghe.example.com/api/v3", True),
        ("https://ghe.example.com:443/api/v3/x", True),
        ("https://ghe.example.com/api/v3x/repos", False),
        ("https://ghe.example.com/api/v2/repos", False),
        ("https://ghe.example.com/", False),
        ("https://ghe.example.com/admin", False),
        ("https://ghe.example.com/api/v3/../../admin", False),
        ("https://ghe.example.com/api/v3/%2e%2e/%2E%2E/admin", False),
        ("http://ghe.example.com/api/v3/repos", False),
        ("https://other.example.com/api/v3/repos", False),
    ],
)
def test_owns_on_ghes(ghes: ApiBase, url: str, *, owned: bool) -> None:
    """A GHES root owns only its own origin, under its /api/v3 prefix, without dot segments."""
    assert ghes.owns(url) is owned


# --------------------------------------------------------------------------- headers


def test_headers_without_token() -> None:
    """Without a token there is no Authorization header at all."""
    headers = request_headers(None, _sansio.DEFAULT_API_VERSION, _sansio.USER_AGENT)

    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert "authorization" not in {name.lower() for name in headers}


def test_headers_with_token() -> None:
    """With a token, Authorization is `Bearer <token>`."""
    headers = request_headers("ghp_abc", "2026-03-10", "ua/1")

    assert headers["Authorization"] == "Bearer ghp_abc"
    assert headers["X-GitHub-Api-Version"] == "2026-03-10"
    assert headers["User-Agent"] == "ua/1"


def test_empty_token_sends_no_authorization() -> None:
    """An empty token is treated like no token."""
    assert "Authorization" not in request_headers("", "2022-11-28", "ua")


def test_default_user_agent_names_library_and_version() -> None:
    """The default User-Agent names gh_jobs_async and its installed version."""
    assert gh_jobs_async.__version__ != "0+unknown"
    assert _sansio.USER_AGENT.startswith(f"gh_jobs_async/{gh_jobs_async.__version__}")


# --------------------------------------------------------------------------- rate limit


def test_rate_limit_from_github_sample() -> None:
    """The x-ratelimit-* sample from GitHub's docs parses into a RateLimit."""
    rate = parse_rate_limit(RATE_SAMPLE_CORE)

    assert rate == RateLimit(
        limit=5000,
        remaining=4999,
        used=1,
        reset_at=datetime(2023, 8, 9, 14, 29, 23, tzinfo=UTC),
        resource="core",
    )
    assert rate.reset_epoch == 1691591363


def test_rate_limit_header_names_are_case_insensitive() -> None:
    """Mixed-case header names (GITHUB_TOKEN sample) parse the same."""
    rate = parse_rate_limit(RATE_SAMPLE_ACTIONS_TOKEN)

    assert rate is not None
    assert (rate.limit, rate.remaining, rate.used) == (1000, 993, 7)
    assert rate.reset_at.tzinfo is not None


def test_rate_limit_spent_sample() -> None:
    """remaining 0 is a value, not a parse failure."""
    rate = parse_rate_limit(RATE_SAMPLE_SPENT)

    assert rate is not None
    assert rate.remaining == 0


def test_rate_limit_without_used_or_resource() -> None:
    """`used` and `resource` are optional."""
    rate = parse_rate_limit(
        {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "59", "x-ratelimit-reset": "1"}
    )

    assert rate is not None
    assert rate.used is None
    assert rate.resource is None


@pytest.mark.parametrize(
    "change",
    [
        {},  # GHES with rate limits off sends none of them
        {"x-ratelimit-limit": None},
        {"x-ratelimit-remaining": "abc"},
        {"x-ratelimit-remaining": "-1"},
        {"x-ratelimit-remaining": "1.5"},
        {"x-ratelimit-remaining": ""},
        {"x-ratelimit-remaining": "4999, 4998"},
        {"x-ratelimit-remaining": "٤٩"},  # Arabic-Indic digits: isdigit() but not ASCII
        {"x-ratelimit-limit": "9" * 30},
        {"x-ratelimit-reset": "9" * 18},
        {"x-ratelimit-reset": str(10**12)},
    ],
)
def test_garbled_or_huge_rate_limit_headers_give_none(change: dict[str, str | None]) -> None:
    """Missing, garbled or absurdly large x-ratelimit values give None, never an exception."""
    headers = dict(RATE_SAMPLE_CORE) if change else {}
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value

    assert parse_rate_limit(headers) is None


def test_rate_limit_resource_is_bounded() -> None:
    """A huge x-ratelimit-resource is cut short."""
    rate = parse_rate_limit(RATE_SAMPLE_CORE | {"x-ratelimit-resource": "r" * 10_000})

    assert rate is not None
    assert rate.resource is not None
    assert len(rate.resource) <= 64


# --------------------------------------------------------------------------- Link


def test_link_github_doc_example() -> None:
    """GitHub's pagination doc example yields first, prev, next and last."""
    base = "https://api.github.com/repositories/1300192/issues?page="

    assert parse_link(GITHUB_DOC_LINK) == {
        "prev": base + "2",
        "next": base + "4",
        "last": base + "515",
        "first": base + "1",
    }


def test_link_spec_example() -> None:
    """The OpenAPI description's `link` header example yields next and last."""
    assert parse_link(SPEC_LINK) == {
        "next": "https://api.github.com/resource?page=2",
        "last": "https://api.github.com/resource?page=5",
    }


def test_link_jobs_listing_keeps_per_page() -> None:
    """A jobs listing's Link keeps its query, per_page included."""
    header = (
        "<https://api.github.com/repositories/1/actions/runs/2/jobs?filter=all&per_page=100"
        '&page=2>; rel="next", <https://api.github.com/repositories/1/actions/runs/2/jobs'
        '?filter=all&per_page=100&page=3>; rel="last"'
    )

    links = parse_link(header)

    assert parse_qs(urlsplit(links["next"]).query) == {
        "filter": ["all"],
        "per_page": ["100"],
        "page": ["2"],
    }
    assert links["last"].endswith("page=3")


def test_link_multiple_rels_in_one_value() -> None:
    """`rel="next last"` names both relations."""
    assert parse_link('<https://x.test/?page=2>; rel="next last"') == {
        "next": "https://x.test/?page=2",
        "last": "https://x.test/?page=2",
    }


def test_link_tolerates_spacing_case_and_other_params() -> None:
    """Unquoted, upper-case rels and other parameters are understood."""
    header = (
        '<https://x.test/?page=2> ;  REL = Next ; title="page 2",<https://x.test/?page=9>;rel=last'
    )

    assert parse_link(header) == {
        "next": "https://x.test/?page=2",
        "last": "https://x.test/?page=9",
    }


def test_link_first_relation_wins() -> None:
    """A repeated relation keeps its first URL."""
    assert parse_link('<https://x.test/1>; rel="next", <https://x.test/2>; rel="next"') == {
        "next": "https://x.test/1"
    }


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "<>; rel=next",
        "<https://x.test/?page=2>",
        "https://x.test/?page=2; rel=next",
        ";;;,,,<<<>>>",
        "<https://x.test/?page=2>; title=next",
    ],
)
def test_link_garbage_gives_nothing(header: str | None) -> None:
    """Garbage yields an empty mapping, never an exception."""
    assert parse_link(header) == {}


def test_link_garbage_between_good_entries_is_skipped() -> None:
    """Bad entries are skipped; good ones around them are kept."""
    header = (
        '<https://x.test/?page=2>; rel="next", total garbage, <https://x.test/?page=3>; rel=last'
    )

    assert parse_link(header) == {
        "next": "https://x.test/?page=2",
        "last": "https://x.test/?page=3",
    }


def test_oversized_link_header_is_ignored() -> None:
    """A Link header over 64 KiB is not parsed at all."""
    header = SPEC_LINK + ", " + ", ".join(f'<https://x.test/{n}>; rel="r{n}"' for n in range(5000))
    assert len(header) > 64 * 1024

    assert parse_link(header) == {}


@pytest.mark.parametrize("header", ["<" * 60_000, "<a>" + "; " * 30_000, "<a>;" + " " * 60_000])
def test_adversarial_link_header_parses_quickly(header: str) -> None:
    """Pathological headers just under the size cap do not make the parser backtrack for long."""
    started = time.perf_counter()
    parse_link(header)

    assert time.perf_counter() - started < 1.0


# --------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), (" 7 ", 7.0), ("0", 0.0)])
def test_retry_after_seconds(value: str, seconds: float) -> None:
    """Delta-seconds are read as they are."""
    assert parse_retry_after(value, NOW) == seconds


def test_retry_after_http_date() -> None:
    """An HTTP date gives the seconds from now until then."""
    when = format_datetime(datetime.fromtimestamp(NOW + 90, tz=UTC), usegmt=True)

    assert parse_retry_after(when, NOW) == pytest.approx(90.0)


def test_retry_after_date_in_the_past_is_zero() -> None:
    """A date already past means: no wait."""
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "9" * 20, "Fri, 99 Foo 2015"])
def test_retry_after_garbage_is_none(value: str | None) -> None:
    """Garbage gives None, never an exception."""
    assert parse_retry_after(value, NOW) is None


# --------------------------------------------------------------------------- classify


@pytest.mark.parametrize("status", [200, 201, 204, 301, 302, 304])
def test_success_statuses(status: int) -> None:
    """2xx and 3xx are values for the caller (3xx: it reads Location)."""
    assert isinstance(_classify(status), Success)


def test_401_is_unauthorized() -> None:
    """401 is a final UnauthorizedError carrying the answer's details."""
    decision = _classify(
        401,
        {"X-GitHub-Request-Id": "CF3A:1B2C:3D4E5F:6A7B8C:65F0A1B2"},
        _body("Bad credentials", "https://docs.github.com/rest"),
    )

    assert isinstance(decision, Fail)
    error = decision.error
    assert type(error) is UnauthorizedError
    assert (error.status, error.method, error.url) == (401, "GET", API_URL)
    assert error.message == "Bad credentials"
    assert error.documentation_url == "https://docs.github.com/rest"
    assert error.request_id == "CF3A:1B2C:3D4E5F:6A7B8C:65F0A1B2"
    assert "CF3A:1B2C:3D4E5F:6A7B8C:65F0A1B2" in str(error)
    assert "Bad credentials" in str(error)


@pytest.mark.parametrize("remaining", ["4999", None])
def test_403_permission_is_forbidden(remaining: str | None) -> None:
    """A 403 that is not a rate limit is a final ForbiddenError, with or without rate headers."""
    headers = RATE_SAMPLE_CORE | {"x-ratelimit-remaining": remaining} if remaining else {}
    decision = _classify(403, headers, _body("Resource not accessible by integration"))

    assert isinstance(decision, Fail)
    assert type(decision.error) is ForbiddenError
    assert not isinstance(decision.error, RateLimitError)
    assert decision.error.message == "Resource not accessible by integration"


@pytest.mark.parametrize("status", [403, 429])
def test_remaining_zero_is_a_primary_limit(status: int) -> None:
    """403 or 429 with x-ratelimit-remaining 0 is the primary limit, until x-ratelimit-reset."""
    decision = _classify(
        status, RATE_SAMPLE_SPENT, _body("API rate limit exceeded for user ID 1.", "https://d")
    )

    assert isinstance(decision, PrimaryLimit)
    assert decision.reset_epoch == 1700000900
    assert isinstance(decision.error, PrimaryRateLimitError)
    assert decision.error.reset_at == datetime.fromtimestamp(1700000900, tz=UTC)
    assert decision.error.status == status
    assert decision.error.documentation_url == "https://d"


def test_primary_limit_without_reset_still_waits() -> None:
    """remaining 0 without a usable reset still yields a reset in the future."""
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "garbage"}

    decision = _classify(403, headers, _body("API rate limit exceeded"))

    assert isinstance(decision, PrimaryLimit)
    assert decision.reset_epoch > NOW


@pytest.mark.parametrize(("status", "retry_after"), [(403, "30"), (429, "45")])
def test_secondary_limit_uses_retry_after(status: int, retry_after: str) -> None:
    """A 'secondary rate limit' message with retry-after waits exactly that long."""
    headers = RATE_SAMPLE_CORE | {"retry-after": retry_after}

    decision = _classify(status, headers, _body(SECONDARY_MESSAGE, SECONDARY_DOC))

    assert isinstance(decision, SecondaryLimit)
    assert decision.wait == float(retry_after)
    assert isinstance(decision.error, SecondaryRateLimitError)
    assert decision.error.retry_after == float(retry_after)
    assert decision.error.status == status
    assert decision.error.documentation_url == SECONDARY_DOC


def test_secondary_limit_beats_remaining_zero() -> None:
    """The secondary message wins over remaining 0; without retry-after it waits until reset."""
    headers = RATE_SAMPLE_SPENT | {"x-ratelimit-reset": str(int(NOW) + 100)}

    decision = _classify(403, headers, _body(SECONDARY_MESSAGE))

    assert isinstance(decision, SecondaryLimit)
    assert 100 <= decision.wait <= 102


def test_secondary_limit_without_hints_waits_at_least_a_minute() -> None:
    """No retry-after and remaining > 0: at least 60 s."""
    decision = _classify(403, RATE_SAMPLE_CORE, _body(SECONDARY_MESSAGE))

    assert isinstance(decision, SecondaryLimit)
    assert decision.wait >= 60


def test_secondary_wait_grows_exponentially_with_strikes() -> None:
    """Repeated secondary limits double the wait each time, up to a bound."""
    waits = []
    for strikes in range(5):
        decision = _classify(
            403, RATE_SAMPLE_CORE, _body(SECONDARY_MESSAGE), secondary_strikes=strikes
        )
        assert isinstance(decision, SecondaryLimit)
        waits.append(decision.wait)

    assert waits[0] >= 60
    assert all(later == 2 * earlier for earlier, later in itertools.pairwise(waits[:4]))
    assert waits == sorted(waits)
    capped = _classify(403, RATE_SAMPLE_CORE, _body(SECONDARY_MESSAGE), secondary_strikes=60)
    assert isinstance(capped, SecondaryLimit)
    assert 60 <= capped.wait <= 3600


def test_secondary_retry_after_grows_with_strikes() -> None:
    """retry-after is the base of the wait; repeats multiply it."""
    headers = {"retry-after": "30"}
    first = _classify(403, headers, _body(SECONDARY_MESSAGE), secondary_strikes=0)
    second = _classify(403, headers, _body(SECONDARY_MESSAGE), secondary_strikes=1)

    assert isinstance(first, SecondaryLimit)
    assert isinstance(second, SecondaryLimit)
    assert first.wait == 30
    assert second.wait > first.wait


def test_429_without_message_is_secondary() -> None:
    """A bare 429 with budget left is treated as a secondary limit, not a final error."""
    decision = _classify(429, RATE_SAMPLE_CORE, b"")

    assert isinstance(decision, SecondaryLimit)
    assert decision.wait >= 60


@pytest.mark.parametrize(
    ("status", "cls"),
    [(404, NotFoundError), (410, GoneError), (422, ValidationFailedError), (400, ApiError)],
)
def test_final_client_errors(status: int, cls: type[ApiError]) -> None:
    """404, 410 and 422 map to their classes; another 4xx is a plain ApiError."""
    decision = _classify(status, {}, _body("Not Found", "https://docs.github.com/rest"))

    assert isinstance(decision, Fail)
    assert type(decision.error) is cls
    assert decision.error.status == status


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_retryable_server_errors(status: int) -> None:
    """500, 502, 503 and 504 are retried; the error to raise at the end is a ServerError."""
    decision = _classify(status, {}, _body("Server Error"))

    assert isinstance(decision, Retry)
    assert isinstance(decision.error, ServerError)
    assert decision.error.status == status
    assert decision.min_delay == 0.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_retry_honours_retry_after(status: int) -> None:
    """retry-after on a 5xx becomes the retry's minimum delay (seconds or an HTTP date)."""
    seconds = _classify(status, {"Retry-After": "12"}, b"")
    date = _classify(
        status,
        {"retry-after": format_datetime(datetime.fromtimestamp(NOW + 20, tz=UTC), usegmt=True)},
        b"",
    )

    assert isinstance(seconds, Retry)
    assert seconds.min_delay == 12.0
    assert isinstance(date, Retry)
    assert date.min_delay == pytest.approx(20.0)


@pytest.mark.parametrize("status", [501, 505, 599])
def test_other_server_errors_are_final(status: int) -> None:
    """501 and other 5xx are not retried."""
    decision = _classify(status, {}, _body("Not Implemented"))

    assert isinstance(decision, Fail)
    assert type(decision.error) is ServerError


def test_non_json_error_body() -> None:
    """An HTML error page still gives a readable, bounded message."""
    html = b"<html><body><h1>502 Bad Gateway</h1>" + b"x" * 10_000 + b"</body></html>"

    decision = _classify(502, {}, html)

    assert isinstance(decision, Retry)
    assert "502 Bad Gateway" in decision.error.message
    assert len(decision.error.message) <= 200
    assert decision.error.documentation_url is None


@pytest.mark.parametrize("body", [b"", b"   ", b"\xff\xfe", b"[1, 2]", b'{"message": null}'])
def test_error_body_without_message(body: bytes) -> None:
    """Empty, binary or message-less bodies never raise; the message is never empty."""
    decision = _classify(404, {}, body)

    assert isinstance(decision, Fail)
    assert decision.error.message


# --------------------------------------------------------------------------- redirects and links


def test_redirect_relative_location_is_resolved() -> None:
    """A relative Location is resolved against the request URL."""
    assert resolve_redirect("/x/y?z=1", LOGS_URL) == "https://api.github.com/x/y?z=1"
    assert resolve_redirect("other", LOGS_URL) == API_URL + "/other"


def test_redirect_to_blob_host_is_returned_unchanged() -> None:
    """An absolute https Location (the signed blob URL) is returned as it is."""
    location = (
        "https://productionresultssa1.blob.core.windows.net/actions-results/x/logs/job/"
        "job-logs.txt?rsct=text%2Fplain&se=2025&sig=SIGNATURE&sp=r"
    )

    assert resolve_redirect(location, LOGS_URL) == location


@pytest.mark.parametrize("location", [None, "", "   "])
def test_redirect_without_location_is_refused(location: str | None) -> None:
    """A redirect without a usable Location raises UnsafeURLError (a ValueError)."""
    with pytest.raises(UnsafeURLError) as info:
        resolve_redirect(location, LOGS_URL)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "location",
    [
        "ftp://files.example.com/log.txt",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/plain,hello",
        "http://[::1",
    ],
)
def test_redirect_to_non_http_is_refused(location: str) -> None:
    """Non-HTTP and unparsable targets are refused with UnsafeURLError, not another exception."""
    with pytest.raises(UnsafeURLError):
        resolve_redirect(location, LOGS_URL)


def test_redirect_downgrade_is_refused_without_echoing_the_signature() -> None:
    """https to http is refused; the message shows the origin only, not the signed query."""
    with pytest.raises(UnsafeURLError) as info:
        resolve_redirect("http://blob.example.com/log?sig=SECRET_SIGNATURE", LOGS_URL)

    assert "SECRET_SIGNATURE" not in f"{info.value} {info.value!r}"
    assert info.value.origin == "http://blob.example.com"


def test_redirect_from_plain_http_is_allowed() -> None:
    """Over plain http (the loopback fake) an http Location is fine, and an upgrade too."""
    assert (
        resolve_redirect("http://127.0.0.2:9/x", "http://127.0.0.1:8/y") == "http://127.0.0.2:9/x"
    )
    assert resolve_redirect("https://h.test/x", "http://127.0.0.1:8/y") == "https://h.test/x"


def test_check_link_accepts_the_api_origin(ghes: ApiBase) -> None:
    """A Link on the configured API is returned as it is."""
    url = "https://ghe.example.com/api/v3/repos/o/r/actions/runs/1/jobs?per_page=100&page=2"

    assert check_link(url, ghes) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/repos/o/r/jobs?page=2&token=SECRET_IN_QUERY",
        "http://api.github.com/repos/o/r/jobs?page=2&token=SECRET_IN_QUERY",
        "https://user:SECRET_IN_QUERY@evil.example.com/x",
        "https://api.github.com/../x?SECRET_IN_QUERY",
    ],
)
def test_check_link_refuses_other_origins_without_secrets(github: ApiBase, url: str) -> None:
    """A Link off the API origin is refused; the message carries no path, query or userinfo."""
    with pytest.raises(UnsafeURLError) as info:
        check_link(url, github)

    assert "SECRET_IN_QUERY" not in f"{info.value} {info.value!r} {info.value.origin}"


# --------------------------------------------------------------------------- backoff


def test_backoff_upper_bound_doubles_to_the_cap() -> None:
    """With rand() = 1 the delay is base * 2**attempt, capped."""
    delays = [backoff_delay(n, base=0.5, cap=30.0, rand=lambda: 1.0) for n in range(8)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_backoff_is_full_jitter() -> None:
    """The delay is rand() times the bound: 0 with rand() = 0, half with 0.5."""
    assert backoff_delay(3, rand=lambda: 0.0) == 0.0
    assert backoff_delay(3, base=0.5, rand=lambda: 0.5) == 2.0


def test_backoff_minimum_wins() -> None:
    """`minimum` (a retry-after) is a floor under the jitter."""
    assert backoff_delay(0, minimum=12.0, rand=lambda: 0.0) == 12.0
    assert backoff_delay(10, minimum=1.0, cap=30.0, rand=lambda: 1.0) == 30.0


def test_backoff_stays_within_bounds() -> None:
    """Over many random draws every delay lies in [0, min(cap, base * 2**attempt)]."""
    rng = random.Random(1234)
    for attempt in (0, 1, 2, 5, 10, 100, 10**6):
        bound = min(30.0, 0.5 * 2 ** min(attempt, 60))
        delays = [backoff_delay(attempt, rand=rng.random) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in delays)
        assert max(delays) > bound / 2  # the jitter spreads, it is not a constant
