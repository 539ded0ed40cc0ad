"""Request bodies turned into JSON values, refusing what kube-apiserver's decoders refuse and
bounding the work before any recursion: UTF-8 only (no byte-order mark), one JSON value and
nothing after it, no NaN or infinities, no string that cannot be encoded (a lone UTF-16
surrogate), a nesting depth measured on the bytes before the parser runs; YAML through
``common.yamlsafe``. Keys repeated in an object are returned for the strict decoder to report.
Pure.
"""

from __future__ import annotations

import codecs
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from common import errors, yamlsafe
from control.validation.decode import Duplicate

MAX_DEPTH = yamlsafe.MAX_DEPTH
NOT_JSON = "the request body is not valid JSON"
# A string literal, or an unterminated one up to the end: possessive, and a match once started,
# so a body of escaped quotes that never closes is skipped in one pass instead of once per quote.
_STRINGS = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
for _b in b"[{":
    _STEP[_b] = 1
for _b in b"]}":
    _STEP[_b] = -1
_SURROGATE_ESCAPE = re.compile(rb"\\[uU]0{0,4}[dD][89a-fA-F]")


@dataclass(frozen=True)
class Body:
    value: Any
    duplicates: list[Duplicate] = field(default_factory=list)


def _bad(message: str) -> errors.BadRequestError:
    return errors.BadRequestError(message)


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped); cheap when
    the body has few brackets, linear in C otherwise."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return 0
    brackets = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def _constant(text: str) -> Any:
    raise ValueError(f"invalid character '{text[0]}' looking for beginning of value")


class _Pairs:
    """``object_pairs_hook`` that notes the objects repeating a key."""

    def __init__(self) -> None:
        self.found: dict[int, list[tuple[str, float]]] = {}

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            repeats = []
            for key, _ in pairs:
                if key in seen:
                    repeats.append((key, len(seen) - 0.5))  # between the keys around it
                seen.add(key)
            self.found[id(obj)] = repeats
        return obj


def _locate(root: Any, found: dict[int, list[tuple[str, float]]]) -> list[Duplicate]:
    """Paths (as Go's strict decoder prints them) and document positions of repeated keys."""
    out: list[Duplicate] = []
    stack: list[tuple[Any, str, tuple[float, ...]]] = [(root, "", ())]
    while stack:
        value, path, order = stack.pop()
        if isinstance(value, dict):
            for key, pos in found.get(id(value), []):
                out.append(Duplicate(f"{path}.{key}" if path else key, (*order, pos)))
            for i, (k, v) in enumerate(value.items()):
                if isinstance(v, dict | list):
                    stack.append((v, f"{path}.{k}" if path else k, (*order, i)))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, dict | list):
                    stack.append((v, f"{path}[{i}]", (*order, i)))
    return sorted(out, key=lambda d: d.order)


def _check_encodable(raw: bytes, value: Any) -> None:
    """A ``\\ud800`` escape decodes to a string no UTF-8 encoder takes: refuse it here."""
    if not _SURROGATE_ESCAPE.search(raw):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        bad = e.object[e.start : e.end].encode("unicode_escape").decode()
        raise _bad(f"{NOT_JSON}: a string holds a lone UTF-16 surrogate ({bad})") from None


def decode_json(raw: bytes) -> Body:
    if raw.startswith(codecs.BOM_UTF8):
        raise _bad(
            "couldn't get version/kind; json parse error: invalid character 'ï' looking for "
            "beginning of value"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad(f"{NOT_JSON}: invalid UTF-8 at byte {e.start}") from None
    if nesting_depth(raw) > MAX_DEPTH:
        raise _bad(f"{NOT_JSON}: nested deeper than {MAX_DEPTH} levels")
    pairs = _Pairs()
    try:
        value = json.loads(
            text, object_pairs_hook=pairs, parse_float=_finite, parse_constant=_constant
        )
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":
            char = text[e.pos]
            raise _bad(
                f"couldn't get version/kind; json parse error: invalid character '{char}' "
                "after top-level value"
            ) from None
        raise _bad(f"{NOT_JSON}: {e}") from None
    except (ValueError, RecursionError) as e:
        raise _bad(f"{NOT_JSON}: {e}") from None
    _check_encodable(raw, value)
    return Body(value, _locate(value, pairs.found) if pairs.found else [])


def decode_yaml(raw: bytes) -> Body:
    try:
        doc = yamlsafe.load(raw)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e)
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise _bad(f"error converting YAML to JSON: yaml: {where}{problem}") from None
    _check_encodable(raw, doc.value)
    duplicates = [Duplicate("", (), d.line, d.key) for d in doc.duplicates]
    return Body(doc.value, duplicates)
