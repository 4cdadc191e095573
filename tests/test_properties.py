"""Property-based tests: any input gets a value or one of our exceptions, never another.

The pure protocol (:mod:`gh_jobs_async._sansio`, the decoders of
:mod:`gh_jobs_async.models`) is fed arbitrary arguments, headers and bodies by
hypothesis. Then a tiny aiohttp server of this module answers the client with
malformed JSON, wrong content types, empty bodies, garbled headers and broken
redirects: every public call ends, quickly, in a value or a ``GhJobsError``,
and a failed download leaves nothing on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import string
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import pytest
import yarl
from _support import LoopbackServer, sample_job
from aiohttp import web
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from gh_jobs_async import (
    Client,
    ClientClosedError,
    DecodeError,
    GhJobsError,
    IncompleteLogError,
    InvalidArgumentError,
    Job,
    JobsPage,
    LogDownloadError,
    LogLocation,
    LogResult,
    PrimaryRateLimitError,
    RateLimit,
    SecondaryRateLimitError,
    TransportError,
    UnsafeURLError,
    _sansio,
)
from gh_jobs_async._sansio import (
    Fail,
    PrimaryLimit,
    Retry,
    SecondaryLimit,
    Success,
    classify,
    parse_base_url,
    parse_link,
    parse_rate_limit,
    parse_retry_after,
    resolve_redirect,
)
from gh_jobs_async.models import decode_job, decode_jobs_page

PURE = settings(max_examples=150, deadline=None)
FEW = settings(max_examples=60, deadline=None)
MAX_ID = 2**63 - 1
OWNER, REPO = "octo-org", "hello-world"

# --------------------------------------------------------------------------- strategies

huge_ints = st.one_of(
    st.integers(min_value=MAX_ID - 3, max_value=2**64 + 3),
    st.integers(min_value=-(2**70), max_value=0),
    st.just(10**5000),  # too long for repr() with Python's default int-to-str limit
)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.decimals(allow_nan=True),
    st.complex_numbers(),
)
name_like = st.one_of(
    st.text(max_size=120),
    st.from_regex(r"[A-Za-z0-9._-]{0,110}", fullmatch=True),
    st.sampled_from(["octo-org", "a", ".", "..", "-a", "a-", "a_", "a/b", "x" * 100, "x" * 101]),
    st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=4), st.integers(1, 2000)),
)
header_names = st.sampled_from(
    [
        "x-ratelimit-limit",
        "X-RateLimit-Remaining",
        "x-ratelimit-reset",
        "X-RATELIMIT-USED",
        "x-ratelimit-resource",
        "retry-after",
        "Retry-After",
        "x-github-request-id",
        "link",
        "location",
        "content-type",
    ]
)
digits = st.from_regex(r"-?[0-9]{1,40}", fullmatch=True)
header_values = st.one_of(
    st.text(max_size=80),
    digits,
    st.sampled_from(["", "0", "-1", "1e9", " 60 ", "١٢٣", "²", str(2**37 + 1), "9" * 19]),
    st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=4), st.integers(1, 3000)),
)
headers = st.dictionaries(st.one_of(header_names, st.text(max_size=20)), header_values, max_size=8)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (what json.loads can return)."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def valid_job(job_id: int = 1) -> dict[str, Any]:
    """A job as GitHub sends it (every required field, two steps, a null html_url)."""
    return sample_job(
        id=job_id,
        url=f"https://api.github.com/repos/octo-org/octo-repo/actions/jobs/{job_id}",
        html_url=None,
        steps=[
            {"name": "a", "status": "completed", "conclusion": "success", "number": 1},
            {
                "name": "b",
                "status": "in_progress",
                "conclusion": None,
                "number": 2,
                "started_at": "2020-01-20T17:42:41Z",
                "completed_at": None,
            },
        ],
    )


@st.composite
def mutated_jobs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid job with a few fields deleted or replaced by arbitrary JSON (steps too)."""
    job = valid_job()
    steps = job["steps"]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        where = job if draw(st.booleans()) else draw(st.sampled_from(steps))
        key = draw(st.one_of(st.sampled_from(sorted(where)), st.text(max_size=8)))
        if draw(st.booleans()):
            where.pop(key, None)
        else:
            where[key] = draw(json_values(6))
    return job


def nested(depth: int) -> bytes:
    """JSON nested deeper than the interpreter's recursion limit allows to decode."""
    return b"[" * depth + b"]" * depth


# --------------------------------------------------------------------------- helpers

_T = TypeVar("_T")


def attempt(
    call: Callable[[], _T], *errors: type[BaseException]
) -> tuple[_T | None, BaseException | None]:
    """``(value, None)``, or ``(None, error)`` when ``call`` raises one of ``errors``.

    Any other exception propagates and fails the test.
    """
    try:
        return call(), None
    except errors as exc:
        return None, exc


def assert_names(exc: InvalidArgumentError, name: str, value: object) -> None:
    """The error is a ValueError that names the parameter and shows the value."""
    assert isinstance(exc, ValueError)
    assert exc.name == name
    assert exc.value is value
    text = str(exc)
    assert text.startswith(f"invalid {name} ")
    try:
        shown = repr(value)
    except ValueError:  # an int too long to print: its type is shown instead
        assert type(value).__name__ in text
        return
    assert shown[:50] in text
    assert len(text) < 600  # a huge value is cut short


def expect_valid(name: str, check: Callable[[], object], value: object, valid: bool) -> None:
    """``check()`` returns ``value`` when ``valid``, else raises InvalidArgumentError naming it."""
    if valid:
        assert check() == value
        return
    with pytest.raises(InvalidArgumentError) as info:
        check()
    assert_names(info.value, name, value)


