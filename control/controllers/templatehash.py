"""The ``pod-template-hash`` of a Deployment's pod template, computed as Kubernetes'
``controller.ComputeHash`` does: FNV-32a over a deterministic print of the template, then the
collision count as 8 little-endian bytes, then the decimal sum mapped char by char through the
safe alphabet ``bcdfghjklmnpqrstvwxz2456789`` (so ``7d4b9c8f5d``-like names, at most 10 chars).

Kubernetes prints the Go struct with spew, so its digits depend on the Go type of the running
version; tinykube prints the JSON object with sorted keys. Only stability matters: the same
template always gives the same hash, a different template (almost always) another. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# k8s.io/apimachinery/pkg/util/rand: consonants and digits, so no words and no confusables.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
FNV32_OFFSET = 0x811C9DC5
FNV32_PRIME = 0x01000193


def fnv32a(data: bytes, start: int = FNV32_OFFSET) -> int:
    h = start
    for byte in data:
        h ^= byte
        h = (h * FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte picks ``alphabet[byte % 27]``."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode())


def printed(template: Mapping[str, Any]) -> bytes:
    return json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """ComputeHash(template, collisionCount)."""
    h = fnv32a(printed(template))
    if collision_count is not None:
        # Go writes 8 bytes of which PutUint32 fills the first 4 (little-endian).
        h = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4), h)
    return safe_encode(str(h))
