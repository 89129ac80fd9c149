"""Times: the injectable clock, the stored form, and times typed by people.

Stored times are UTC ISO 8601 strings with microseconds (text order = time order).
People type local times (the configured time zone): ``2026-03-01`` means the end of that
day, so ``show --at 2026-03-01`` is the state as it was on that day; ``2026-03-01 14:30``
and ISO forms with an offset are taken as given; ``now``, ``today``, ``7d`` and ``12h``
count back from the current time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["Clock", "parse_when", "show_time", "stored", "system_clock"]

Clock = Callable[[], datetime]

_RELATIVE = re.compile(r"^(\d+)\s*([dhwm])$")
_UNITS = {"d": "days", "h": "hours", "w": "weeks", "m": "minutes"}


def system_clock() -> datetime:
    return datetime.now(UTC)


def stored(moment: datetime) -> str:
    """The stored form of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; zufiwatch stores aware times only")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_when(text: str, *, tz: str, now: datetime, end_of_day: bool = True) -> datetime:
    """A moment typed by a person; ``ValueError`` with a hint when it is not one."""
    value = text.strip()
    zone = ZoneInfo(tz)
    if value.lower() == "now":
        return now
    if value.lower() == "today":
        value = now.astimezone(zone).date().isoformat()
    relative = _RELATIVE.match(value.lower())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        moment = datetime.combine(day, time.max if end_of_day else time.min, zone)
        return moment.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use YYYY-MM-DD, 'YYYY-MM-DD HH:MM', "
                         "an ISO 8601 time, 'now', 'today' or an age such as 7d)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def show_time(value: str | None, tz: str) -> str:
    """A stored time as people read it: local, to the second."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(tz))
    return moment.strftime("%Y-%m-%d %H:%M:%S")
