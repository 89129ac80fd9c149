"""Times: the injectable clock, the stored form, and times typed by people.

Stored times are UTC ISO 8601 strings with microseconds (text order = time order).
People type local times (the configured time zone), in ISO or German order:
``2026-03-01`` or ``01.03.2026`` means the end of that day, so ``show --at 2026-03-01`` is
the state as it was on that day; ``heute``/``today``, ``gestern``/``yesterday`` and
``morgen``/``tomorrow`` are local dates like these. ``2026-03-01 14:30``,
``01.03.2026 14:30`` and ISO forms with an offset are taken as given; ``now``/``jetzt``,
``7d``, ``12h`` count back from the current time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["ACCEPTED_FORMS", "Clock", "parse_when", "show_time", "stored", "system_clock"]

Clock = Callable[[], datetime]

_RELATIVE = re.compile(r"^(\d+)\s*([dhwm])$")
_UNITS = {"d": "days", "h": "hours", "w": "weeks", "m": "minutes"}
#: German order: ``15.12.2026``, optionally with ``14:30`` or ``14:30:15``.
_GERMAN = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_NOW = {"now", "jetzt"}
#: Words for local dates, as days from today.
_DAYS = {"today": 0, "heute": 0, "yesterday": -1, "gestern": -1, "tomorrow": 1, "morgen": 1}

#: What :func:`parse_when` accepts, for error messages and help texts.
ACCEPTED_FORMS = ("2026-12-15, 15.12.2026 (a date: the end of that day), "
                  "'2026-12-15 14:30', '15.12.2026 14:30', an ISO 8601 time with offset "
                  "(2026-12-15T14:30+01:00), now/jetzt, today/heute, yesterday/gestern, "
                  "tomorrow/morgen, or an age such as 7d, 12h, 2w, 30m")


def system_clock() -> datetime:
    return datetime.now(UTC)


def stored(moment: datetime) -> str:
    """The stored form of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; zufiwatch stores aware times only")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_when(text: str, *, tz: str, now: datetime, end_of_day: bool = True) -> datetime:
    """A moment typed by a person (see the module docstring); ``ValueError`` listing the
    accepted forms when it is not one. A date means the end of that day, or its start with
    ``end_of_day=False``."""
    value = " ".join(text.strip().split())
    lowered = value.lower()
    zone = ZoneInfo(tz)
    if lowered in _NOW:
        return now
    relative = _RELATIVE.match(lowered)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    day: date | None = None
    if lowered in _DAYS:
        day = now.astimezone(zone).date() + timedelta(days=_DAYS[lowered])
    german = _GERMAN.match(value)
    try:
        if german:
            d, m, y, hh, mm, ss = german.groups()
            if hh is None:
                day = date(int(y), int(m), int(d))
            else:
                local = datetime(int(y), int(m), int(d), int(hh), int(mm), int(ss or 0),
                                 tzinfo=zone)
                return local.astimezone(UTC)
    except ValueError:
        raise ValueError(f"not a date: {text!r} ({_hint()})") from None
    if day is None:
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(value)
    if day is not None:
        moment = datetime.combine(day, time.max if end_of_day else time.min, zone)
        return moment.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"not a time: {text!r} ({_hint()})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _hint() -> str:
    return f"accepted: {ACCEPTED_FORMS}"


def local_text(value: str | None, tz: str | ZoneInfo, pattern: str) -> str:
    """A stored time in the zone ``tz`` as ``pattern`` writes it, for pages: "—" when
    empty, the value itself when it is not a time (a naive one is taken as UTC)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return moment.astimezone(zone).strftime(pattern)


def show_time(value: str | None, tz: str) -> str:
    """A stored time as people read it: local, to the second."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(tz))
    return moment.strftime("%Y-%m-%d %H:%M:%S")
