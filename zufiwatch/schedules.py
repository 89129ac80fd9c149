"""Cron schedules: APScheduler's cron triggers, and checking an expression without them.

Loading the configuration checks every source's schedules; importing APScheduler's cron
trigger for that (and asyncio and tzlocal with it) costs a crawl more start-up time than
the check itself. :func:`valid_cron` therefore recognises the plain forms on its own
(``*``, ``*/STEP``, ``N``, ``A-B``, lists of them, within each field's range), which
APScheduler accepts too, and asks APScheduler about everything else (names, ``last``,
stepped ranges, ...): what is valid does not change.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["cron_trigger", "plainly_valid", "valid_cron"]

#: The fields of a 6-field expression (seconds first) and their ranges, as APScheduler's
#: CronTrigger reads them (day of week 0-6 is Monday to Sunday).
_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_ITEM = re.compile(r"\*(?:/([0-9]+))?|([0-9]+)(?:-([0-9]+))?")


def cron_trigger(expression: str, timezone: str, jitter: int | None = None) -> Any:
    """An APScheduler cron trigger from 5 fields (or 6, seconds first)."""
    from apscheduler.triggers.cron import CronTrigger

    fields = _six_fields(expression)
    if fields is None:
        raise ValueError(f"expected 5 or 6 fields, got {len(expression.split())}: "
                         f"{expression!r}")
    second, minute, hour, day, month, weekday = fields
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=weekday, timezone=timezone, jitter=jitter)


def valid_cron(expression: str) -> bool:
    """Whether :func:`cron_trigger` accepts ``expression``."""
    if plainly_valid(expression):
        return True
    try:
        cron_trigger(expression, "UTC")
    except (ValueError, TypeError):
        return False
    return True


def plainly_valid(expression: str) -> bool:
    """``True`` when every field is a list of ``*``, ``*/STEP``, ``N`` or ``A-B`` within
    its range (a step at most the range's width); ``False`` means "not plain", not
    "invalid"."""
    fields = _six_fields(expression)
    return fields is not None and all(
        _plain_field(text, low, high) for text, (low, high) in zip(fields, _RANGES, strict=True))


def _six_fields(expression: str) -> list[str] | None:
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    return fields if len(fields) == 6 else None


def _plain_field(text: str, low: int, high: int) -> bool:
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            return False
        step, first, last = match.groups()
        if step is not None and not 0 < int(step) <= high - low:
            return False
        if first is not None and not low <= int(first) <= int(last or first) <= high:
            return False
    return True
