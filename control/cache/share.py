"""Structural sharing between versions of one object: a new version's parts that equal the
previous version's are replaced by the previous version's own, so the versions the watch cache
holds together (the current object and the ring's recent changes) keep one copy of what did not
change (a pod's spec, most of its metadata) instead of one per version. Pure; the objects are
read-only once shared."""

from __future__ import annotations

from typing import Any

import orjson

_MISSING = object()
_CONTAINERS = (dict, list)


def share(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``new``, modified in place (it must not be shared yet): each value equal to ``old``'s
    under the same key, as JSON, is ``old``'s; unequal dicts and lists of equal length are
    shared from within. Returns ``new``."""
    for key, value in new.items():
        _take(new, key, value, old.get(key, _MISSING))
    return new


def _take(parent: Any, slot: Any, value: Any, before: Any) -> None:
    """Put ``before`` in ``parent[slot]`` (which holds ``value``) when it may stand for it;
    else share what can be shared within ``value``."""
    if value is not before and type(value) is type(before):
        found = _shared(value, before)
        if found is not None:
            parent[slot] = found


def _shared(value: Any, before: Any) -> Any:
    """``before`` when it may stand for ``value`` (same type, checked by ``_take``); else
    None, after sharing what can be shared within ``value``."""
    if type(value) not in _CONTAINERS:
        return before if value == before else None
    if value == before and _encoded_alike(value, before):
        return before
    if type(value) is dict:
        share(value, before)
    elif len(value) == len(before):
        for i, (item, was) in enumerate(zip(value, before, strict=True)):
            _take(value, i, item, was)
    return None


def _encoded_alike(value: Any, before: Any) -> bool:
    """``==`` takes ``1``, ``1.0`` and ``true`` for one another, even deep inside; the
    encodings tell them apart."""
    try:
        return orjson.dumps(value) == orjson.dumps(before)
    except orjson.JSONEncodeError:  # what orjson cannot write (integers over 64 bits)
        return False
