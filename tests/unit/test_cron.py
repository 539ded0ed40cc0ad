"""Cron schedules as Kubernetes reads them: robfig's syntax and messages, descriptors, zones."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from common import cron

T = dt.datetime(2026, 1, 1, 0, 30, 20, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("*/1 * * * *", dt.datetime(2026, 1, 1, 0, 31, tzinfo=dt.UTC)),
        ("*/15 * * * *", dt.datetime(2026, 1, 1, 0, 45, tzinfo=dt.UTC)),
        ("5/15 * * * *", dt.datetime(2026, 1, 1, 0, 35, tzinfo=dt.UTC)),
        ("0 0 1,15 jan-mar ?", dt.datetime(2026, 1, 15, tzinfo=dt.UTC)),
        ("0 0 * * MON", dt.datetime(2026, 1, 5, tzinfo=dt.UTC)),
        ("@hourly", dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC)),
        ("@daily", dt.datetime(2026, 1, 2, tzinfo=dt.UTC)),
        ("@midnight", dt.datetime(2026, 1, 2, tzinfo=dt.UTC)),
        ("@weekly", dt.datetime(2026, 1, 4, tzinfo=dt.UTC)),
        ("@monthly", dt.datetime(2026, 2, 1, tzinfo=dt.UTC)),
        ("@yearly", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
        ("@annually", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_next_time(spec: str, expected: dt.datetime) -> None:
    assert cron.parse(spec).next(T) == expected


def test_next_is_strictly_after() -> None:
    on_time = dt.datetime(2026, 1, 1, 0, 31, tzinfo=dt.UTC)
    assert cron.parse("* * * * *").next(on_time) == on_time + dt.timedelta(minutes=1)


def test_time_zone_reads_the_fields_in_that_zone() -> None:
    new_york = cron.parse("0 9 * * *", "America/New_York")
    assert new_york.next(T) == dt.datetime(2026, 1, 1, 14, tzinfo=dt.UTC)
    prefixed = cron.parse("TZ=Europe/Paris 0 9 * * *")
    assert prefixed.next(T) == dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)


def test_every_is_a_constant_delay_in_whole_seconds() -> None:
    assert cron.parse("@every 5m").next(T) == T + dt.timedelta(minutes=5)
    assert cron.parse("@every 1h30m").next(T) == T + dt.timedelta(hours=1, minutes=30)
    fraction = T + dt.timedelta(microseconds=500_000)
    assert cron.parse("@every 1.5s").next(fraction) == T + dt.timedelta(seconds=1)
    assert cron.parse("@every 200ms").next(T) == T + dt.timedelta(seconds=1)


def test_a_schedule_that_never_comes() -> None:
    assert cron.parse("0 0 31 2 *").next(T) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty spec string"),
        ("bad", "expected exactly 5 fields, found 1: [bad]"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("0 * * * * *", "expected exactly 5 fields, found 6: [0 * * * * *]"),
        ("@every-day", "unrecognized descriptor: @every-day"),
        ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
        ("@every x", 'failed to parse duration @every x: time: invalid duration "x"'),
        (
            "@every 2d",
            'failed to parse duration @every 2d: time: unknown unit "d" in duration "2d"',
        ),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("0 24 * * *", "end of range (24) above maximum (23): 24"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("1/2/3 * * * *", "too many slashes: 1/2/3"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("* * L * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
        ("TZ=Mars/Base 0 * * * *", "provided bad location Mars/Base: unknown time zone Mars/Base"),
    ],
)
def test_bad_schedules_get_robfigs_message(spec: str, message: str) -> None:
    assert cron.schedule_error(spec) == message
    with pytest.raises(cron.CronError, match=re.escape(message)):
        cron.parse(spec)


def test_good_schedules_have_no_error() -> None:
    assert cron.schedule_error("*/5 9-17 * * 1-5") == ""


@pytest.mark.parametrize("name", ["Local", "Mars/Base", "../etc", "Etc/-bad", "a//b"])
def test_unknown_zones(name: str) -> None:
    with pytest.raises(cron.CronError, match="unknown time zone"):
        cron.load_zone(name)


def test_utc_and_empty_zone() -> None:
    assert cron.load_zone("") is dt.UTC
    assert cron.load_zone("UTC") is dt.UTC
    assert str(cron.load_zone("Europe/Berlin")) == "Europe/Berlin"