def is_id(value: object) -> bool:
    """GitHub ids: int64, positive (bools are not numbers here)."""
    return type(value) is int and 0 < value <= MAX_ID


# --------------------------------------------------------------------------- arguments


@PURE
@given(value=st.one_of(anything, huge_ints))
@example(value=10**5000)
@example(value=True)
@example(value=2**63)
@example(value=1.0)
def test_ids_are_positive_int64_and_nothing_else(value: object) -> None:
    """job_id, run_id and attempt: a positive int64 passes, anything else is named and refused."""
    expect_valid("run_id", lambda: _sansio.validate_id("run_id", value), value, is_id(value))


@PURE
@given(value=anything)
@example(value=100)
@example(value=101)
@example(value=True)
def test_per_page_is_an_int_from_1_to_100(value: object) -> None:
    """per_page: exactly the integers 1..100 pass (bools and floats do not)."""
    valid = type(value) is int and 1 <= value <= 100
    expect_valid("per_page", lambda: _sansio.validate_per_page(value), value, valid)


@PURE
@given(value=st.one_of(anything, st.sampled_from(["latest", "all", "LATEST", " all", ""])))
def test_filter_is_latest_or_all(value: object) -> None:
    """filter: only 'latest' and 'all'."""
    valid = isinstance(value, str) and value in {"latest", "all"}
    expect_valid("filter", lambda: _sansio.validate_filter(value), value, valid)


@PURE
@given(value=st.one_of(name_like, anything))
def test_owner_and_repo_are_refused_or_safe_path_segments(value: object) -> None:
    """An accepted owner or repo is one URL-safe segment; a refused one is named in the error."""
    for name, validate, alphabet in (
        ("owner", _sansio.validate_owner, string.ascii_letters + string.digits + "-_"),
        ("repo", _sansio.validate_repo, string.ascii_letters + string.digits + "-_."),
    ):
        try:
            accepted = validate(value)
        except InvalidArgumentError as exc:
            assert_names(exc, name, value)
            continue
        assert accepted is value
        assert isinstance(accepted, str)
        assert 1 <= len(accepted) <= 100
        assert set(accepted) <= set(alphabet)
        assert accepted not in {".", ".."}
        if name == "owner":
            assert accepted[0] not in "-_"


# --------------------------------------------------------------------------- base URLs


@st.composite
def base_urls(draw: st.DrawFn) -> str:
    """URL-like strings: odd schemes, hosts, ports, userinfo, paths, queries."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "ftp", "file", "javascript", ""]))
    host = draw(
        st.one_of(
            st.sampled_from(
                ["api.github.com", "ghe.example.com", "127.0.0.1", "[::1]", "[::1", "", "a b"]
            ),
            st.text(max_size=20),
        )
    )
    port = draw(
        st.one_of(st.none(), st.integers(min_value=-1, max_value=70000), st.text(max_size=4))
    )
    path = draw(
        st.one_of(
            st.sampled_from(["", "/", "/api/v3", "/api/v3/", "//api//v3", "/a/../b", "/%2e%2e"]),
            st.text(max_size=30),
        )
    )
    user = draw(st.sampled_from(["", "user:SECRET_PW@", "ghp_SECRETTOKEN@"]))
    tail = draw(st.sampled_from(["", "?access_token=SECRET_Q", "#frag"]))
    netloc = user + host + ("" if port is None else f":{port}")
    return f"{scheme}://{netloc}{path}{tail}"


@PURE
@given(base=st.one_of(base_urls(), st.text(max_size=60), anything))
@example(base="http://a b/x")
@example(base="http://h/a/../b")
@example(base="https://ghe.example.com:0/api/v3")
def test_base_url_is_refused_or_usable(base: object) -> None:
    """A base URL is refused (named, no secret shown) or parses to a root that re-parses equal."""
    api, error = attempt(lambda: parse_base_url(base), InvalidArgumentError)
    if error is not None:
        assert isinstance(error, InvalidArgumentError)
        assert error.name == "base_url"
        assert str(error).startswith("invalid base_url ")
        shown = error.value if isinstance(error.value, str) else ""
        for secret in ("SECRET_PW", "SECRETTOKEN", "SECRET_Q"):
            assert secret not in f"{error} {error!r} {shown}"
        return
    assert api is not None
    assert isinstance(base, str)
    assert api.scheme in {"http", "https"}
    assert api.host
    assert 1 <= api.port <= 65535
    assert api.prefix == "" or (api.prefix.startswith("/") and not api.prefix.endswith("/"))
    assert "//" not in api.prefix
    assert not {".", ".."} & set(unquote(api.prefix).split("/"))
    assert parse_base_url(api.url) == api
    url = yarl.URL(api.url + "/repos")  # what aiohttp will make of it
    assert url.is_absolute()
    assert url.scheme == api.scheme
    assert url.path.startswith(unquote(api.prefix) + "/")


segments = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=0, max_value=2**64),
    st.sampled_from(["", ".", "..", "%2e%2e", "a/b", "..%2f", "?", "#", "%", "/"]),
)


@PURE
@given(
    base=st.sampled_from(
        [
            "https://api.github.com",
            "https://ghe.example.com/api/v3",
            "http://127.0.0.1:8080//api//v3//",
            "https://[::1]:8443/pre~fix.d-_/x",
        ]
    ),
    parts=st.lists(segments, min_size=1, max_size=6),
    query=st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers())),
)
def test_build_never_leaves_the_prefix(
    base: str, parts: list[str | int], query: dict[str, str | int]
) -> None:
    """Built URLs stay under the root's path prefix and never contain '//' in their path."""
    api = parse_base_url(base)
    texts = [str(p) for p in parts]
    if any(t in {"", ".", ".."} for t in texts):
        with pytest.raises(ValueError, match="segment"):
            api.build(*parts, query=query)
        return
    url = api.build(*parts, query=query)
    split = urlsplit(url)
    assert "//" not in split.path
    assert split.path.startswith(api.prefix + "/")
    assert split.fragment == ""
    assert api.owns(url)
    assert [unquote(s) for s in split.path[len(api.prefix) + 1 :].split("/")] == texts
    resolved = yarl.URL(url)  # aiohttp normalises dot segments: none may climb out
    assert resolved.path.startswith(unquote(api.prefix) + "/")
    assert "//" not in resolved.raw_path


