"""``created`` ranges and their bisection: pure values in, values out, no event loop."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gh_jobs_async import InvalidArgumentError, RunsCapError
from gh_jobs_async._created import (
    CAP,
    FLOOR,
    CreatedRange,
    Window,
    format_instant,
    over_cap,
    pages_for,
    parse_created,
    partition,
    probe_per_page,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = timedelta(seconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "since", "until"),
    [
        (None, None, None),
        (utc(2026, 1, 2, 3, 4, 5), utc(2026, 1, 2, 3, 4, 5), None),
        (date(2026, 1, 2), utc(2026, 1, 2), None),
        ((date(2026, 1, 1), date(2026, 1, 31)), utc(2026, 1, 1), utc(2026, 1, 31, 23, 59, 59)),
        ((None, utc(2026, 1, 31, 12)), None, utc(2026, 1, 31, 12)),
        ((utc(2026, 1, 31, 12), None), utc(2026, 1, 31, 12), None),
        ((None, None), None, None),
        ("2026-01-02", utc(2026, 1, 2), utc(2026, 1, 2, 23, 59, 59)),
        ("2026-01-02T03:04:05Z", utc(2026, 1, 2, 3, 4, 5), utc(2026, 1, 2, 3, 4, 5)),
        (">2026-01-02", utc(2026, 1, 3), None),
        (">2026-01-02T03:04:05Z", utc(2026, 1, 2, 3, 4, 6), None),
        (">=2026-01-02", utc(2026, 1, 2), None),
        ("<2026-01-02", None, utc(2026, 1, 1, 23, 59, 59)),
        ("<2026-01-02T00:00:00Z", None, utc(2026, 1, 1, 23, 59, 59)),
        ("<=2026-01-02", None, utc(2026, 1, 2, 23, 59, 59)),
        ("2026-01-01..2026-01-31", utc(2026, 1, 1), utc(2026, 1, 31, 23, 59, 59)),
        ("2026-01-01..*", utc(2026, 1, 1), None),
        ("*..2026-01-31", None, utc(2026, 1, 31, 23, 59, 59)),
        (
            "2026-01-01T01:00:00+07:00..2026-03-01T15:30:15-02:00",
            utc(2025, 12, 31, 18),
            utc(2026, 3, 1, 17, 30, 15),
        ),
    ],
)
def test_every_created_form_becomes_an_inclusive_whole_second_range(
    value: object, since: datetime | None, until: datetime | None
) -> None:
    """Datetimes, dates, pairs with open ends and every qualifier map to inclusive seconds."""
    assert parse_created(value) == CreatedRange(since, until)


def test_a_datetime_in_another_zone_is_the_same_instant_in_utc() -> None:
    """An aware datetime in any zone becomes the same instant, in UTC."""
    plus2 = timezone(timedelta(hours=2))
    parsed = parse_created(datetime(2026, 1, 1, 2, 0, 0, tzinfo=plus2))
    assert parsed.since == T0
    assert parsed.since is not None
    assert parsed.since.tzinfo is UTC


def test_fractions_of_a_second_round_inwards() -> None:
    """A run's created_at is whole seconds: since rounds up, until rounds down."""
    frac = T0 + timedelta(microseconds=500)
    assert parse_created((frac, frac + S)) == CreatedRange(T0 + S, T0 + S)
    assert parse_created(T0) == CreatedRange(T0, None)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
        (datetime(2026, 1, 1), None),  # noqa: DTZ001
        (None, datetime(2026, 1, 1)),  # noqa: DTZ001
        "2026-01-01T10:00:00",
        ">=2026-01-01T10:00:00",
        "2026-13-01",
        "2026-02-30",
        "yesterday",
        "",
        "*..*",
        ">=",
        "2026-01-01...2026-01-02",
        "2026-01-01..",
        " 2026-01-01",
        "2026-01-31..2026-01-01",
        (date(2026, 1, 2), date(2026, 1, 1)),
        (T0,),
        (T0, T0, T0),
        (1, 2),
        ("2026-01-01", None),
        12345,
        1.5,
        [T0, None],
        "9999-12-31..*",
        ">9999-12-31",
    ],
)
def test_bad_created_values_raise_naming_the_value(value: object) -> None:
    """Naive datetimes, zone-less times, bad dates, empty or reversed ranges are errors."""
    with pytest.raises(InvalidArgumentError) as info:
        parse_created(value)
    assert info.value.name == "created"
    assert "created" in str(info.value)


