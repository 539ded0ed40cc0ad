"""``share_strings``: the controllers' cached objects share their equal short strings."""

from __future__ import annotations

import orjson

from control.registry.source import SHARED_LENGTH, share_strings

TEXT = (
    b'{"metadata":{"namespace":"team-a","labels":{"app":"web"}},'
    b'"spec":{"containers":[{"image":"tinykube/sleeper:1","args":["sleep","' + b"x" * 65 + b'"]}]},'
    b'"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Initialized",'
    b'"status":"True"}],"restartCount":0,"ready":true,"ip":null}}'
)


def test_equal_short_strings_of_two_objects_become_one_and_the_objects_are_unchanged() -> None:
    a, b = orjson.loads(TEXT), orjson.loads(TEXT)
    assert a["metadata"]["namespace"] is not b["metadata"]["namespace"]  # decoded apart
    shared_a, shared_b = share_strings(a), share_strings(b)
    assert shared_a is a and shared_b is b, "in place"
    assert a == b == orjson.loads(TEXT)
    assert a["metadata"]["namespace"] is b["metadata"]["namespace"]
    assert a["metadata"]["labels"]["app"] is b["metadata"]["labels"]["app"]
    assert a["spec"]["containers"][0]["image"] is b["spec"]["containers"][0]["image"]
    assert a["spec"]["containers"][0]["args"][0] is b["spec"]["containers"][0]["args"][0]
    ready_a, ready_b = a["status"]["conditions"], b["status"]["conditions"]
    assert ready_a[0]["status"] is ready_a[1]["status"] is ready_b[1]["status"]


def test_long_strings_are_left_as_they_are() -> None:
    a, b = orjson.loads(TEXT), orjson.loads(TEXT)
    share_strings(a), share_strings(b)
    long_a, long_b = a["spec"]["containers"][0]["args"][1], b["spec"]["containers"][0]["args"][1]
    assert len(long_a) == SHARED_LENGTH + 1 and long_a == long_b and long_a is not long_b


def test_a_list_at_the_top_and_values_that_are_not_strings() -> None:
    items = orjson.loads(b'[{"n":1,"f":1.5,"b":false,"z":null},"abc",[["deep-string"]]]')
    expected = [{"n": 1, "f": 1.5, "b": False, "z": None}, "abc", [["deep-string"]]]
    assert share_strings(items) == expected
    other = share_strings(orjson.loads(b'[[["deep-string"]]]'))
    assert items[2][0][0] is other[0][0][0]