# --------------------------------------------------------------------------- headers


@st.composite
def link_headers(draw: st.DrawFn) -> str:
    """Link-like values: entries of odd URLs and params, glued with odd separators."""
    entries = []
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        url = draw(st.one_of(st.text(max_size=30), st.just("https://api.github.com/x?page=2")))
        params = draw(
            st.one_of(
                st.sampled_from(['; rel="next"', "; rel=last", '; rel="a b"', ";rel=", ""]),
                st.text(max_size=20),
            )
        )
        entries.append(draw(st.sampled_from(["<", "", "<<"])) + url + ">" + params)
    return draw(st.sampled_from([", ", ",", "", " ; "])).join(entries)


@PURE
@given(value=st.one_of(st.none(), st.text(), link_headers()))
@example(value="<" * 70_000)
@example(value="<a>; rel=next" + "; x" * 20_000)
@example(value='<https://x/?page=1>; rel="next", ' * 1500)
def test_parse_link_never_raises_nor_invents_urls(value: str | None) -> None:
    """Every URL returned was in the header; rels are lower-case words; never an exception."""
    started = time.perf_counter()
    links = parse_link(value)
    assert time.perf_counter() - started < 2.0  # no catastrophic backtracking
    for rel, url in links.items():
        assert value is not None
        assert url
        assert url in value
        assert rel
        assert rel == rel.lower()
        assert not any(ch.isspace() for ch in rel)
        with contextlib.suppress(UnsafeURLError):
            _sansio.check_link(url, parse_base_url("https://api.github.com"))


@PURE
@given(values=headers)
@example(
    values={
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(2**37),
    }
)
@example(
    values={
        "x-ratelimit-limit": "9" * 18,
        "x-ratelimit-remaining": "9" * 18,
        "x-ratelimit-reset": "1",
    }
)
def test_parse_rate_limit_never_raises(values: dict[str, str]) -> None:
    """Garbled or huge x-ratelimit-* headers give None or a sane RateLimit."""
    rate = parse_rate_limit(values)
    if rate is None:
        return
    assert isinstance(rate, RateLimit)
    assert rate.limit >= 0
    assert rate.remaining >= 0
    assert rate.used is None or rate.used >= 0
    assert rate.reset_at.tzinfo is not None
    assert rate.resource is None or len(rate.resource) <= 64


http_dates = st.builds(
    lambda when, zone: when.strftime("%a, %d %b %Y %H:%M:%S ") + zone,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),  # noqa: DTZ001
    st.one_of(st.sampled_from(["GMT", "+0000", "-2359", "+9999", "UT", "XYZ"]), digits),
)


@PURE
@given(
    value=st.one_of(st.none(), st.text(), http_dates, digits),
    now=st.floats(min_value=0, max_value=2**34),
)
@example(value="Mon, 01 Jan 2020 00:00:00 +99999999999999999999", now=0.0)
@example(value="Fri, 31 Dec 9999 23:59:59 -2359", now=0.0)
@example(value="Mon, 01 Jan 0001 00:00:00 +2359", now=0.0)
def test_parse_retry_after_never_raises(value: str | None, now: float) -> None:
    """Any retry-after text gives None or a finite, non-negative number of seconds."""
    wait = parse_retry_after(value, now)
    assert wait is None or (math.isfinite(wait) and wait >= 0)


bodies = st.one_of(
    st.binary(max_size=200),
    json_values().map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda m, d: json.dumps({"message": m, "documentation_url": d}).encode(),
        st.one_of(st.text(max_size=40), st.just("You have exceeded a secondary rate limit")),
        json_values(3),
    ),
    st.sampled_from([b"", b"null", nested(100_000), b'{"message": ' + nested(50_000) + b"}"]),
)


@PURE
@given(
    status=st.integers(min_value=100, max_value=599),
    answer_headers=headers,
    body=bodies,
    now=st.floats(min_value=0, max_value=2**34),
    strikes=st.integers(min_value=0, max_value=100),
)
@example(status=500, answer_headers={}, body=nested(100_000), now=0.0, strikes=0)
@example(
    status=404, answer_headers={"x-github-request-id": "0" * 5000}, body=b"", now=0.0, strikes=0
)
@example(
    status=403,
    answer_headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(2**37)},
    body=b"",
    now=0.0,
    strikes=0,
)
def test_classify_always_decides(
    status: int, answer_headers: dict[str, str], body: bytes, now: float, strikes: int
) -> None:
    """Every status, header set and body gets one of the five decisions; waits are sane."""
    decision = classify(
        status,
        answer_headers,
        body,
        method="GET",
        url="https://api.github.com/x",
        now=now,
        secondary_strikes=strikes,
    )
    assert isinstance(decision, Success | Retry | PrimaryLimit | SecondaryLimit | Fail)
    if status < 400:
        assert isinstance(decision, Success)
        return
    assert not isinstance(decision, Success)
    assert decision.error.status == status
    assert isinstance(decision.error, GhJobsError)
    assert len(str(decision.error)) < 2000
    if isinstance(decision, Retry):
        assert math.isfinite(decision.min_delay)
        assert decision.min_delay >= 0
    if isinstance(decision, SecondaryLimit):
        assert math.isfinite(decision.wait)
        assert decision.wait >= 0
    if isinstance(decision, PrimaryLimit):
        assert math.isfinite(decision.reset_epoch)


