"""Query parameters: Go's strconv rules, each refusal naming its parameter."""

from __future__ import annotations

import pytest

from common import errors
from control.apiserver import query


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"timeoutSeconds": "abc"},
         'timeoutSeconds: Invalid value: "abc": strconv.ParseInt: parsing "abc": invalid syntax'),
        ({"timeoutSeconds": "-5"},
         "timeoutSeconds: Invalid value: -5: must be greater than or equal to 0"),
        ({"limit": "1.5"},
         'limit: Invalid value: "1.5": strconv.ParseInt: parsing "1.5": invalid syntax'),
        ({"gracePeriodSeconds": "abc"},
         'gracePeriodSeconds: Invalid value: "abc": strconv.ParseInt: parsing "abc": invalid '
         "syntax"),
        ({"gracePeriodSeconds": "99999999999999999999"},
         'gracePeriodSeconds: Invalid value: "99999999999999999999": strconv.ParseInt: parsing '
         '"99999999999999999999": value out of range'),
        ({"watch": "maybe"},
         'watch: Invalid value: "maybe": strconv.ParseBool: parsing "maybe": invalid syntax'),
        ({"resourceVersion": "abc"},
         'resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid '
         "syntax"),
        ({"tailLines": "٣"},
         'tailLines: Invalid value: "٣": strconv.ParseInt: parsing "٣": invalid syntax'),
    ],
)  # fmt: skip
def test_bad_parameters_are_400s_that_name_them(args: dict[str, str], message: str) -> None:
    with pytest.raises(errors.BadRequestError) as e:
        query.check(args)
    assert e.value.message == message
    assert [c.field for c in e.value.causes] == [next(iter(args))]


def test_good_parameters_parse() -> None:
    args = {"timeoutSeconds": "30", "limit": "0", "gracePeriodSeconds": "-1", "watch": "T",
            "allowWatchBookmarks": "false", "resourceVersion": "12",
            "propagationPolicy": "x"}  # fmt: skip
    query.check(args)
    assert query.integer(args, "gracePeriodSeconds") == -1
    assert query.integer(args, "timeoutSeconds", 0) == 30
    assert query.integer({}, "limit") is None
    assert query.flag(args, "watch") is True
    assert query.flag(args, "allowWatchBookmarks") is False
