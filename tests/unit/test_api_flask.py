"""The API server's Flask (``ApiFlask``) answers as Flask does where it skips Flask's work: its
query parameters' ``get`` returns what werkzeug's returns, absent keys, repeated keys and type
conversions alike; a request has no session to write; hooks and views are called as they are."""

from __future__ import annotations

from typing import Any

import pytest
from flask import request, session
from werkzeug.datastructures import ImmutableMultiDict

from control.apiserver.app import ApiFlask, _Args

PAIRS = [("watch", "true"), ("limit", "10"), ("limit", "20"), ("labelSelector", ""), ("x", "a")]
CASES: list[tuple[str, Any, Any]] = [
    ("watch", None, None),
    ("limit", None, None),
    ("limit", None, int),
    ("x", 7, int),  # "a" is no int: the default
    ("labelSelector", "d", None),
    ("absent", None, None),
    ("absent", "d", None),
    ("absent", 3, int),
]


@pytest.mark.parametrize(("key", "default", "conv"), CASES)
def test_args_get_is_werkzeugs(key: str, default: Any, conv: Any) -> None:
    ours, theirs = _Args(PAIRS), ImmutableMultiDict(PAIRS)
    assert ours.get(key, default, conv) == theirs.get(key, default, conv)
    assert ours.getlist(key) == theirs.getlist(key)


def test_requests_parse_args_into_args() -> None:
    app = ApiFlask("t")
    with app.test_request_context("/api/v1/pods?limit=5&limit=6"):
        assert isinstance(request.args, _Args)
        assert request.args.get("limit") == "5"
        assert request.args.get("continue") is None


def test_no_session_to_write() -> None:
    app = ApiFlask("t")
    with app.test_request_context("/"):
        assert app.session_interface.is_null_session(session)
        with pytest.raises(RuntimeError):
            session["k"] = "v"


def test_hooks_called_as_they_are() -> None:
    def hook() -> None:
        return None

    assert ApiFlask("t").ensure_sync(hook) is hook