# --------------------------------------------------------------------------- decoding


def decodes_or_decode_error(decode: Callable[[], object], kind: type) -> None:
    """``decode()`` returns a ``kind`` or raises DecodeError with a JSONPath and a short text."""
    value, error = attempt(decode, DecodeError)
    if error is None:
        assert isinstance(value, kind)
        return
    assert isinstance(error, DecodeError)
    assert error.path.startswith("$")
    assert str(error).startswith("$")
    assert len(str(error)) < 2000


@PURE
@given(body=st.one_of(bodies, json_values().map(json.dumps)))
@example(body=nested(100_000))
@example(body=b"\xff\xfe{")
@example(body=b'{"id": ' + b"1" * 5000 + b"}")
def test_decoders_on_arbitrary_bodies_raise_only_decode_error(body: bytes | str) -> None:
    """Bytes or text that are not a job (page) give DecodeError, nothing else."""
    decodes_or_decode_error(lambda: decode_job(body), Job)
    decodes_or_decode_error(lambda: decode_jobs_page(body), JobsPage)


@PURE
@given(value=json_values(20))
def test_decoders_on_arbitrary_json_values_raise_only_decode_error(value: Any) -> None:
    """Parsed JSON of any shape (also passed as a mapping) gives a model or DecodeError."""
    decodes_or_decode_error(lambda: decode_job(value), Job)
    decodes_or_decode_error(lambda: decode_jobs_page(value), JobsPage)
    decodes_or_decode_error(lambda: decode_job(json.dumps(value).encode()), Job)


@PURE
@given(job=mutated_jobs(), count=st.one_of(st.integers(), json_values(2)))
def test_decoders_on_damaged_jobs_raise_only_decode_error(job: dict[str, Any], count: Any) -> None:
    """A real job with fields removed or replaced: a Job (GitHub added a field) or DecodeError."""
    decodes_or_decode_error(lambda: decode_job(job), Job)
    page = {"total_count": count, "jobs": [valid_job(2), job]}
    decodes_or_decode_error(lambda: decode_jobs_page(json.dumps(page).encode()), JobsPage)


def test_valid_job_decodes() -> None:
    """The reference job of this module is valid, so the damaged ones test something."""
    assert decode_job(valid_job()).steps[1].conclusion is None


# --------------------------------------------------------------------------- redirects

REQUEST_URLS = [
    "https://api.github.com/repos/o/r/actions/jobs/1/logs",
    "https://ghe.example.com/api/v3/repos/o/r/actions/jobs/1/logs",
    "http://127.0.0.1:8080/repos/o/r/actions/jobs/1/logs",
    "https://blob.example/a/b?sig=SIGNATURE",
]


@st.composite
def locations(draw: st.DrawFn) -> str:
    """Location-like values: odd schemes, scheme-relative, relative, broken hosts."""
    scheme = draw(
        st.sampled_from(
            ["http:", "https:", "HTTP:", "ftp:", "file:", "javascript:", "data:", "ws:", ""]
        )
    )
    slashes = draw(st.sampled_from(["//", "/", "", "///"]))
    host = draw(
        st.one_of(
            st.sampled_from(["blob.example", "[::1]", "[::1", "a b", "", "h:99999", "u:p@h"]),
            st.text(max_size=12),
        )
    )
    path = draw(st.one_of(st.text(max_size=20), st.sampled_from(["/x", "?q=1", "#f", ""])))
    return scheme + slashes + host + path


@PURE
@given(
    location=st.one_of(st.none(), st.text(max_size=40), locations()),
    request_url=st.sampled_from(REQUEST_URLS),
)
@example(location="javascript:alert(1)", request_url=REQUEST_URLS[0])
@example(location="http://blob.example/x", request_url=REQUEST_URLS[0])
@example(location="//blob.example/x", request_url=REQUEST_URLS[0])
@example(location="   ", request_url=REQUEST_URLS[0])
@example(location="HTTPS://[::]0", request_url=REQUEST_URLS[0])  # urlsplit accepts, yarl not
@example(location="https://\x80/x", request_url=REQUEST_URLS[0])  # not a host name
def test_resolve_redirect_gives_absolute_http_urls_or_refuses(
    location: str | None, request_url: str
) -> None:
    """A redirect target is an absolute http(s) URL, never a downgrade, or UnsafeURLError."""
    target, error = attempt(lambda: resolve_redirect(location, request_url), UnsafeURLError)
    if error is not None:
        assert "SIGNATURE" not in f"{error} {error!r}"
        return
    assert target is not None
    parts = urlsplit(target)
    assert parts.scheme in {"http", "https"}
    assert parts.hostname
    if request_url.startswith("https:"):
        assert parts.scheme == "https"
    url = yarl.URL(target)  # what aiohttp will request
    assert url.is_absolute()
    assert url.scheme in {"http", "https"}
    assert url.host


# --------------------------------------------------------------------------- Client


