"""Sets of field paths as structured-merge-diff keeps them, and the operations server-side apply
needs on objects: the set of fields an applied configuration names, what changed between two
objects (added, modified, removed), the merge of a configuration into a live object, and the
removal of fields. A set is a tree in the shape of ``fieldsV1``: each key a path element
(``f:name``, ``k:{"name":"web"}``, ``v:"x"``, ``i:0``), ``"."`` marking the node itself a member.
Pure; equal subtrees are skipped, so a write pays for what it changed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from common.patch import KEY_DEFAULTS
from control.registry.fieldschema import ANY, ATOMIC, LIST, MAP, SCALAR, STRUCT, Node

Tree = dict[str, Any]  # path element -> Tree; "." -> {} when the node is a member
SELF = "."
# The kinds of path element: a field, a list item's key, a set's value, an index.
PREFIXES = ("f:", "k:", "v:", "i:")


# -- the sets -------------------------------------------------------------------------------------


def decode(fields_v1: Any) -> Tree:
    """A ``fieldsV1`` value as a set (``{}`` alone is a member leaf)."""
    if not isinstance(fields_v1, dict):
        return {}
    out: Tree = {}
    for key, value in fields_v1.items():
        if key == SELF:
            out[SELF] = {}
        elif isinstance(value, dict) and key[:2] in PREFIXES:
            out[key] = decode(value) if value else {SELF: {}}
    return out


def encode(tree: Tree) -> Tree:
    """A set as ``fieldsV1``, its keys in structured-merge-diff's order."""
    out: Tree = {}
    if SELF in tree and len(tree) > 1:
        out[SELF] = {}
    keys = [k for k in tree if k != SELF]
    if len(keys) > 1:
        keys.sort(key=_order)
    for key in keys:
        sub = tree[key]
        # A member leaf ({".": {}}) is written as {} (checked without building a set).
        out[key] = {} if len(sub) == 1 and SELF in sub else encode(sub)
    return out


def _order(key: str) -> tuple[int, str]:
    return "fkvi".find(key[0]), key


def union(a: Tree, b: Tree) -> Tree:
    out = dict(a)
    for key, sub in b.items():
        out[key] = union(out[key], sub) if key in out else sub
    return out


def difference(a: Tree, b: Tree) -> Tree:
    out: Tree = {}
    for key, sub in a.items():
        if key not in b:
            out[key] = sub
        elif key != SELF:
            rest = difference(sub, b[key])
            if rest:
                out[key] = rest
    return out


def intersection(a: Tree, b: Tree) -> Tree:
    out: Tree = {}
    for key, sub in a.items():
        if key in b:
            common = {} if key == SELF else intersection(sub, b[key])
            if common or key == SELF:
                out[key] = common
    return out


def removable(last: Tree, owned: Tree) -> Tree:
    """The members of ``last`` nobody owns in ``owned``, but never a node with an owned member
    below it (removing it would take that member along)."""
    out: Tree = {}
    for key, sub in last.items():
        if key == SELF:
            if not owned:
                out[SELF] = {}
            continue
        rest = removable(sub, owned.get(key, {}))
        if rest:
            out[key] = rest
    return out


