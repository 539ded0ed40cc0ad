"""YAML from untrusted input, with bounded work: libyaml's C parser (PyYAML's own when libyaml is
missing) read event by event, objects built without PyYAML's node graph (the costly step on large
documents), and three bounds checked as the events come: go-yaml's rule against alias bombs
("document contains excessive aliasing"), a nesting depth, and a node count. Values come out as
JSON has them, as sigs.k8s.io/yaml converts YAML for Kubernetes: timestamps stay strings, keys
become strings, NaN and infinities are refused. Duplicate keys are reported, not silently merged.
Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Deeper than any Kubernetes object; bounds the recursion of everything that walks the result.
MAX_DEPTH = 100
# Nodes of one document (scalars and collections, aliases expanded): a 3 MiB manifest of small
# nested mappings has ~500,000 and takes seconds of Python to build; real objects have thousands.
MAX_NODES = 100_000
# go-yaml's alias budget (decode.go): up to 400,000 decodes, 99% may come from aliases; from there
# to 4,000,000 the share falls to 10%. Checked once a document passes 100 alias decodes and 1,000
# decodes in all.
_RATIO_LOW, _RATIO_HIGH = 400_000, 4_000_000
EXCESSIVE_ALIASING = "document contains excessive aliasing"

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SCALARS: dict[str, str] = {
    "tag:yaml.org,2002:null": "construct_yaml_null",
    "tag:yaml.org,2002:bool": "construct_yaml_bool",
    "tag:yaml.org,2002:int": "construct_yaml_int",
    "tag:yaml.org,2002:float": "construct_yaml_float",
    "tag:yaml.org,2002:binary": "construct_yaml_binary",
}
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class LimitError(yaml.YAMLError):
    """A document over one of the bounds; ``str()`` is the go-yaml style problem."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Duplicate:
    """A key repeated in one mapping: its text and its 1-based line."""

    key: str
    line: int

    def __str__(self) -> str:
        return f'line {self.line}: key "{self.key}" already set in map'


def allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _RATIO_LOW:
        return 0.99
    if decodes >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)


def json_key(key: Any) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it in JSON."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        text = repr(key)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(key, int):
        return str(key)
    raise LimitError(f"unsupported map key of type {type(key).__name__}")


@dataclass
class _Frame:
    value: dict[str, Any] | list[Any]
    anchor: str | None
    start: int  # decodes before this collection began (its size, once it ends)
    line: int
    key: Any = None  # a mapping's pending key (the next scalar or collection is its value)
    has_key: bool = False
    key_line: int = 0
    merges: list[Any] = field(default_factory=list)
    depth: int = 1  # 1 + the depth of its deepest child collection


