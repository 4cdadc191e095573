"""``WHEN`` for ``gh-jobs runs --since/--until``: durations back from now, ISO dates and times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from gh_jobs_async._cli_when import parse_when

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("36h", NOW - timedelta(hours=36)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90m", NOW - timedelta(minutes=90)),
        ("30s", NOW - timedelta(seconds=30)),
        ("0d", NOW),
        (" 7d ", NOW - timedelta(days=7)),
        ("2026-01-31", date(2026, 1, 31)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T14:00:00+02:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
    ],
)
def test_durations_dates_and_times(text: str, expected: datetime | date) -> None:
    """A duration counts back from now; a date stays a day; a time is an instant in UTC."""
    assert parse_when(text, NOW) == expected


def test_now_in_another_zone_gives_the_same_instant() -> None:
    """The duration is subtracted from the instant, whatever zone now is given in."""
    local = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert parse_when("1d", local) == NOW - timedelta(days=1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "7",
        "d",
        "7y",
        "-7d",
        "7 d",
        "1.5h",
        "2026-02-30",
        "2026-01-31T12:00:00",
        "2026-01-31 12:00",
        "99999999w",
        "7dd",
        "T12:00Z",
    ],
)
def test_bad_values_raise_a_short_value_error(text: str) -> None:
    """Garbage, zone-less times and impossible dates are refused with a one-line reason."""
    with pytest.raises(ValueError, match=r"expected|timezone|too far") as info:
        parse_when(text, NOW)
    assert "\n" not in str(info.value)