@FEW
@given(
    owner=st.one_of(st.just(OWNER), name_like, anything),
    repo=st.one_of(st.just(REPO), name_like, anything),
    number=st.one_of(st.just(7), anything),
    per_page=st.one_of(st.just(100), anything),
    filter_=st.one_of(st.just("all"), anything),
)
def test_client_methods_validate_arguments_before_any_request(
    owner: Any, repo: Any, number: Any, per_page: Any, filter_: Any
) -> None:
    """On a closed client, every method raises InvalidArgumentError naming the bad argument,
    or ClientClosedError once all arguments are fine; nothing else, and no file appears."""

    async def calls(dest: Path) -> None:
        client = Client("t0ken", base_url="http://127.0.0.1:9")
        await client.close()
        attempts: list[Callable[[], object]] = [
            lambda: client.get_job(owner, repo, number),
            lambda: client.get_log_url(owner, repo, number),
            lambda: client.download_log(owner, repo, number, dest),
            lambda: client.list_jobs(owner, repo, number, per_page=per_page, filter=filter_),
            lambda: client.get_jobs_page(owner, repo, 3, page=number, per_page=per_page),
            lambda: client.download_logs(owner, repo, [number], dest),
        ]
        for call in attempts:
            error: BaseException | None = None
            try:
                result = call()
                if asyncio.iscoroutine(result):
                    await result
            except (InvalidArgumentError, ClientClosedError) as exc:
                error = exc
            assert error is not None, "a closed client accepted a call"
            if isinstance(error, InvalidArgumentError):
                assert error.name in ARGUMENTS
                assert_names(error, error.name, error.value)

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(calls(Path(tmp)))
        assert list(Path(tmp).iterdir()) == []


ARGUMENTS = {"owner", "repo", "job_id", "run_id", "per_page", "filter", "page"}
KNOBS = (
    "max_concurrency",
    "requests_per_minute",
    "max_rate_limit_wait",
    "max_retries",
    "max_secondary_retries",
    "connect_timeout",
    "read_timeout",
    "api_version",
    "user_agent",
)


FLOAT_KNOBS = ("connect_timeout", "read_timeout", "max_rate_limit_wait")


def no_float_trouble(knob: str, value: object) -> bool:
    """Values of the known bug below (test_float_options_...) are left to that test."""
    if knob not in FLOAT_KNOBS:
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < 10**300
    return not (isinstance(value, float) and math.isnan(value))


@FEW
@given(
    token=st.one_of(st.none(), st.just("ghp_TOKEN"), anything, st.just("ghp_TOKEN with space")),
    base_url=st.one_of(st.just("https://ghe.example.com/api/v3"), base_urls()),
    knob=st.sampled_from(KNOBS),
    value=anything,
)
def test_client_options_are_accepted_or_refused_by_name(
    token: Any, base_url: str, knob: str, value: Any
) -> None:
    """Client(...) with any token, base URL and option value is built, or refuses with an
    InvalidArgumentError naming the option (the token itself is never shown)."""
    assume(no_float_trouble(knob, value))
    try:
        Client(token, base_url=base_url, **{knob: value})
    except InvalidArgumentError as exc:
        error: InvalidArgumentError | None = exc
    else:
        error = None
    if error is None:
        return
    assert error.name in {"token", "base_url", knob}
    if error.name == "token":
        assert "TOKEN" not in str(error)
    elif error.name == knob:
        assert_names(error, knob, value)


@pytest.mark.parametrize("value", [10**400, math.nan], ids=["int-beyond-float", "nan"])
@pytest.mark.parametrize("knob", FLOAT_KNOBS)
def test_float_options_out_of_range_are_refused(knob: str, value: object) -> None:
    """A number of seconds that is NaN or too big for a float is refused by name."""
    with pytest.raises(InvalidArgumentError) as info:
        Client(**{knob: value})  # type: ignore[arg-type]
    assert info.value.name == knob


# --------------------------------------------------------------------------- a hostile server

