"""Cron schedules are checked without APScheduler where they are plain, with the same
verdict as APScheduler's CronTrigger on every expression."""

from __future__ import annotations

import random

import pytest
from apscheduler.triggers.cron import CronTrigger

from zufiwatch.config import SourceSettings, settings_from_mapping
from zufiwatch.errors import ConfigError
from zufiwatch.schedules import cron_trigger, plainly_valid, valid_cron

#: Items for each field: plain ones, out-of-range ones and what only APScheduler knows.
_ITEMS = ["*", "*/1", "*/2", "*/5", "*/6", "*/7", "*/11", "*/12", "*/23", "*/24", "*/30",
          "*/31", "*/59", "*/60", "*/0", "0", "1", "5", "6", "7", "12", "13", "23", "24",
          "31", "32", "59", "60", "0-0", "1-5", "5-1", "0-6", "0-7", "1-12", "1-31", "0-59",
          "10-20/5", "1-5/10", "mon", "mon-fri", "jan", "last", "2nd mon", "", "x", "-1",
          "1,2", "*/", "٣"]


def _apscheduler_accepts(expression: str) -> bool:
    fields = expression.split()
    fields = ["0", *fields] if len(fields) == 5 else fields
    if len(fields) != 6:
        return False
    second, minute, hour, day, month, weekday = fields
    try:
        CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                    day_of_week=weekday, timezone="UTC")
    except (ValueError, TypeError):
        return False
    return True


#: Each field's range (seconds first) as APScheduler reads it.
_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _near(rng: random.Random, low: int, high: int) -> str:
    """An item around a field's range: at its edges, just outside it, steps near its width."""
    value = lambda: rng.choice((low - 1, low, low + 1, high - 1, high, high + 1,  # noqa: E731
                                rng.randint(low, high)))
    form = rng.randrange(4)
    if form == 0:
        return "*"
    if form == 1:
        return f"*/{rng.choice((0, 1, 2, high - low - 1, high - low, high - low + 1))}"
    if form == 2:
        return str(value())
    return f"{value()}-{value()}"


def _expressions() -> list[str]:
    rng = random.Random(19)
    found = ["30 5 * * *", "0 * * * *", "*/15 * * * *", "0 0 1 1 0", "0 0 31 12 6",
             "59 23 * * 0-6", "0 0 * * 7", "0 0 0 * *", "0 24 * * *", "* * * *",
             "0 0 * * * * *", "5 30 5 * * *", "60 * * * * *", "0 8-18 * * mon-fri",
             "0 0 last * *", "0,30 6,18 1,15 * *", "*/60 * * * *", "0 0 */31 * *"]
    for _ in range(4000):
        six = rng.random() < 0.3
        fields = []
        for low, high in _RANGES[0 if six else 1:]:
            items = [_near(rng, low, high) if rng.random() < 0.9 else rng.choice(_ITEMS)
                     for _ in range(rng.choice((1, 1, 1, 2, 3)))]
            fields.append(",".join(items) or "*")
        found.append(" ".join(fields))
    return found


def test_a_plain_expression_is_one_apscheduler_accepts_and_the_verdict_is_unchanged() -> None:
    plain, found = 0, _expressions()
    for expression in found:
        accepted = _apscheduler_accepts(expression)
        if plainly_valid(expression):
            plain += 1
            assert accepted, expression
        assert valid_cron(expression) is accepted, expression
    assert plain > 100  # the fast path is taken, and checked, often
    assert len(found) - plain > 300  # so is APScheduler


def test_the_defaults_are_plain() -> None:
    source = SourceSettings(name="p", kind="pvog", base_url="http://127.0.0.1:1", ars="1")
    assert plainly_valid(source.schedule) and plainly_valid(source.link_watch_schedule)


@pytest.mark.parametrize("schedule", ["0 24 * * *", "*/0 * * * *", "0 0 * * 7", "0 5-1 * * *"])
def test_a_bad_schedule_still_stops_the_configuration(schedule: str) -> None:
    data = {"sources": [{"name": "p", "kind": "pvog", "base_url": "http://127.0.0.1:1",
                         "ars": "160530000000", "schedule": schedule}]}
    settings_from_mapping({**data, "sources": [{**data["sources"][0], "schedule": "0 5 * * *"}]})
    with pytest.raises(ConfigError, match=r"sources\[0\]\.schedule"):
        settings_from_mapping(data)


def test_the_trigger_is_apschedulers() -> None:
    trigger = cron_trigger("30 5 * * 0", "Europe/Berlin")
    assert isinstance(trigger, CronTrigger)
    assert str(trigger) == "cron[month='*', day='*', day_of_week='0', hour='5', minute='30', " \
        "second='0']"
    with pytest.raises(ValueError, match="expected 5 or 6 fields, got 4"):
        cron_trigger("* * * *", "UTC")