NAIVE = datetime(2026, 1, 1)  # noqa: DTZ001 - naive on purpose


@pytest.mark.parametrize(
    "value",
    [
        CreatedRange(NAIVE, None),
        CreatedRange(None, NAIVE),
        CreatedRange(T0, NAIVE),  # an aware and a naive end
        CreatedRange("2026-01-01", None),  # type: ignore[arg-type]
        CreatedRange(None, "2026-01-31"),  # type: ignore[arg-type]
        CreatedRange(1, None),  # type: ignore[arg-type]
        CreatedRange(T0 + S, T0),
    ],
)
def test_a_created_range_is_validated_like_a_pair(value: CreatedRange) -> None:
    """A CreatedRange built by hand goes through the pair's checks: naive ends, ends that
    are not datetimes and reversed ends raise InvalidArgumentError naming it."""
    with pytest.raises(InvalidArgumentError) as info:
        parse_created(value)
    assert info.value.name == "created"
    assert info.value.value == value


def test_a_created_range_in_local_time_is_refused_not_read_as_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A naive end is not read in the machine's zone (TZ=America/New_York gave 05:00Z)."""
    import time as time_module

    monkeypatch.setenv("TZ", "America/New_York")
    time_module.tzset()
    try:
        with pytest.raises(InvalidArgumentError, match="naive"):
            parse_created(CreatedRange(NAIVE, None))
    finally:
        monkeypatch.undo()
        time_module.tzset()


def test_a_created_range_rounds_inwards_in_utc() -> None:
    """Its fractions round inwards and other zones become UTC, as a pair's do."""
    frac = T0 + timedelta(microseconds=500)
    plus2 = timezone(timedelta(hours=2))
    assert parse_created(CreatedRange(frac, frac + S)) == CreatedRange(T0 + S, T0 + S)
    parsed = parse_created(CreatedRange(datetime(2026, 1, 1, 2, tzinfo=plus2), None))
    assert parsed == CreatedRange(T0, None)
    assert parsed.since is not None
    assert parsed.since.tzinfo is UTC
    assert parsed.qualifier() == ">=2026-01-01T00:00:00Z"
    assert parse_created(CreatedRange()) == CreatedRange()


def test_a_naive_datetime_is_refused_with_a_reason() -> None:
    """The message says why a naive datetime is refused rather than guessed at."""
    with pytest.raises(InvalidArgumentError, match="naive"):
        parse_created(datetime(2026, 1, 1))  # noqa: DTZ001


def test_qualifiers_are_formatted_in_utc_with_z() -> None:
    """The query value is FROM..TO, >=FROM or <=TO in GitHub's ...Z form, or None."""
    assert format_instant(datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-01-01T00:00:00Z"
    )
    assert parse_created("2026-01-01..2026-01-02").qualifier() == (
        "2026-01-01T00:00:00Z..2026-01-02T23:59:59Z"
    )
    assert parse_created(">=2026-01-01").qualifier() == ">=2026-01-01T00:00:00Z"
    assert parse_created("<2026-01-01").qualifier() == "<=2025-12-31T23:59:59Z"
    assert parse_created(None).qualifier() is None
    assert Window(T0, T0).qualifier() == "2026-01-01T00:00:00Z..2026-01-01T00:00:00Z"


def test_a_range_becomes_a_window_closed_by_the_newest_run() -> None:
    """An open lower end starts at FLOOR; the newest run closes or tightens the upper end."""
    newest = utc(2026, 3, 1, 12, 0, 0) + timedelta(microseconds=7)
    assert CreatedRange().window(newest) == Window(FLOOR, utc(2026, 3, 1, 12))
    assert CreatedRange(T0, utc(2026, 2, 1)).window(newest) == Window(T0, utc(2026, 2, 1))
    assert CreatedRange(T0, None).window(newest) == Window(T0, utc(2026, 3, 1, 12))
    assert CreatedRange(utc(2026, 4, 1), None).window(newest) is None
    with pytest.raises(ValueError, match="newest"):
        CreatedRange(T0, None).window(None)


