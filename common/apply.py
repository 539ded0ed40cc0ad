"""The patch of kubectl's client-side apply: a three-way strategic merge patch computed from the
last-applied configuration (``original``), the new manifest (``modified``) and the live object
(``current``), as ``CreateThreeWayMergePatch`` computes it. Pure.

* changes: every field of ``modified`` that differs from ``current`` (fields only ``current`` has,
  such as server defaults and status, are left alone);
* deletions: every field ``original`` had that ``modified`` dropped becomes ``null``, and every
  dropped item of a list merged by key becomes ``{"$patch": "delete", key: value}``;
* a list merged by key that changes also gets ``$setElementOrder/<list>``, the order of
  ``modified``, as kubectl sends it.

The lists merged by key and their keys are ``common.patch.MERGE_KEYS``, the table the API server's
``strategic_merge_patch`` uses, so the patch means on the server what it meant here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from common.manifest import LAST_APPLIED, with_last_applied
from common.patch import MERGE_KEYS

SET_ELEMENT_ORDER = "$setElementOrder/"
PATCH_DIRECTIVE = "$patch"


def three_way_patch(
    original: Mapping[str, Any] | None, modified: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The strategic merge patch that makes ``current`` what ``modified`` asks for, removing what
    only ``original`` asked for; ``{}`` when nothing needs to change."""
    return _diff_map(original or {}, modified, current)


def _diff_map(
    original: Mapping[str, Any], modified: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified and key in current:
            patch[key] = None
    for key, want in modified.items():
        if want is None:
            if key in current:
                patch[key] = None
        elif key not in current:
            patch[key] = copy.deepcopy(want)
        else:
            _diff_field(patch, key, original.get(key), want, current[key])
    return patch


def _diff_field(patch: dict[str, Any], key: str, before: Any, want: Any, have: Any) -> None:
    """Add to ``patch`` what turns the field ``key`` from ``have`` into ``want``."""
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        sub = _diff_map(before if isinstance(before, Mapping) else {}, want, have)
        if sub:
            patch[key] = sub
    elif _keyed_list(key, want) and _keyed_list(key, have):
        merge_key = MERGE_KEYS[key]
        old = before if _keyed_list(key, before) else []
        items = _diff_list(merge_key, old, want, have)
        if items:
            patch[SET_ELEMENT_ORDER + key] = [{merge_key: i[merge_key]} for i in want]
            patch[key] = items
    elif want != have:
        patch[key] = copy.deepcopy(want)


def _keyed_list(name: str, value: object) -> bool:
    """A list the server merges item by item: its name is in MERGE_KEYS and every item has the
    key (a list without the keys is replaced whole, as Kubernetes does with a bad patch)."""
    key = MERGE_KEYS.get(name)
    return (
        key is not None
        and isinstance(value, list)
        and all(isinstance(i, Mapping) and key in i for i in value)
    )


def _diff_list(
    key: str,
    original: Sequence[Mapping[str, Any]],
    modified: Sequence[Mapping[str, Any]],
    current: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    live = {i[key]: i for i in current}
    before = {i[key]: i for i in original}
    wanted = {i[key] for i in modified}
    items: list[dict[str, Any]] = []
    for item in modified:
        have = live.get(item[key])
        if have is None:
            items.append(copy.deepcopy(dict(item)))
            continue
        sub = _diff_map(before.get(item[key], {}), item, have)
        if sub:
            items.append({key: item[key], **sub})
    for item in original:
        if item[key] not in wanted and item[key] in live:
            items.append({PATCH_DIRECTIVE: "delete", key: item[key]})
    return items


def apply_patch(current: Mapping[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """The patch ``apply`` sends for an existing object: three-way from the last-applied
    configuration on ``current`` (none: nothing is deleted) to ``manifest`` carrying its new
    last-applied annotation; ``{}`` when the object already is as the manifest says."""
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    try:
        original = json.loads(annotations[LAST_APPLIED]) if LAST_APPLIED in annotations else None
    except (TypeError, ValueError):
        original = None
    if not isinstance(original, dict):
        original = None
    return three_way_patch(original, with_last_applied(manifest), current)
