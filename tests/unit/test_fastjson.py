"""The store's JSON decoder gives the values, and the errors, of ``json.loads`` for every text,
including those orjson alone would refuse."""

from __future__ import annotations

import datetime as dt
import json
import math
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from common import fastjson

JSON_VALUES = hs.recursive(
    hs.none()
    | hs.booleans()
    | hs.integers()
    | hs.floats(allow_nan=False, allow_infinity=False)
    | hs.text(),
    lambda children: hs.lists(children) | hs.dictionaries(hs.text(), children),
    max_leaves=30,
)


@given(JSON_VALUES)
def test_values_are_those_of_the_standard_library(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, separators=(",", ":"), ensure_ascii=False)):
        decoded = fastjson.loads(text.encode("utf-8", "surrogatepass"))
        assert decoded == json.loads(text)
        assert json.dumps(decoded) == json.dumps(json.loads(text))  # same types, same order


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 123456789012345678901234567890}',  # beyond 64 bits
        '{"n": -99999999999999999999}',
        '{"f": NaN}',
        '{"f": Infinity, "g": -Infinity}',
        '{"s": "\\ud800"}',  # a lone surrogate escape
        '{"a": 1, "a": 2}',  # a repeated key: the last one wins
        '{"f": 1e400}',
        '{"f": 1E+16, "g": -0.0, "h": 5e-324}',
        '{"s": "12345678901234567890123", "n": 18446744073709551615}',  # 19 digits or more
    ],
)
def test_texts_orjson_refuses_decode_as_the_standard_library_does(text: str) -> None:
    got, want = fastjson.loads(text.encode()), json.loads(text)
    assert json.dumps(got) == json.dumps(want)
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[key])
        else:
            assert type(got[key]) is type(value) and got[key] == value


@pytest.mark.parametrize("text", ["", "{", '{"a": }', "[1,]", '{"a": 1} x'])
def test_bad_text_fails_with_the_standard_library_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as got:
        fastjson.loads(text.encode())
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text.encode())
    assert str(got.value) == str(want.value)


NO_FLOATS = hs.recursive(
    hs.none() | hs.booleans() | hs.integers() | hs.text(),
    lambda children: hs.lists(children) | hs.dictionaries(hs.text(), children),
    max_leaves=30,
)


@given(NO_FLOATS)
def test_text_is_that_of_the_standard_library(value: Any) -> None:
    assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert fastjson.dumpb(value) == json.dumps(value, separators=(",", ":")).encode()


@given(JSON_VALUES)
def test_floats_keep_their_value(value: Any) -> None:
    assert json.loads(fastjson.dumps(value)) == value


@given(JSON_VALUES)
def test_a_copy_is_the_value_of_a_json_round_trip(value: Any) -> None:
    copied = fastjson.copy(value)
    assert copied == value and json.dumps(copied) == json.dumps(value)
    if isinstance(value, dict | list) and value:
        assert copied is not value


class Shared(dict[str, Any]):
    """As the watch cache's events: a dict subclass."""


@pytest.mark.parametrize(
    "value",
    [
        {"a": "é", "b": "\x7f", "c": "\u2028"},  # escaped by json, not by orjson
        {"big": 2**64, "neg": -(2**63) - 1},  # beyond orjson's 64 bits
        {1: "a", None: "b"},  # keys that are not strings: json turns them into strings
        (1, [2, (3,)]),  # tuples are arrays
        Shared(type="ADDED", object={"metadata": {"name": "a"}}),
    ],
)
def test_values_orjson_writes_differently_are_written_by_the_standard_library(value: Any) -> None:
    assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert fastjson.dumpb(value) == json.dumps(value, separators=(",", ":")).encode()
    assert json.dumps(fastjson.copy(value)) == json.dumps(json.loads(json.dumps(value)))


def test_a_kept_text_takes_the_memory_of_its_length() -> None:
    """The watch cache keeps thousands: orjson's own bytes would keep the buffer it grew."""
    pod = {"metadata": {"name": "p" * 3000, "labels": {"a": "b"}}, "spec": {"n": list(range(99))}}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [fastjson.dumpb(pod) for _ in range(50)]
        taken = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert taken < 1.1 * sum(map(len, kept))


def test_a_null_is_written_by_orjson() -> None:
    """Every scheduled pod holds one (``lastProbeTime``): it must not send the pod to json."""
    pod = {"status": {"conditions": [{"type": "PodScheduled", "lastProbeTime": None}]}}
    assert fastjson._encoded(pod) == json.dumps(pod, separators=(",", ":")).encode()
    assert fastjson.copy(pod) == pod


def test_nan_and_infinities_are_written_null_not_as_text_that_is_not_json() -> None:
    """No object holds one (request bodies refuse them); were one written, it would be JSON."""
    value = {"n": None, "x": float("nan"), "i": float("inf"), "j": float("-inf")}
    assert fastjson.dumps(value) == '{"n":null,"x":null,"i":null,"j":null}'
    assert fastjson.copy(value) == {"n": None, "x": None, "i": None, "j": None}


def test_what_json_cannot_write_fails_as_it_did() -> None:
    for value in ({"when": dt.datetime.now(dt.UTC)}, {"set": {1}}, {"obj": object()}):
        with pytest.raises(TypeError):
            fastjson.dumps(value)
        with pytest.raises(TypeError):
            fastjson.copy(value)


def test_nesting_deeper_than_orjson_takes_is_left_to_json() -> None:
    value: Any = []
    for _ in range(300):
        value = [value]
    assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert fastjson.loads(fastjson.dumps(value).encode()) == value


def test_pieces_of_a_list_of_texts_are_its_json_and_other_values_have_none() -> None:
    texts = [fastjson.dumpb({"n": i, "s": "x" * i}) for i in range(7)]
    listing = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "3"},
               "items": fastjson.Texts(texts)}  # fmt: skip
    whole = fastjson.dumps(listing).encode()
    for per_piece in (1, 2, 7, 100):
        got = fastjson.pieces(listing, per_piece)
        assert got is not None
        length, chunks = got
        written = list(chunks)
        assert b"".join(written) == whole and length == len(whole)
        assert len(written) == 2 + -(-7 // per_piece)
    empty = {**listing, "items": fastjson.Texts([])}
    got = fastjson.pieces(empty, 2)
    assert got is not None and b"".join(got[1]) == fastjson.dumps(empty).encode()
    assert fastjson.pieces({**listing, "items": [{"n": 1}]}, 2) is None, "not texts"
    assert fastjson.pieces({"items": fastjson.Texts(texts), "kind": "PodList"}, 2) is None
