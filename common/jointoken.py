"""Node join tokens in k3s's format, ``K10<sha256 of the CA cert PEM>::<user>:<secret>``, and the
per-node credential tokens the control plane hands out when a node joins. The hash lets a joining
agent check the CA it downloads before it trusts the server or sends a credential; the short form
(the secret alone) cannot. Pure: parsing, formatting and hashing only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

PREFIX = "K10"
# The user a join secret is presented as (HTTP Basic), as in k3s's "node" tokens.
NODE_USER = "node"
_HASH = re.compile(r"^[0-9a-f]{64}$")
# Per-node credentials: "<id>.<secret>", the shape of Kubernetes' bootstrap tokens with a longer
# secret. The id names the stored record; only the secret is compared.
NODE_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{32})$")


class TokenFormatError(ValueError):
    """A token that is neither the secure nor the short form."""


@dataclass(frozen=True)
class JoinToken:
    secret: str
    user: str = NODE_USER
    ca_hash: str | None = None  # None: the short form, which cannot verify the server

    @property
    def secure(self) -> bool:
        return self.ca_hash is not None


def ca_hash(ca_pem: bytes) -> str:
    """The hash in a secure token: sha256 of the CA bundle exactly as ``/cacerts`` serves it."""
    return hashlib.sha256(ca_pem).hexdigest()


def format_token(ca_pem: bytes, secret: str, user: str = NODE_USER) -> str:
    if not secret or ":" in user or not user:
        raise TokenFormatError("a token needs a user without ':' and a non-empty secret")
    return f"{PREFIX}{ca_hash(ca_pem)}::{user}:{secret}"


def parse_token(text: str) -> JoinToken:
    """``K10<hash>::<user>:<secret>``, ``K10<hash>::<secret>`` (user ``node``) or a bare secret."""
    text = text.strip()
    if not text:
        raise TokenFormatError("the token is empty")
    if not text.startswith(PREFIX) or "::" not in text:
        if any(c.isspace() for c in text):
            raise TokenFormatError("a token cannot contain whitespace")
        return JoinToken(secret=text)
    digest, _, creds = text[len(PREFIX) :].partition("::")
    if not _HASH.match(digest):
        raise TokenFormatError(
            "the CA hash of a K10 token must be 64 lowercase hex digits (sha256)"
        )
    user, sep, secret = creds.partition(":")
    if not sep:
        user, secret = NODE_USER, creds
    if not user or not secret:
        raise TokenFormatError("the token has no credentials after '::'")
    return JoinToken(secret=secret, user=user, ca_hash=digest)


def matches(token: JoinToken, ca_pem: bytes) -> bool:
    """Whether ``ca_pem`` is the CA the token was issued for (always False for the short form)."""
    return token.ca_hash is not None and token.ca_hash == ca_hash(ca_pem)


def split_node_token(text: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a per-node credential token, or None when it is not one."""
    m = NODE_TOKEN.match(text)
    return (m.group(1), m.group(2)) if m else None
