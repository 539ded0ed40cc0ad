"""CronJob schedules: the standard 5-field cron syntax, the ``@hourly``-style descriptors and
``@every <duration>`` as Kubernetes reads them (robfig/cron ``ParseStandard``), in a time zone.
The syntax is checked here so that a bad schedule is refused with robfig's words; the times of
5-field schedules are computed by croniter. Pure: times in, times out (IANA zones come from the
system's or the tzdata package's database).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

from croniter import CroniterBadDateError, croniter

# robfig's descriptors: each is a 5-field expression.
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (min, max, names) of minute, hour, day of month, month, day of week.
_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)}),
    (0, 6, {n: i for i, n in enumerate(_DAYS)}),
)
_ATOI = re.compile(r"[+-]?[0-9]+")
EVERY = "@every "
# Go's time.ParseDuration: a sequence of decimal numbers, each with a unit.
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
          "m": 60.0, "h": 3600.0}  # fmt: skip
# IANA's naming rules for a time zone name component (validateTimeZone in Kubernetes).
_ZONE_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


class CronError(ValueError):
    """A schedule or time zone Kubernetes would refuse; the message is robfig's or Go's."""


def _atoi(text: str) -> int:
    """mustParseInt: Go's strconv.Atoi and its words."""
    if not _ATOI.fullmatch(text):
        raise CronError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    num = int(text)
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {text}")
    return num


def _value(text: str, names: dict[str, int]) -> int:
    return names[text.lower()] if text.lower() in names else _atoi(text)


def _check_range(expr: str, low: int, high: int, names: dict[str, int]) -> None:
    """robfig's getRange: ``*``, ``?``, ``N``, ``N-M``, each with an optional ``/step``."""
    range_and_step = expr.split("/")
    bounds = range_and_step[0].split("-")
    if bounds[0] in ("*", "?"):
        start, end = low, high
    else:
        start = _value(bounds[0], names)
        if len(bounds) > 2:
            raise CronError(f"too many hyphens: {expr}")
        end = _value(bounds[1], names) if len(bounds) == 2 else start
    step = 1
    if len(range_and_step) > 2:
        raise CronError(f"too many slashes: {expr}")
    if len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if len(bounds) == 1:
            end = high  # "N/step" means "N-max/step"
    if start < low:
        raise CronError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise CronError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")


def go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds, with its error messages."""
    quoted = f'"{text}"'
    body = text[1:] if text[:1] in ("+", "-") else text
    if body == "0":
        return 0.0
    if not body:
        raise CronError(f"time: invalid duration {quoted}")
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        number, unit = match.groups() if match else ("", "")
        if number in ("", "."):
            raise CronError(f"time: invalid duration {quoted}")
        if not unit:
            raise CronError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise CronError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(number) * _UNITS[unit]
        pos = match.end() if match else len(body)
    return -total if text.startswith("-") else total


def every_seconds(spec: str) -> int:
    """robfig's ``Every``: the whole seconds of an ``@every`` delay, at least one."""
    try:
        seconds = go_duration(spec[len(EVERY) :])
    except CronError as e:
        raise CronError(f"failed to parse duration {spec}: {e}") from None
    return max(1, int(seconds))


def _split_zone(spec: str) -> tuple[str | None, str]:
    """A ``TZ=Zone`` or ``CRON_TZ=Zone`` prefix (robfig reads it; the API refuses new ones)."""
    if not spec.startswith(("TZ=", "CRON_TZ=")):
        return None, spec
    space = spec.find(" ")
    zone = spec[spec.index("=") + 1 : space if space >= 0 else len(spec)]
    return zone, spec[space:].strip() if space >= 0 else ""


def expression(spec: str) -> str:
    """The 5-field expression of a schedule (descriptors expanded, any zone prefix dropped);
    raises ``CronError`` with robfig's message for what ``ParseStandard`` refuses."""
    if not spec:
        raise CronError("empty spec string")
    zone, spec = _split_zone(spec)
    if zone is not None:
        try:
            load_zone(zone)
        except CronError as e:
            raise CronError(f"provided bad location {zone}: {e}") from None
    if spec.startswith(EVERY):
        return f"{EVERY}{every_seconds(spec)}s"
    if spec.startswith("@"):
        if spec not in DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {spec}")
        return DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for field, (low, high, names) in zip(fields, _BOUNDS, strict=True):
        for expr in field.split(","):
            _check_range(expr, low, high, names)
    return " ".join(f.replace("?", "*") for f in fields)


def schedule_error(spec: str) -> str:
    """Why ``spec`` is not a standard schedule ("" when it is one)."""
    try:
        expression(spec)
    except CronError as e:
        return str(e)
    return ""


def load_zone(name: str) -> dt.tzinfo:
    """Go's ``time.LoadLocation``: "" and "UTC" are UTC; an unknown name is refused."""
    if name in ("", "UTC"):
        return dt.UTC
    if any(p in (".", "..") or p.startswith("-") or not _ZONE_PART.match(p)
           for p in name.split("/")):  # fmt: skip
        raise CronError(f"unknown time zone {name}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name}") from None


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: its 5-field expression (or ``@every Ns``) and the zone its fields are
    read in."""

    expr: str
    zone: dt.tzinfo

    def next(self, after: dt.datetime) -> dt.datetime | None:
        """The first scheduled time strictly after ``after`` (UTC); None if it never comes
        (``0 0 31 2 *``)."""
        if self.expr.startswith(EVERY):
            # ConstantDelaySchedule.Next: whole seconds after ``after``, its fraction dropped.
            return after.replace(microsecond=0) + dt.timedelta(seconds=int(self.expr[7:-1]))
        start = after.astimezone(self.zone)
        try:
            value = croniter(self.expr, start).get_next(dt.datetime)
        except CroniterBadDateError:
            return None
        return value.astimezone(dt.UTC)


def parse(spec: str, time_zone: str | None = None) -> Schedule:
    """The schedule of a CronJob (``spec.schedule`` read in ``spec.timeZone``, or in the zone of
    a ``TZ=`` prefix, or in UTC); raises ``CronError``."""
    zone, _ = _split_zone(spec)
    expr = expression(spec)
    return Schedule(expr, load_zone(time_zone if time_zone is not None else zone or ""))
