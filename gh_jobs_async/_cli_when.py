"""``WHEN`` of ``gh-jobs runs --since/--until``: an ISO date or time, or a duration back.

Pure: ``now`` is passed in. Imported by :mod:`gh_jobs_async.cli` only.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = ["parse_when"]

_DURATION_RE = re.compile(r"(\d{1,7})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime) -> datetime | date:
    """``36h``, ``7d``, ``2w`` (also ``s``, ``m``): that long before ``now``; ``2026-01-31``:
    that UTC day (the list options read it as its first or last second); ``2026-01-31T12:00Z``
    or with an offset: that instant. Raise ``ValueError`` with a short reason otherwise
    (a time without a timezone too: it would be a guess).
    """
    value = text.strip()
    duration = _DURATION_RE.fullmatch(value)
    if duration is not None:
        amount, unit = duration.groups()
        try:
            return now.astimezone(UTC) - timedelta(**{_UNITS[unit]: int(amount)})
        except OverflowError:
            raise ValueError(f"{text!r} reaches too far back") from None
    if "T" not in value and " " not in value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(_expected(text)) from None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(_expected(text)) from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no timezone: add Z or an offset such as +02:00")
    return moment.astimezone(UTC)


def _expected(text: str) -> str:
    return (
        f"expected a duration such as 36h, 7d or 2w, a date such as 2026-01-31, "
        f"or a time such as 2026-01-31T12:00:00Z; got {text!r}"
    )