class _Builder:
    """One document's objects from its events, counting as go-yaml counts."""

    def __init__(self, loader: Any, max_depth: int, max_nodes: int) -> None:
        self.loader = loader
        self.max_depth, self.max_nodes = max_depth, max_nodes
        self.stack: list[_Frame] = []
        # name -> (object, decodes it stands for, its nesting depth)
        self.anchors: dict[str, tuple[Any, int, int]] = {}
        self.decodes = self.aliased = 0
        self.duplicates: list[Duplicate] = []
        self.root: Any = None

    def _count(self, n: int, aliased: bool) -> None:
        self.decodes += n
        if aliased:
            self.aliased += n
            if (
                self.aliased > 100
                and self.decodes > 1000
                and self.aliased / self.decodes > allowed_alias_ratio(self.decodes)
            ):
                raise LimitError(EXCESSIVE_ALIASING)
        if self.decodes > self.max_nodes:
            raise LimitError(f"document has more than {self.max_nodes} nodes")

    def _place(self, value: Any, line: int, depth: int = 0) -> None:
        """Put a finished value where it belongs: a list item, a key, a value, or the root."""
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.depth = max(top.depth, depth + 1)
        if isinstance(top.value, list):
            top.value.append(value)
        elif not top.has_key:
            if isinstance(value, dict | list):
                raise LimitError("unsupported map key of type " + type(value).__name__)
            top.key, top.has_key, top.key_line = value, True, line
        else:
            self._set(top, value)

    def _set(self, top: _Frame, value: Any) -> None:
        top.has_key = False
        if top.key is _MERGE_KEY:
            top.merges.append(value)
            return
        key = json_key(top.key)
        mapping = top.value
        assert isinstance(mapping, dict)
        if key in mapping:
            self.duplicates.append(Duplicate(key, top.key_line))
        mapping[key] = value

    def scalar(self, event: Any) -> None:
        self.decodes += 1
        if self.decodes > self.max_nodes:
            self._count(0, False)
        tag = event.tag
        if tag is None or tag == "!":
            if event.implicit[0] or event.style is None:
                tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            else:
                tag = _STR  # a quoted scalar without a tag is a string
        value = event.value if tag == _STR else self._scalar_value(tag, event)
        if event.anchor:
            self.anchors[event.anchor] = (value, 1, 0)
        top = self.stack[-1] if self.stack else None
        if value is _MERGE_KEY and not (top and isinstance(top.value, dict) and not top.has_key):
            value = event.value
        self._place(value, event.start_mark.line + 1)

    def _scalar_value(self, tag: str, event: Any) -> Any:
        if tag == _STR:
            return event.value
        if tag == _MERGE:
            return _MERGE_KEY
        if tag == "tag:yaml.org,2002:timestamp":
            return event.value  # go-yaml keeps a timestamp-looking scalar a string
        method = _SCALARS.get(tag)
        if method is None:
            raise yaml.constructor.ConstructorError(
                None, None, f"could not determine a constructor for the tag {tag!r}",
                event.start_mark,
            )  # fmt: skip
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
        value = getattr(self.loader, method)(node)
        if isinstance(value, float) and not math.isfinite(value):
            raise LimitError(f"the value {event.value} cannot be represented in JSON")
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value

    def start(self, event: Any, value: dict[str, Any] | list[Any]) -> None:
        self._count(1, False)
        if event.tag not in (None, "!", _MAP, _SEQ):
            raise yaml.constructor.ConstructorError(
                None, None, f"could not determine a constructor for the tag {event.tag!r}",
                event.start_mark,
            )  # fmt: skip
        if len(self.stack) >= self.max_depth:
            raise LimitError(f"exceeded max depth of {self.max_depth}")
        frame = _Frame(value, event.anchor, self.decodes - 1, event.start_mark.line + 1)
        if self.stack and isinstance(self.stack[-1].value, dict) and not self.stack[-1].has_key:
            raise LimitError("unsupported map key of type " + type(value).__name__)
        self.stack.append(frame)

    def end(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            _merge(frame)
        if frame.anchor:
            self.anchors[frame.anchor] = (frame.value, self.decodes - frame.start, frame.depth)
        self._place(frame.value, frame.line, frame.depth)

    def alias(self, event: Any) -> None:
        if event.anchor not in self.anchors:
            raise yaml.composer.ComposerError(
                None, None, f"found undefined alias {event.anchor!r}", event.start_mark
            )
        value, size, depth = self.anchors[event.anchor]
        self._count(size, True)
        if len(self.stack) + depth > self.max_depth:
            raise LimitError(f"exceeded max depth of {self.max_depth}")
        self._place(value, event.start_mark.line + 1, depth)


class _MergeKey:
    """The ``<<`` key of a mapping, merged when the mapping ends."""


_MERGE_KEY: Any = _MergeKey()


def _merge(frame: _Frame) -> None:
    """YAML merge keys: keys of the merged mappings that the mapping does not set itself."""
    mapping = frame.value
    assert isinstance(mapping, dict)
    merged: dict[str, Any] = {}
    for value in frame.merges:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, dict):
                raise LimitError("map merge requires map or sequence of maps as the value")
            for k, v in source.items():
                merged.setdefault(k, v)
    for k, v in merged.items():
        mapping.setdefault(k, v)


@dataclass
class Document:
    value: Any
    duplicates: list[Duplicate]


def iter_documents(
    text: str | bytes, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> Iterator[Document]:
    """Every document of a YAML stream (``None`` for an empty one), with its duplicate keys, one
    at a time: a caller sees the documents before a broken one.

    Raises ``yaml.YAMLError``: the parser's own errors (with their marks), ``LimitError`` for a
    document over a bound.
    """
    loader = _Loader(text)
    handlers: dict[type, Callable[[_Builder, Any], None]] = {
        yaml.ScalarEvent: _Builder.scalar,
        yaml.AliasEvent: _Builder.alias,
        yaml.MappingStartEvent: lambda b, e: b.start(e, {}),
        yaml.SequenceStartEvent: lambda b, e: b.start(e, []),
        yaml.MappingEndEvent: lambda b, e: b.end(),
        yaml.SequenceEndEvent: lambda b, e: b.end(),
    }
    try:
        builder: _Builder | None = None
        while loader.check_event():
            event = loader.get_event()
            handler = handlers.get(type(event))
            if handler is not None and builder is not None:
                handler(builder, event)
            elif isinstance(event, yaml.DocumentStartEvent):
                builder = _Builder(loader, max_depth, max_nodes)
            elif isinstance(event, yaml.DocumentEndEvent) and builder is not None:
                yield Document(builder.root, builder.duplicates)
                builder = None
    finally:
        loader.dispose()


def load_documents(text: str | bytes, **bounds: int) -> list[Document]:
    return list(iter_documents(text, **bounds))


def load(text: str | bytes, **bounds: int) -> Document:
    """The single document of ``text`` (an empty stream is ``None``)."""
    docs = load_documents(text, **bounds)
    if len(docs) > 1:
        raise yaml.composer.ComposerError(
            "expected a single document in the stream", None, "but found another document", None
        )
    return docs[0] if docs else Document(None, [])