JSON = "application/json; charset=utf-8"
UNICORN = b"<!DOCTYPE html><html><body><h1>Unicorn!</h1></body></html>"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def reply(
    status: int = 200,
    body: bytes = b"",
    content_type: str | None = JSON,
    *,
    extra: dict[str, str] | None = None,
    **headers: str,
) -> Handler:
    """A handler answering ``status`` with ``body`` and ``headers`` (``_`` in their names
    becomes ``-``) plus ``extra`` headers."""

    async def handle(request: web.Request) -> web.StreamResponse:
        sent = {name.replace("_", "-"): value for name, value in headers.items()}
        sent.update(extra or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        return web.Response(status=status, body=body, headers=sent)

    return handle


def job_json(job_id: int = 1) -> bytes:
    """A valid job body."""
    return json.dumps(valid_job(job_id)).encode()


def page_json(*ids: int) -> bytes:
    """A valid one-page listing body."""
    return json.dumps({"total_count": len(ids), "jobs": [valid_job(i) for i in ids]}).encode()


async def short_body(request: web.Request) -> web.StreamResponse:
    """Promise 1000 bytes, send 10, close: a body broken mid-way."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    response.content_length = 1000
    await response.prepare(request)
    await response.write(b"0123456789")
    await asyncio.sleep(0.05)
    assert request.transport is not None
    request.transport.close()
    return response


class Hostile(LoopbackServer):
    """One aiohttp server answering the client's four kinds of request as a test says.

    Routes: ``job`` (GET job), ``list`` (list jobs), ``logs`` (the logs endpoint),
    ``blob`` (anything under /blob/). Unset routes answer like GitHub would.
    """

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, Handler] = {}
        self.requests = 0

    @property
    def url(self) -> str:
        """The server's origin, once started."""
        return self.origin

    def defaults(self) -> dict[str, Handler]:
        """GitHub-like answers: a job, a one-page listing, a 302 to the blob, a log."""
        return {
            "job": reply(body=job_json()),
            "list": reply(body=page_json(1, 2)),
            "logs": reply(302, content_type=None, Location=f"{self.url}/blob/1"),
            "blob": reply(body=b"log line\n", content_type="text/plain"),
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        path = request.path
        if path.startswith("/blob/"):
            kind = "blob"
        elif path.endswith("/logs"):
            kind = "logs"
        elif "/runs/" in path:
            kind = "list"
        else:
            kind = "job"
        handler = self.routes.get(kind) or self.defaults()[kind]
        return await handler(request)


@pytest.fixture(name="hostile")
async def fixture_hostile() -> AsyncIterator[Hostile]:
    """A started hostile server."""
    async with Hostile() as server:
        yield server


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


OK = None  # the call returns a value
Outcome = type[GhJobsError] | None


async def outcome(call: Awaitable[object]) -> object:
    """The value of ``call`` or the exception it raised; at most 10 s (never hang)."""
    try:
        async with asyncio.timeout(10):
            return await call
    except TimeoutError:
        raise AssertionError("the call hung") from None
    except Exception as exc:  # classified by the caller
        return exc


async def run_all(server: Hostile, dest: Path) -> dict[str, object]:
    """get_job, list_jobs, get_log_url and download_log against ``server``: value or exception."""
    dest.mkdir(exist_ok=True)
    async with Client(
        "t0ken-SECRET",
        base_url=server.url,
        max_retries=1,
        max_secondary_retries=1,
        max_rate_limit_wait=1,
        read_timeout=3,
        sleep=_no_wait,
    ) as client:
        return {
            "get_job": await outcome(client.get_job(OWNER, REPO, 1)),
            "list_jobs": await outcome(client.list_jobs(OWNER, REPO, 5).collect()),
            "get_log_url": await outcome(client.get_log_url(OWNER, REPO, 1)),
            "download_log": await outcome(
                client.download_log(OWNER, REPO, 1, dest, max_attempts=2)
            ),
        }


def check_outcomes(results: dict[str, object], dest: Path) -> None:
    """Each result is a value of the right type or one of our exceptions; failures leave no file."""
    kinds = {
        "get_job": Job,
        "list_jobs": list,
        "get_log_url": LogLocation,
        "download_log": LogResult,
    }
    for method, result in results.items():
        if isinstance(result, BaseException):
            assert isinstance(result, GhJobsError), f"{method} raised {result!r}"
            assert "t0ken-SECRET" not in f"{result} {result!r}"
        else:
            assert isinstance(result, kinds[method]), (method, result)
    if isinstance(results["download_log"], BaseException):
        assert list(dest.rglob("*")) == [], "a failed download left files behind"
    else:
        assert [p.name for p in dest.iterdir()] == ["1.log"]


async def relative_then_job(request: web.Request) -> web.StreamResponse:
    """Job 1 moved: a relative 302 to job 2, which is served."""
    if request.path.endswith("/jobs/1"):
        return web.Response(status=302, headers={"Location": "2"})
    return web.Response(body=job_json(2), content_type="application/json")


def loc(url: str) -> Handler:
    """A 302 to ``url``."""
    return reply(302, content_type=None, Location=url)


SECONDARY = b'{"message": "You have exceeded a secondary rate limit."}'
GARBLED_RATE = {
    "x-ratelimit-limit": "lots",
    "x-ratelimit-remaining": "-1",
    "x-ratelimit-reset": "9" * 40,
    "x-ratelimit-used": "1e3",
    "x-ratelimit-resource": "core; " * 100,
}

# name: (routes, {method: expected outcome}); routes may use "{url}" (the server's origin).
SCENARIOS: dict[str, tuple[dict[str, Callable[[str], Handler]], dict[str, Outcome]]] = {
    "malformed JSON": (
        {
            "job": lambda u: reply(body=b'{"id": 1,'),
            "list": lambda u: reply(body=b'{"total_count": 1, "jobs": ['),
        },
        {"get_job": DecodeError, "list_jobs": DecodeError, "get_log_url": OK, "download_log": OK},
    ),
    "HTML with 200": (
        {
            "job": lambda u: reply(body=UNICORN, content_type="text/html"),
            "list": lambda u: reply(body=UNICORN, content_type="text/html"),
        },
        {"get_job": DecodeError, "list_jobs": DecodeError, "get_log_url": OK, "download_log": OK},
    ),
    "empty bodies": (
        {
            "job": lambda u: reply(content_type=None),
            "list": lambda u: reply(content_type=None),
            "blob": lambda u: reply(content_type=None),
        },
        {"get_job": DecodeError, "list_jobs": DecodeError, "get_log_url": OK, "download_log": OK},
    ),
    "JSON of the wrong shape": (
        {
            "job": lambda u: reply(body=b"[1, 2]"),
            "list": lambda u: reply(body=b'{"total_count": "x", "jobs": {}}'),
        },
        {"get_job": DecodeError, "list_jobs": DecodeError, "get_log_url": OK, "download_log": OK},
    ),
    "garbled x-ratelimit headers": (
        {
            "job": lambda u: reply(body=job_json(), extra=GARBLED_RATE),
            "list": lambda u: reply(body=page_json(1), extra=GARBLED_RATE),
            "logs": lambda u: reply(302, Location=f"{u}/blob/1", extra=GARBLED_RATE),
        },
        {"get_job": OK, "list_jobs": OK, "get_log_url": OK, "download_log": OK},
    ),
    "garbled Link header": (
        {"list": lambda u: reply(body=page_json(1), Link="<<>>;;rel=,<" * 600)},
        {"get_job": OK, "list_jobs": OK, "get_log_url": OK, "download_log": OK},
    ),
    "headers larger than aiohttp accepts": (
        {
            "job": lambda u: reply(body=job_json(), x_ratelimit_reset="9" * 20_000),
            "list": lambda u: reply(body=page_json(1), Link="<" * 20_000),
            "logs": lambda u: reply(302, Location=f"{u}/blob/{'x' * 20_000}"),
        },
        {
            "get_job": TransportError,
            "list_jobs": TransportError,
            "get_log_url": TransportError,
            "download_log": TransportError,
        },
    ),
    "Link to another origin": (
        {
            "list": lambda u: reply(
                body=page_json(1),
                Link='<http://127.0.0.1:9/repos/o/r/actions/runs/5/jobs?page=2>; rel="next", '
                '<http://127.0.0.1:9/repos/o/r/actions/runs/5/jobs?page=3>; rel="last"',
            )
        },
        {"get_job": OK, "list_jobs": UnsafeURLError, "get_log_url": OK, "download_log": OK},
    ),
    "302 without Location": (
        {"job": lambda u: reply(302), "list": lambda u: reply(302), "logs": lambda u: reply(302)},
        {
            "get_job": UnsafeURLError,
            "list_jobs": UnsafeURLError,
            "get_log_url": UnsafeURLError,
            "download_log": UnsafeURLError,
        },
    ),
    "relative Location": (
        {
            "job": lambda u: relative_then_job,
            "logs": lambda u: loc("../../../../../../blob/relative"),
        },
        {"get_job": OK, "list_jobs": OK, "get_log_url": OK, "download_log": OK},
    ),
    "non-HTTP schemes": (
        {
            "job": lambda u: loc("file:///etc/passwd"),
            "list": lambda u: loc("ftp://127.0.0.1/jobs"),
            "logs": lambda u: loc("javascript:alert(1)"),
        },
        {
            "get_job": UnsafeURLError,
            "list_jobs": UnsafeURLError,
            "get_log_url": UnsafeURLError,
            "download_log": UnsafeURLError,
        },
    ),
    "redirect loops": (
        {
            "job": lambda u: loc(f"{u}/repos/octo-org/hello-world/actions/jobs/1"),
            "list": lambda u: loc("/repos/octo-org/hello-world/actions/runs/5/jobs"),
            "blob": lambda u: loc(f"{u}/blob/again"),
        },
        {
            "get_job": UnsafeURLError,
            "list_jobs": UnsafeURLError,
            "get_log_url": OK,
            "download_log": UnsafeURLError,
        },
    ),
    "blob redirect without Location or to javascript:": (
        {"blob": lambda u: reply(302)},
        {"get_job": OK, "list_jobs": OK, "get_log_url": OK, "download_log": UnsafeURLError},
    ),
    "primary limit spent until year 4147": (
        {
            kind: (
                lambda u: reply(
                    403,
                    body=b'{"message": "API rate limit exceeded"}',
                    x_ratelimit_limit="5000",
                    x_ratelimit_remaining="0",
                    x_ratelimit_reset=str(2**37 - 1),
                )
            )
            for kind in ("job", "list", "logs")
        },
        {
            "get_job": PrimaryRateLimitError,
            "list_jobs": PrimaryRateLimitError,
            "get_log_url": PrimaryRateLimitError,
            "download_log": PrimaryRateLimitError,
        },
    ),
    "secondary limit asking for 31 years": (
        {
            kind: (lambda u: reply(429, body=SECONDARY, retry_after="999999999"))
            for kind in ("job", "list", "logs")
        },
        {
            "get_job": SecondaryRateLimitError,
            "list_jobs": SecondaryRateLimitError,
            "get_log_url": SecondaryRateLimitError,
            "download_log": SecondaryRateLimitError,
        },
    ),
    "secondary limit until a reset in year 6325": (
        {
            kind: (
                lambda u: reply(
                    403,
                    body=SECONDARY,
                    x_ratelimit_limit="5000",
                    x_ratelimit_remaining="0",
                    x_ratelimit_reset=str(2**37 - 1),
                )
            )
            for kind in ("job", "list", "logs")
        },
        {  # after the first answer the client knows the budget is spent until the reset
            "get_job": SecondaryRateLimitError,
            "list_jobs": PrimaryRateLimitError,
            "get_log_url": PrimaryRateLimitError,
            "download_log": PrimaryRateLimitError,
        },
    ),
    "blob body shorter than Content-Length": (
        {"blob": lambda u: short_body},
        {"get_job": OK, "list_jobs": OK, "get_log_url": OK, "download_log": IncompleteLogError},
    ),
    "blob 404 in XML": (
        {
            "blob": lambda u: reply(
                404, b"<Error><Code>BlobNotFound</Code></Error>", "application/xml"
            )
        },
        {"get_job": OK, "list_jobs": OK, "get_log_url": OK, "download_log": LogDownloadError},
    ),
}


@pytest.mark.integration
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_hostile_answers_give_our_exceptions(
    name: str, hostile: Hostile, tmp_path: Path
) -> None:
    """Malformed, empty, garbled and redirecting answers: a value or the expected GhJobsError,
    within 10 s, and nothing on disk after a failed download."""
    routes, expected = SCENARIOS[name]
    hostile.routes = {kind: make(hostile.url) for kind, make in routes.items()}
    dest = tmp_path / "logs"
    results = await run_all(hostile, dest)
    check_outcomes(results, dest)
    for method, want in expected.items():
        result = results[method]
        if want is OK:
            assert not isinstance(result, BaseException), (method, result)
        else:
            assert isinstance(result, want), (method, result)
    if name == "relative Location":
        assert isinstance(results["get_job"], Job)
        assert results["get_job"].id == 2
        location = results["get_log_url"]
        assert isinstance(location, LogLocation)
        assert location.url == f"{hostile.url}/blob/relative"


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock at once (no real waiting)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += max(seconds, 0.0)
        await asyncio.sleep(0)


printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
garbled_headers = st.dictionaries(
    st.sampled_from(
        [
            "Location",
            "Link",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "retry-after",
            "x-ratelimit-limit",
            "Content-Type",
            "Content-Encoding",
        ]
    ),
    st.one_of(
        printable,
        st.sampled_from(
            [
                "{url}/blob/1",
                "/blob/2",
                "javascript:alert(1)",
                "",
                "//127.0.0.1:9/x",
                "http://[::1",
                "0",
                "999999999",
                str(2**37),
                '<{url}/x?page=2>; rel="next"',
                "gzip",
                "text/html",
                "application/json",
            ]
        ),
    ),
    max_size=4,
)
hostile_bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"[]", b"null", UNICORN, job_json(), page_json(1), nested(50_000)]),
    json_values(8).map(lambda v: json.dumps(v).encode()),
)


