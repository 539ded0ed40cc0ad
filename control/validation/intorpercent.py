"""The int-or-percent checks of pkg/apis/apps/validation shared by the rolling-update fields of
DaemonSets and StatefulSets (ValidatePositiveIntOrPercent, getIntOrPercentValue,
IsNotMoreThan100Percent), with kube-apiserver's messages. Pure."""

from __future__ import annotations

import re
from typing import Any

from common.errors import Cause
from common.fielderrors import invalid
from common.workloads import int_or_percent, percent_errors
from control.validation.meta import validate_nonnegative

# strconv.Atoi's syntax: what intstr's IntValue reads from a string that is no percentage.
_ATOI = re.compile(r"[+-]?[0-9]+")


def positive_int_or_percent(value: Any, path: str) -> list[Cause]:
    """ValidatePositiveIntOrPercent."""
    if isinstance(value, str):
        return [invalid(path, value, m) for m in percent_errors(value)]
    if isinstance(value, int):
        return validate_nonnegative(value, path)
    return []


def int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: a percentage's number, an int, or a string read as an int (0 when
    it is none)."""
    if isinstance(value, str) and not percent_errors(value):
        return int_or_percent(value)[0]
    if isinstance(value, str):
        return int(value) if _ATOI.fullmatch(value) else 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def not_over_100_percent(value: Any, path: str) -> list[Cause]:
    """IsNotMoreThan100Percent."""
    if isinstance(value, str) and not percent_errors(value) and int_or_percent_value(value) > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []
