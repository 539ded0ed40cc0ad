"""The JSON the server writes and reads back by the thousand (stored objects, responses, watch
lines, copies), and the answers and watch events the API client reads (``common.client``: the
agents and tkctl), through orjson, several times faster than the json module, with the json module's
results: a text orjson would read differently (an integer beyond 64 bits, NaN or an infinity, a
lone UTF-16 surrogate escape) is decoded by the json module, and a value orjson would write
differently (a non-ASCII character, which json escapes, an integer beyond 64 bits, a key that is
not a string) is encoded by it. Floats keep their value, not always their spelling (``1e-05``
may be written ``0.00001``); a UUID or an Enum, which the json module refuses, orjson writes
(neither is ever in an object).

One difference is kept on purpose: a NaN or an infinity is written ``null``, as orjson writes
it, where the json module writes ``NaN``, a text that is not JSON and that no Kubernetes client
reads. No object holds one: every request body refuses them (``control/apiserver/body.py``, as
kube-apiserver's decoder), and so the stored texts, which the server alone writes, have none.
Telling them apart from ``None`` would take a walk of the whole value, eight times orjson's own
time, on every object that holds a ``null`` (every pod once scheduled: its ``PodScheduled``
condition's ``lastProbeTime``). Pure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson

# orjson reads an integer beyond 64 bits as a float: a text with a run of 19 digits or more
# (anywhere, strings included: a cheap, safe test) goes to the json module. The run is looked
# for on the text with every digit made "0" and every other byte "x" (a regular expression
# takes ten times as long).
_DIGITS = bytes(ord("0") if b in b"0123456789" else ord("x") for b in range(256))
_LONG_RUN = b"0" * 19
# What orjson must refuse rather than write as json would not: datetimes and dataclasses
# (json raises TypeError for both).
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def loads(raw: bytes) -> Any:
    """``json.loads(raw)``."""
    if _LONG_RUN not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def _encoded(obj: Any) -> bytes | None:
    """orjson's text of ``obj`` when it is the json module's compact one (NaN and infinities
    apart: see above), else None. orjson leaves non-ASCII characters and DEL unescaped."""
    try:
        out = orjson.dumps(obj, option=_OPTIONS)
    except TypeError:
        return None
    if not out.isascii() or b"\x7f" in out:
        return None
    return out


def _compact(obj: Any) -> str:
    """The json module's compact text of ``obj``: what orjson would write differently."""
    return json.dumps(obj, separators=(",", ":"))


def dumps(obj: Any) -> str:
    """``json.dumps(obj, separators=(",", ":"))``."""
    out = _encoded(obj)
    return out.decode() if out is not None else _compact(obj)


def encoded(obj: Any) -> bytes:
    """``dumps(obj)`` as bytes (ASCII), as it came: orjson's own (which may keep the buffer it
    grew), not to be kept."""
    out = _encoded(obj)
    return out if out is not None else _compact(obj).encode()


def dumpb(obj: Any) -> bytes:
    """``dumps(obj)`` as bytes (ASCII), to be kept: in as much memory as its length (orjson's own
    bytes keep the buffer it grew, up to twice as much)."""
    out = _encoded(obj)
    return memoryview(out).tobytes() if out is not None else _compact(obj).encode()


class Texts(list):  # type: ignore[type-arg]
    """Texts ``dumpb`` wrote, the items of a list answered from the watch cache: ``dumps``
    writes each as it is where it stands (``orjson.Fragment``), and ``pieces`` joins them as
    they are. The value around them must be one orjson writes (ASCII strings, small
    integers)."""

    __slots__ = ("texts",)

    def __init__(self, texts: list[bytes]) -> None:
        super().__init__(orjson.Fragment(t) for t in texts)
        self.texts = texts


def pieces(obj: dict[str, Any], per_piece: int) -> tuple[int, Iterator[bytes]] | None:
    """``encoded(obj)`` for a list whose ``items``, its last key, are ``Texts``, in pieces:
    its length, and its head, then its items ``per_piece`` at a time, each piece joined when it
    is asked for, then its end. A list of 10,000 pods is some 30 MB of text, which ``encoded``
    builds whole (and a response copied again); its pieces are the watch cache's own texts.
    None for any other value."""
    items = obj.get("items")
    if not isinstance(items, Texts) or next(reversed(obj)) != "items":
        return None
    head = encoded({**obj, "items": []})
    if not head.endswith(b"[]}"):
        return None
    head, texts = head[:-2], items.texts
    length = len(head) + sum(map(len, texts)) + max(len(texts) - 1, 0) + 2

    def chunks() -> Iterator[bytes]:
        yield head
        for start in range(0, len(texts), per_piece):
            piece = b",".join(texts[start : start + per_piece])
            yield b"," + piece if start else piece
        yield b"]}"

    return length, chunks()


def copy(obj: Any) -> Any:
    """``json.loads(json.dumps(obj))``: a deep copy of a JSON-born value."""
    out = _encoded(obj)
    return loads(out) if out is not None else json.loads(json.dumps(obj))