@pytest.mark.integration
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    status=st.sampled_from([200, 204, 301, 302, 307, 400, 401, 403, 404, 410, 429, 500, 502]),
    extra=garbled_headers,
    body=hostile_bodies,
)
async def test_any_answer_to_any_call_is_a_value_or_our_error(
    hostile: Hostile,
    tmp_path_factory: pytest.TempPathFactory,
    status: int,
    extra: dict[str, str],
    body: bytes,
) -> None:
    """Whatever one answer every endpoint gives (status, garbled headers, any body): each
    call ends within 10 s in a value or a GhJobsError, and a failed download leaves no file."""
    sent = {name: value.replace("{url}", hostile.url) for name, value in extra.items()}
    content_type = sent.pop("Content-Type", JSON)
    handler = reply(status, body, content_type, extra=sent)
    hostile.routes = dict.fromkeys(("job", "list", "logs", "blob"), handler)
    fake_time = FakeTime()
    dest = tmp_path_factory.mktemp("dest")
    async with Client(
        "t0ken-SECRET",
        base_url=hostile.url,
        max_retries=1,
        max_secondary_retries=1,
        max_rate_limit_wait=30,
        read_timeout=3,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as client:
        results = {
            "get_job": await outcome(client.get_job(OWNER, REPO, 1)),
            "list_jobs": await outcome(client.list_jobs(OWNER, REPO, 5).collect()),
            "get_log_url": await outcome(client.get_log_url(OWNER, REPO, 1)),
            "download_log": await outcome(
                client.download_log(OWNER, REPO, 1, dest, max_attempts=2)
            ),
        }
    check_outcomes(results, dest)
    assert all(seconds <= 3600 for seconds in fake_time.slept)


def listing(pages: dict[str, tuple[list[int], str | None]], total: int) -> Handler:
    """A listing whose page ``?page=N`` holds jobs ``pages[N][0]`` and links ``pages[N][1]``
    as ``next``; past 20 requests it answers 404, so a client that loops fails fast."""
    seen = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.path_qs)
        if len(seen) > 20:
            return web.Response(status=404, body=b'{"message": "Not Found"}')
        page = request.query.get("page", "1")
        ids, nxt = pages.get(
            page, (list(range(1000 + len(seen) * 10, 1005 + len(seen) * 10)), page)
        )
        body = json.dumps({"total_count": total, "jobs": [valid_job(i) for i in ids]}).encode()
        headers = {"Content-Type": JSON}
        if nxt is not None:
            base = f"http://{request.host}{request.path}"
            headers["Link"] = f'<{base}?per_page=100&page={nxt}>; rel="next"'
        return web.Response(body=body, headers=headers)

    handle.seen = seen  # type: ignore[attr-defined]
    return handle


@pytest.mark.integration
@pytest.mark.parametrize(
    ("pages", "total", "expected"),
    [
        pytest.param({"1": ([1, 2], "1")}, 2, [1, 2], id="next-is-itself"),
        pytest.param({"1": ([1, 2], "2"), "2": ([3], "1")}, 3, [1, 2, 3], id="two-page-cycle"),
        pytest.param({"1": ([1, 2], "2")}, 2, [1, 2], id="endless-next-chain"),
    ],
)
async def test_a_looping_or_endless_next_chain_ends_the_listing(
    hostile: Hostile,
    pages: dict[str, tuple[list[int], str | None]],
    total: int,
    expected: list[int],
) -> None:
    """rel=next back to a fetched page (or on past total_count) ends the listing, not loops."""
    handler = listing(pages, total)
    hostile.routes["list"] = handler
    async with Client("t0ken", base_url=hostile.url, sleep=_no_wait) as client:
        async with asyncio.timeout(10):
            jobs = await client.list_jobs(OWNER, REPO, 5).collect()
    assert [job.id for job in jobs][: len(expected)] == expected
    assert len(handler.seen) <= len(pages) + 1  # type: ignore[attr-defined]
