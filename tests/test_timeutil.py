"""Times typed by people: ISO and German dates, words, ages, offsets (timeutil.parse_when)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zufiwatch.timeutil import parse_when

TZ = "Europe/Berlin"
# 2026-12-16 09:15 in Berlin (CET, UTC+1).
NOW = datetime(2026, 12, 16, 8, 15, tzinfo=UTC)


def when(text: str, **kwargs: bool) -> datetime:
    return parse_when(text, tz=TZ, now=NOW, **kwargs)


def test_a_german_date_is_the_same_day_as_the_iso_date() -> None:
    assert when("15.12.2026") == when("2026-12-15")
    assert when("15.12.2026") == datetime(2026, 12, 15, 22, 59, 59, 999999, tzinfo=UTC)
    assert when("15.12.2026", end_of_day=False) == datetime(2026, 12, 14, 23, 0, tzinfo=UTC)
    assert when("1.3.2026", end_of_day=False) == when("2026-03-01", end_of_day=False)


def test_a_german_date_with_a_time_is_local() -> None:
    assert when("15.12.2026 14:30") == datetime(2026, 12, 15, 13, 30, tzinfo=UTC)
    assert when("15.12.2026 14:30") == when("2026-12-15 14:30")
    assert when("01.07.2026 14:30:05") == datetime(2026, 7, 1, 12, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(("word", "day"), [
    ("heute", 16), ("today", 16), ("Heute", 16), ("gestern", 15), ("yesterday", 15),
    ("morgen", 17), ("tomorrow", 17)])
def test_words_for_days_are_local_dates(word: str, day: int) -> None:
    assert when(word) == when(f"2026-12-{day}")
    assert when(word, end_of_day=False) == when(f"{day}.12.2026", end_of_day=False)


def test_gestern_is_the_local_date_just_after_midnight() -> None:
    # 00:30 on 2026-12-16 in Berlin is still 2026-12-15 in UTC.
    just_after = datetime(2026, 12, 15, 23, 30, tzinfo=UTC)
    start = parse_when("gestern", tz=TZ, now=just_after, end_of_day=False)
    assert start == datetime(2026, 12, 14, 23, 0, tzinfo=UTC)  # 15.12. 00:00 Berlin


def test_now_ages_and_offsets() -> None:
    assert when("now") == when("jetzt") == NOW
    assert when("7d") == NOW - timedelta(days=7)
    assert when("12h") == NOW - timedelta(hours=12)
    assert when("2026-12-15T14:30+01:00") == datetime(2026, 12, 15, 13, 30, tzinfo=UTC)
    assert when("2026-12-15T14:30:00Z") == datetime(2026, 12, 15, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["last tuesday", "32.12.2026", "15.13.2026", "15/12/2026",
                                  "2026-13-01", ""])
def test_anything_else_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as error:
        when(text)
    message = str(error.value)
    assert repr(text) in message
    for form in ("2026-12-15", "15.12.2026", "15.12.2026 14:30", "gestern", "heute",
                 "jetzt", "7d", "12h"):
        assert form in message
