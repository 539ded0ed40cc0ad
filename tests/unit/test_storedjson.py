"""The store's JSON decoder gives the values, and the errors, of ``json.loads`` for every text,
including those orjson alone would refuse."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from control import storedjson

JSON_VALUES = hs.recursive(
    hs.none() | hs.booleans() | hs.integers() | hs.floats(allow_nan=False) | hs.text(),
    lambda children: hs.lists(children) | hs.dictionaries(hs.text(), children),
    max_leaves=30,
)


@given(JSON_VALUES)
def test_values_are_those_of_the_standard_library(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, separators=(",", ":"), ensure_ascii=False)):
        decoded = storedjson.loads(text.encode("utf-8", "surrogatepass"))
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
    got, want = storedjson.loads(text.encode()), json.loads(text)
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
        storedjson.loads(text.encode())
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text.encode())
    assert str(got.value) == str(want.value)
