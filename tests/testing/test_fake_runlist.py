"""The fake's runs-listing rules, as pure functions: filters, qualifiers, order and caps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gh_jobs_async.testing._runlist import (
    RunQuery,
    created_bounds,
    is_filtered,
    page_of,
    select_runs,
    workflow_matches,
)

JAN1 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
DAY = 86_400


def run(run_id: int, created: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": run_id,
        "created_at": created,
        "head_branch": "main",
        "event": "push",
        "status": "completed",
        "conclusion": "success",
        "head_sha": "a" * 40,
        "actor": {"login": "octocat"},
        "check_suite_id": 1,
        "workflow_id": 11,
        "path": ".github/workflows/ci.yml@main",
    }
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("2026-01-01", (JAN1, JAN1 + DAY - 1)),
        (">2026-01-01", (JAN1 + DAY, None)),
        (">=2026-01-01", (JAN1, None)),
        ("<2026-01-01", (None, JAN1 - 1)),
        ("<=2026-01-01", (None, JAN1 + DAY - 1)),
        ("2026-01-01..2026-01-02", (JAN1, JAN1 + 2 * DAY - 1)),
        ("2026-01-01..*", (JAN1, None)),
        ("*..2026-01-01", (None, JAN1 + DAY - 1)),
        ("2026-01-01T00:00:10Z", (JAN1 + 10, JAN1 + 10)),
        (">2026-01-01T00:00:10Z", (JAN1 + 11, None)),
        ("2026-01-01T02:00:00+02:00..2026-01-01T00:00:05Z", (JAN1, JAN1 + 5)),
        ("2026-01-01T00:00:00-01:30", (JAN1 + 5400, JAN1 + 5400)),
    ],
)
def test_created_qualifiers_select_inclusive_seconds(
    text: str, bounds: tuple[int | None, int | None]
) -> None:
    """Each of GitHub's date qualifiers maps to the inclusive epoch seconds it selects."""
    assert created_bounds(text) == bounds


@pytest.mark.parametrize("text", ["", "*..*", "2026-01-01T10:00:00", "soon", "2026-01-01.."])
def test_bad_qualifiers_are_refused(text: str) -> None:
    """Garbage and zone-less times are refused (the fake answers 422)."""
    with pytest.raises(ValueError):  # noqa: PT011 - any reason will do
        created_bounds(text)


def test_every_filter_selects_and_order_is_newest_first() -> None:
    """branch, event, status (status or conclusion), actor, head_sha, check_suite_id, created."""
    runs = [
        run(1, "2026-01-01T00:00:00Z"),
        run(2, "2026-01-02T00:00:00Z", head_branch="dev", conclusion="failure"),
        run(3, "2026-01-02T00:00:00Z", event="pull_request", status="in_progress", conclusion=None),
        run(4, "2026-01-03T00:00:00Z", actor={"login": "hubot"}, head_sha="b" * 40),
        run(5, "2026-01-04T00:00:00Z", check_suite_id=9),
    ]

    def ids(**query: str) -> list[int]:
        return [r["id"] for r in select_runs(runs, RunQuery.parse(query))]

    assert ids() == [5, 4, 3, 2, 1]  # same second: higher id first
    assert ids(branch="dev") == [2]
    assert ids(event="pull_request") == [3]
    assert ids(status="failure") == [2]
    assert ids(status="completed") == [5, 4, 2, 1]
    assert ids(status="in_progress") == [3]
    assert ids(actor="hubot") == [4]
    assert ids(head_sha="b" * 40) == [4]
    assert ids(check_suite_id="9") == [5]
    assert ids(created="2026-01-02") == [3, 2]
    assert ids(created="<2026-01-02", branch="main") == [1]
    assert ids(branch="nope") == []


def test_workflow_is_an_id_or_a_file_name() -> None:
    """The workflow path segment matches the numeric id or the file name of the path."""
    sample = run(1, "2026-01-01T00:00:00Z")
    assert workflow_matches(sample, "11")
    assert workflow_matches(sample, "ci.yml")
    assert not workflow_matches(sample, "12")
    assert not workflow_matches(sample, "main")


def test_a_search_reaches_the_cap_and_counts_everything() -> None:
    """Filtered: pages past the cap are empty with every match still counted."""
    matched = [{"id": n} for n in range(2500)]
    page_10 = page_of(
        matched, filtered=True, per_page=100, page=10, search_cap=1000, unfiltered_limit=40_000
    )
    assert page_10 is not None
    assert [r["id"] for r in page_10[0]] == list(range(900, 1000))
    assert page_10[1] == 2500
    page_11 = page_of(
        matched, filtered=True, per_page=100, page=11, search_cap=1000, unfiltered_limit=40_000
    )
    assert page_11 == ([], 2500)


def test_an_unfiltered_listing_stops_at_its_limit_with_a_422() -> None:
    """Unfiltered: total_count clamped at the limit; a page starting past it is refused."""
    matched = [{"id": n} for n in range(500)]
    last = page_of(
        matched, filtered=False, per_page=100, page=3, search_cap=1000, unfiltered_limit=300
    )
    assert last is not None
    assert [r["id"] for r in last[0]] == list(range(200, 300))
    assert last[1] == 300
    assert (
        page_of(
            matched, filtered=False, per_page=100, page=4, search_cap=1000, unfiltered_limit=300
        )
        is None
    )


def test_any_filter_parameter_makes_a_search() -> None:
    """Only the seven filters make a search; paging and exclude_pull_requests do not."""
    assert not is_filtered({"per_page": "100", "page": "2", "exclude_pull_requests": "true"})
    for name in ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status"):
        assert is_filtered({name: "x"})