def test_halves_share_no_second_and_cover_the_window() -> None:
    """Newer half MID+1s..TO, older half FROM..MID: disjoint, adjacent, covering."""
    window = Window(T0, T0 + 9 * S)
    newer, older = window.halves(2000)
    assert older == Window(T0, T0 + 4 * S)
    assert newer == Window(T0 + 5 * S, T0 + 9 * S)
    two = Window(T0, T0 + S)
    assert two.halves(2000) == (Window(T0 + S, T0 + S), Window(T0, T0))


@given(
    start=st.integers(min_value=0, max_value=10**9),
    length=st.integers(min_value=2, max_value=10**8),
)
def test_any_window_halves_into_a_partition_of_its_seconds(start: int, length: int) -> None:
    """For any window of two seconds or more, the halves partition its seconds."""
    since = FLOOR + start * S
    window = Window(since, since + (length - 1) * S)
    newer, older = window.halves(CAP + 1)
    assert older.since == window.since
    assert newer.until == window.until
    assert newer.since == older.until + S
    assert older.seconds + newer.seconds == window.seconds
    assert abs(older.seconds - newer.seconds) <= 1


def test_a_single_second_over_the_cap_is_a_clear_error() -> None:
    """One second cannot be split: RunsCapError names the second and the count."""
    with pytest.raises(RunsCapError) as info:
        Window(T0, T0).halves(1234)
    assert info.value.total_count == 1234
    assert info.value.window == "2026-01-01T00:00:00Z..2026-01-01T00:00:00Z"
    assert "1234" in str(info.value)
    assert "1000" in str(info.value)


def test_windows_refuse_to_end_before_they_start() -> None:
    """A reversed window is a programming error."""
    with pytest.raises(ValueError, match="before"):
        Window(T0 + S, T0)


def test_a_window_tightens_to_its_newest_run() -> None:
    """A probe's newest run ends the window; an empty probe drops it."""
    window = Window(T0, T0 + 100 * S)
    assert window.tightened(T0 + 10 * S + timedelta(microseconds=3)) == Window(T0, T0 + 10 * S)
    assert window.tightened(None) is None
    assert window.tightened(T0 + 500 * S) == window
    assert window.tightened(T0 - S) is None


def test_the_cap_decisions() -> None:
    """Split above 1,000 runs; probe cheaply unless the window is expected to fit."""
    assert not over_cap(CAP)
    assert over_cap(CAP + 1)
    assert probe_per_page(900, 100) == 1
    assert probe_per_page(800, 100) == 100
    assert probe_per_page(0, 100) == 100
    assert pages_for(0, 100) == 0
    assert pages_for(1, 100) == 1
    assert pages_for(1000, 100) == 10
    assert pages_for(5000, 100) == 10  # only the cap is reachable
    assert pages_for(101, 30) == 4


def test_a_first_cut_follows_the_density_of_the_first_page() -> None:
    """Slices of about TARGET runs at the first page's density, newest first, then the rest."""
    window = Window(FLOOR, T0 + 99_999 * S)
    sample = [T0 + (99_999 - 10 * i) * S for i in range(100)]  # one run every 10 s
    slices = partition(window, 1800, sample)
    assert slices[0] == Window(T0 + (99_999 - 5999) * S, T0 + 99_999 * S)  # 600 runs x 10 s
    assert len(slices) == 4  # three of 600 runs, then everything older
    assert slices[-1].since == FLOOR
    for newer, older in itertools.pairwise(slices):
        assert newer.since == older.until + S


@given(
    length=st.integers(min_value=2, max_value=10**7),
    total=st.integers(min_value=CAP + 1, max_value=10**6),
    gaps=st.lists(st.integers(min_value=0, max_value=10**4), min_size=0, max_size=120),
)
def test_any_first_cut_partitions_the_window(length: int, total: int, gaps: list[int]) -> None:
    """Whatever the sample, the slices cover the window exactly, newest first, disjoint."""
    window = Window(T0, T0 + (length - 1) * S)
    sample, moment = [], window.until
    for gap in gaps:
        moment -= gap * S
        sample.append(max(moment, T0))
    slices = partition(window, total, sample)
    assert slices[0].until == window.until
    assert slices[-1].since == window.since
    for newer, older in itertools.pairwise(slices):
        assert newer.since == older.until + S
    assert sum(part.seconds for part in slices) == window.seconds
