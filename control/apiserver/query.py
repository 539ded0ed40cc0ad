"""Query parameters parsed as kube-apiserver's parameter codec parses them (Go's ``strconv``), each
refusal a 400 that names the parameter: ``timeoutSeconds: Invalid value: "abc": strconv.ParseInt:
parsing "abc": invalid syntax``. ``check`` parses every parameter a request may carry, so none is
accepted unread. Pure over the request's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping

from common import errors

INT64 = (-(2**63), 2**63 - 1)
# Go's strconv.ParseBool.
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
# Parameters that must be non-negative integers, and those that are booleans.
COUNTS = ("timeoutSeconds", "limit", "sinceSeconds", "tailLines", "limitBytes")
INTEGERS = ("gracePeriodSeconds",)
FLAGS = ("watch", "allowWatchBookmarks", "sendInitialEvents", "orphanDependents", "pretty",
         "follow", "previous", "timestamps", "force", "stdin", "stdout", "stderr",
         "tty")  # fmt: skip
RESOURCE_VERSIONS = ("resourceVersion",)


def _invalid(name: str, shown: str, detail: str) -> errors.BadRequestError:
    message = f"{name}: Invalid value: {shown}: {detail}"
    return errors.BadRequestError(message, [errors.Cause(name, "FieldValueInvalid", message)])


def integer(args: Mapping[str, str], name: str, minimum: int | None = None) -> int | None:
    """The parameter as an int64 (``None`` when absent or empty)."""
    text = args.get(name, "")
    if text == "":
        return None
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        raise _invalid(name, f'"{text}"', f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not INT64[0] <= value <= INT64[1]:
        raise _invalid(name, f'"{text}"', f'strconv.ParseInt: parsing "{text}": value out of range')
    if minimum is not None and value < minimum:
        raise _invalid(name, str(value), f"must be greater than or equal to {minimum}")
    return value


def flag(args: Mapping[str, str], name: str) -> bool:
    """The parameter as Go's ParseBool reads it (absent or empty: false)."""
    text = args.get(name, "")
    if text == "" or text in _FALSE:
        return False
    if text in _TRUE:
        return True
    raise _invalid(name, f'"{text}"', f'strconv.ParseBool: parsing "{text}": invalid syntax')


def resource_version(args: Mapping[str, str], name: str = "resourceVersion") -> str:
    text = args.get(name, "")
    if text and not (text.isascii() and text.isdigit()):
        raise _invalid(name, f'"{text}"', f'strconv.ParseUint: parsing "{text}": invalid syntax')
    return text


def check(args: Mapping[str, str]) -> None:
    """Refuse any parameter of the request that does not parse."""
    if not args:
        return  # most writes (a Lease renewal, a status update) carry no parameter
    for name in COUNTS:
        integer(args, name, minimum=0)
    for name in INTEGERS:
        integer(args, name)
    for name in FLAGS:
        flag(args, name)
    for name in RESOURCE_VERSIONS:
        resource_version(args, name)
