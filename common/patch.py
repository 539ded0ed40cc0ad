"""Patch formats of the Kubernetes API: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
strategic merge patch for the lists Kubernetes merges by key. Pure functions over plain values."""

from __future__ import annotations

import copy
from typing import Any

from common import errors

# Lists that strategic merge patch merges item by item, by this key (Kubernetes' patchMergeKey).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "ownerReferences": "uid",
    "tolerations": "key",
    "addresses": "type",
}
# A Service's ports merge by ``port`` (ServiceSpec's patchMergeKey), a container's by
# ``containerPort``: the items of the list say which one it is.
OTHER_KEYS: dict[str, str] = {"ports": "port"}
# The list types of server-side apply (``x-kubernetes-list-type``), by (Go struct, JSON field),
# where they differ from "a map on the merge key": kube-apiserver's ``+listType``/``+listMapKey``
# markers. The merge keys above name the others; lists of scalars are atomic unless listed as sets.
LIST_MAP_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Container", "ports"): ("containerPort", "protocol"),
    ("EphemeralContainer", "ports"): ("containerPort", "protocol"),
    ("ServiceSpec", "ports"): ("port", "protocol"),
}
ATOMIC_LISTS: frozenset[tuple[str, str]] = frozenset({("PodSpec", "tolerations")})
SET_LISTS: frozenset[tuple[str, str]] = frozenset({("ObjectMeta", "finalizers")})
# Maps and structs owned and replaced as one value (``+mapType=atomic``, ``+structType=atomic``).
ATOMIC_MAPS: frozenset[tuple[str, str]] = frozenset({
    ("PodSpec", "nodeSelector"), ("ServiceSpec", "selector"),
})  # fmt: skip
ATOMIC_STRUCTS: frozenset[str] = frozenset({"LabelSelector"})
# What a list-map key that an item omits stands for (the schema's default of the key field).
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


def list_type(struct: str, field: str) -> tuple[str, tuple[str, ...]]:
    """``("map", keys)``, ``("set", ())`` or ``("atomic", ())``: how server-side apply merges the
    list ``field`` of the Go struct ``struct`` (a list of objects, or of scalars for sets)."""
    if (struct, field) in ATOMIC_LISTS:
        return "atomic", ()
    if (struct, field) in SET_LISTS:
        return "set", ()
    keys = LIST_MAP_KEYS.get((struct, field))
    if keys:
        return "map", keys
    if field in MERGE_KEYS:
        return "map", (MERGE_KEYS[field],)
    return "atomic", ()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge_patch_diff(old: Any, new: Any) -> Any:
    """The merge patch that turns ``old`` into ``new`` (``{}`` when they are equal)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return copy.deepcopy(new)
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = copy.deepcopy(value)
        elif old[key] != value:
            if isinstance(old[key], dict) and isinstance(value, dict):
                patch[key] = merge_patch_diff(old[key], value)
            else:
                patch[key] = copy.deepcopy(value)
    return patch


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge: like merge patch, but keyed lists merge by key and ``$patch``/
    ``$setElementOrder``/``$retainKeys`` directives are honoured (the subset kubectl sends)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [x for x in result[name] if x not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, _merge_key(key, value + result[key]))
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, items: list[Any]) -> str:
    first = MERGE_KEYS[field]
    other = OTHER_KEYS.get(field)
    keyed = [x for x in items if isinstance(x, dict) and "$patch" not in x]
    if other and keyed and all(first not in x and other in x for x in keyed):
        return other
    return first


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            if isinstance(item, dict) and item.get("$patch") == "replace":
                return [x for x in patch if not (isinstance(x, dict) and "$patch" in x)]
            out.append(copy.deepcopy(item))
            continue
        index = next(
            (i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append({k: v for k, v in copy.deepcopy(item).items() if k != "$patch"})
        else:
            out[index] = strategic_merge_patch(out[index], item)
    return out


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 operations add, remove, replace, move, copy and test."""
    if not isinstance(ops, list):
        raise errors.BadRequestError("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for n, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.BadRequestError(f"json patch operation {n} needs 'op' and 'path'")
        if not isinstance(op["path"], str) or not isinstance(op.get("from", ""), str):
            raise errors.BadRequestError(f"json patch operation {n}: its paths must be strings")
        kind, path = op["op"], _pointer(op["path"])
        if kind == "test":
            if _get(doc, path) != op.get("value"):
                raise errors.InvalidError(f"json patch test operation {n} failed at {op['path']}")
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind in ("add", "replace"):
            if kind == "replace":
                _get(doc, path)
                doc = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            source = _pointer(str(op.get("from", "")))
            value = copy.deepcopy(_get(doc, source))
            if kind == "move":
                doc = _remove(doc, source)
            doc = _add(doc, path, value)
        else:
            raise errors.BadRequestError(f'json patch operation {n}: unknown op "{kind}"')
    return doc


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise errors.BadRequestError(f'json patch path "{text}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/")]


def _get(doc: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise errors.InvalidError(f'json patch: path "/{"/".join(path)}" does not exist')
    return doc


def _add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
        if not 0 <= index <= len(parent):
            raise errors.InvalidError(f'json patch: bad list index "{last}"')
        parent.insert(index, value)
    else:
        raise errors.InvalidError(f'json patch: cannot add at "/{"/".join(path)}"')
    return doc


def _remove(doc: Any, path: list[str]) -> Any:
    if not path:
        return None
    parent = _get(doc, path[:-1])
    last = path[-1]
    _get(doc, path)
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return doc
