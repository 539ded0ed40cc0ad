"""Join tokens (k3s's K10 format), the per-node token shape, and when an agent joins."""

from __future__ import annotations

import hashlib

import pytest

from agent.join import wants_join
from common.jointoken import (
    JoinToken,
    TokenFormatError,
    ca_hash,
    format_token,
    matches,
    parse_token,
    split_node_token,
)

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
HASH = hashlib.sha256(CA).hexdigest()


def test_format_is_k3s_layout_with_the_sha256_of_the_pem() -> None:
    assert format_token(CA, "s3cret") == f"K10{HASH}::node:s3cret"


def test_round_trip() -> None:
    token = parse_token(format_token(CA, "abc"))
    assert token == JoinToken(secret="abc", user="node", ca_hash=HASH)
    assert token.secure and matches(token, CA)


def test_a_different_ca_does_not_match() -> None:
    token = parse_token(format_token(CA, "abc"))
    assert not matches(token, CA + b"\n")
    assert ca_hash(CA + b"\n") != HASH


def test_user_defaults_to_node_when_only_a_secret_follows() -> None:
    assert parse_token(f"K10{HASH}::abc") == JoinToken("abc", "node", HASH)


def test_secret_may_contain_colons() -> None:
    assert parse_token(f"K10{HASH}::server:a:b").secret == "a:b"


def test_short_form_is_a_bare_secret_that_cannot_verify() -> None:
    token = parse_token("  abc123\n")
    assert token == JoinToken("abc123")
    assert not token.secure and not matches(token, CA)


@pytest.mark.parametrize(
    "text",
    ["", "   ", f"K10{HASH[:-1]}::node:x", f"K10{HASH.upper()}::node:x", f"K10{HASH}::", "a b"],
)
def test_malformed_tokens_are_refused(text: str) -> None:
    with pytest.raises(TokenFormatError):
        parse_token(text)


def test_node_token_shape() -> None:
    assert split_node_token("abc123." + "x" * 32) == ("abc123", "x" * 32)
    assert split_node_token("abc123." + "x" * 31) is None
    assert split_node_token("ABC123." + "x" * 32) is None
    assert split_node_token("static-admin-token") is None


@pytest.mark.parametrize(
    ("token", "server", "ca_file", "insecure", "joins"),
    [
        (f"K10{HASH}::node:s", "https://h:6443", None, False, True),
        (f"K10{HASH}::node:s", "http://127.0.0.1:6443", "/ca.crt", False, True),
        ("bare", "https://h:6443", None, False, True),  # short form
        ("bare", "https://h:6443", "/ca.crt", False, False),  # a bearer token with its CA
        ("bare", "https://h:6443", None, True, False),
        ("bare", "http://127.0.0.1:6443", None, False, False),  # tinykube up's node tokens
    ],
)
def test_when_an_agent_joins(
    token: str, server: str, ca_file: str | None, insecure: bool, joins: bool
) -> None:
    assert wants_join(token, server, ca_file, insecure) is joins
