"""Request bodies: what the API server's decoders refuse before any object is built."""

from __future__ import annotations

import json

import pytest

from common import errors
from control.apiserver.body import MAX_DEPTH, decode_json, decode_yaml, nesting_depth


def refused(raw: bytes) -> str:
    with pytest.raises(errors.BadRequestError) as e:
        decode_json(raw)
    return e.value.message


def test_nesting_depth_skips_strings_and_is_checked_before_parsing() -> None:
    assert nesting_depth(b'{"a": "' + b"[" * 500 + b'"}') == 1
    assert nesting_depth(b"[" * 300 + b"]" * 300) == 300
    assert "nested deeper than" in refused(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert "nested deeper than" in refused(b'{"a":' * 200_000)  # never reaches the parser
    assert decode_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH).value is not None


def test_what_go_s_decoder_refuses_is_refused() -> None:
    assert refused(b'\xef\xbb\xbf{"a": 1}') == (
        "couldn't get version/kind; json parse error: invalid character 'ï' looking for "
        "beginning of value"
    )
    assert refused(b'{"a": 1} junk') == (
        "couldn't get version/kind; json parse error: invalid character 'j' after top-level value"
    )
    assert "invalid UTF-8" in refused(json.dumps({"a": 1}).encode("utf-16"))
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        assert "not valid JSON" in refused(b'{"a": ' + literal + b"}")


@pytest.mark.parametrize("text", ["\\ud800", "a\\udfffb", "\\ud800\\ud800", "\\uDBFF"])
def test_lone_surrogates_are_refused(text: str) -> None:
    message = refused(b'{"a": "' + text.encode() + b'"}')
    assert "lone UTF-16 surrogate" in message


def test_surrogate_pairs_and_escaped_backslashes_are_fine() -> None:
    assert decode_json(b'{"a": "\\ud83d\\ude00"}').value == {"a": "\U0001f600"}
    assert decode_json(b'{"a": "\\\\ud800"}').value == {"a": "\\ud800"}


def test_repeated_keys_are_found_with_their_paths_in_document_order() -> None:
    raw = (b'{"metadata": {"name": "a", "name": "b", "labels": {"x": "1", "x": "2"}},'
           b' "spec": {"containers": [{"name": "c", "image": "i", "image": "j"}]},'
           b' "kind": "Pod", "kind": "Pod"}')  # fmt: skip
    body = decode_json(raw)
    assert body.value["metadata"]["name"] == "b"
    assert [d.message for d in body.duplicates] == [
        'duplicate field "metadata.name"',
        'duplicate field "metadata.labels.x"',
        'duplicate field "spec.containers[0].image"',
        'duplicate field "kind"',
    ]


def test_yaml_bodies_go_through_the_bounded_loader() -> None:
    with pytest.raises(errors.BadRequestError, match="excessive aliasing"):
        decode_yaml(b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
            b"b%d: &b%d [%s]\n" % (i, i, b", ".join([b"*a" if i == 0 else b"*b%d" % (i - 1)] * 10))
            for i in range(5)))  # fmt: skip
    with pytest.raises(errors.BadRequestError, match="invalid Unicode character escape"):
        decode_yaml(b'a: "\\ud800"\n')  # libyaml itself refuses it
    body = decode_yaml(b"a: 1\na: 2\n")
    assert body.value == {"a": 2}
    assert [d.message for d in body.duplicates] == ['line 2: key "a" already set in map']


@pytest.mark.timeout(10)
def test_an_unterminated_string_of_escaped_quotes_is_skipped_in_one_pass() -> None:
    # Matched once per quote, this took minutes: the depth check must stay linear.
    for tail in (b"", b"\\"):
        raw = b"[" * (MAX_DEPTH + 1) + b'"' + b'\\"' * 200_000 + tail
        assert nesting_depth(raw) == MAX_DEPTH + 1
        assert "nested deeper than" in refused(raw)