def members(tree: Tree, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every member's path, in order."""
    if SELF in tree:
        yield prefix
    for key in sorted((k for k in tree if k != SELF), key=_order):
        yield from members(tree[key], (*prefix, key))


def path_string(path: tuple[str, ...]) -> str:
    """``.spec.containers[name="web"].image``, as structured-merge-diff prints a path."""
    out = []
    for element in path:
        kind, text = element[0], element[2:]
        if kind == "f":
            out.append("." + text)
        elif kind == "k":
            out.append(f"[{_key_text(text)}]")
        elif kind == "v":
            out.append(f"[={text}]")
        else:
            out.append(f"[{text}]")
    return "".join(out)


def _key_text(text: str) -> str:
    try:
        pairs = json.loads(text)
    except ValueError:
        return text
    if not isinstance(pairs, dict):
        return text
    return ",".join(f"{k}={json.dumps(v)}" for k, v in pairs.items())


# -- objects --------------------------------------------------------------------------------------


def _is_leaf(value: Any, node: Node) -> bool:
    if node.kind in (SCALAR, ATOMIC) or (node.kind == LIST and node.list_type == "atomic"):
        return True
    if node.kind == ANY and isinstance(value, list):
        return True
    return not value or not isinstance(value, dict | list)


def _item_key(item: Any, node: Node) -> str | None:
    """The path element of a list item (None for an item a keyed list cannot hold)."""
    if node.list_type == "set":
        return "v:" + json.dumps(item, separators=(",", ":"))
    if not isinstance(item, dict):
        return None
    key = {k: item.get(k, KEY_DEFAULTS.get(k)) for k in sorted(node.keys)}
    if any(v is None for v in key.values()):
        return None
    return "k:" + json.dumps(key, separators=(",", ":"))


def children(value: Any, node: Node) -> Iterator[tuple[str, Any, Node]]:
    """(path element, value, node) of each child of a composite value."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield "f:" + key, sub, node.child(key)
    elif isinstance(value, list) and node.elem is not None:
        for index, item in enumerate(value):
            element = _item_key(item, node) or f"i:{index}"
            yield element, item, node.elem


def _children_map(value: Any, node: Node) -> dict[str, tuple[Any, Node]]:
    return {element: (sub, child) for element, sub, child in children(value, node)}


def field_set(value: Any, node: Node) -> Tree:
    """The fields an applied configuration names: its leaves and its list items."""
    out: Tree = {}
    for element, sub, child in children(value, node):
        item = node.kind == LIST
        if _is_leaf(sub, child):
            out[element] = {SELF: {}}
        else:
            inner = field_set(sub, child)
            out[element] = {SELF: {}, **inner} if item else inner
    return out


def _all(value: Any, node: Node, member: bool) -> Tree:
    """Every path of a value that appeared or went away (its own path too when ``member``)."""
    if _is_leaf(value, node):
        return {SELF: {}}
    out: Tree = {SELF: {}} if member else {}
    in_list = node.kind == LIST
    if isinstance(value, dict):  # ``children`` inlined for objects: the common case, and hot
        for key, sub in value.items():
            child = node.child(key)
            out["f:" + key] = _all(sub, child, in_list or child.kind != STRUCT)
        return out
    for element, sub, child in children(value, node):
        out[element] = _all(sub, child, in_list or child.kind != STRUCT)
    return out


@dataclass
class Comparison:
    added: Tree = field(default_factory=dict)
    modified: Tree = field(default_factory=dict)
    removed: Tree = field(default_factory=dict)

    def changed(self) -> Tree:
        return union(self.added, self.modified)


def compare(old: Any, new: Any, node: Node) -> Comparison:
    """What changed from ``old`` to ``new`` (only unequal subtrees are visited)."""
    c = Comparison()
    if old != new:
        _compare(old, new, node, c.added, c.modified, c.removed)
    return c


def _compare(old: Any, new: Any, node: Node, added: Tree, modified: Tree, removed: Tree) -> None:
    if _is_leaf(old, node) and _is_leaf(new, node):
        modified[SELF] = {}
        return
    before, after = _children_map(old, node), _children_map(new, node)
    for element, (sub, child) in after.items():
        member = node.kind == LIST or child.kind != STRUCT
        if element not in before:
            added[element] = _all(sub, child, member)
        elif before[element][0] != sub:
            a: Tree = {}
            m: Tree = {}
            r: Tree = {}
            _compare(before[element][0], sub, child, a, m, r)
            for tree, part in ((added, a), (modified, m), (removed, r)):
                if part:
                    tree[element] = part
    for element, (sub, child) in before.items():
        if element not in after:
            removed[element] = _all(sub, child, node.kind == LIST or child.kind != STRUCT)


def merge(live: Any, config: Any, node: Node) -> Any:
    """The live object with the applied configuration merged in (structured-merge-diff's)."""
    if _is_leaf(config, node) and not (isinstance(config, dict | list) and not config):
        return copy.deepcopy(config)
    if node.kind == LIST and node.list_type in ("map", "set") and isinstance(config, list):
        return _merge_list(live if isinstance(live, list) else [], config, node)
    if isinstance(config, dict) and node.kind in (STRUCT, MAP, ANY):
        out = dict(live) if isinstance(live, dict) else {}
        for key, sub in config.items():
            out[key] = merge(out.get(key), sub, node.child(key))
        return out
    return copy.deepcopy(config)


def _merge_list(live: list[Any], config: list[Any], node: Node) -> list[Any]:
    applied = {_item_key(item, node): item for item in config}
    out = []
    seen = set()
    for item in live:
        element = _item_key(item, node)
        if element in applied and element is not None:
            out.append(merge(item, applied[element], node.elem or node))
            seen.add(element)
        else:
            out.append(item)
    out.extend(copy.deepcopy(i) for i in config if _item_key(i, node) not in seen)
    return out


def remove(value: Any, tree: Tree, node: Node) -> Any:
    """``value`` without the members of ``tree`` (a copy where it changes)."""
    if not tree or not isinstance(value, dict | list):
        return value
    if isinstance(value, dict):
        out = dict(value)
        for key in value:
            sub = tree.get("f:" + key)
            if sub is None:
                continue
            if SELF in sub:
                del out[key]
            else:
                out[key] = remove(value[key], sub, node.child(key))
        return out
    kept = []
    for element, item, child in children(value, node):
        sub = tree.get(element)
        if sub is None:
            kept.append(item)
        elif SELF not in sub:
            kept.append(remove(item, sub, child))
    return kept
