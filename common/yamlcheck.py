"""Checks that make a mistyped manifest fail clearly before anything is sent: duplicate keys
(go-yaml's strict ``key "spec" already set in map``, where PyYAML would silently keep the last
one), a hint naming the typo behind a YAML syntax error, and fields a kind does not have at its
top level (kubectl's client-side ``ValidationError(Deployment): unknown field "template"``). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

# A list item typed without the space after the dash ("-name : web").
_DASH_TYPO = re.compile(r"^(\s*)-([^\s\-][^:]*?)\s*:\s*(.*)$")

# The top-level fields and the OpenAPI name of the kinds checked client-side.
_OBJECT = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
KINDS: dict[str, str] = {
    "Pod": "io.k8s.api.core.v1.Pod",
    "Node": "io.k8s.api.core.v1.Node",
    "Namespace": "io.k8s.api.core.v1.Namespace",
    "Deployment": "io.k8s.api.apps.v1.Deployment",
    "ReplicaSet": "io.k8s.api.apps.v1.ReplicaSet",
}
# Fields that belong in ``spec``: named in the hint when they are found at the top level.
_SPEC_FIELDS: dict[str, frozenset[str]] = {
    "Deployment": frozenset({"replicas", "selector", "template", "strategy", "minReadySeconds",
                             "revisionHistoryLimit", "paused", "progressDeadlineSeconds"}),
    "ReplicaSet": frozenset({"replicas", "selector", "template", "minReadySeconds"}),
    "Pod": frozenset({"containers", "initContainers", "restartPolicy", "nodeName", "volumes",
                      "nodeSelector", "tolerations", "hostname"}),
}  # fmt: skip


class DuplicateKeyError(yaml.YAMLError):
    """A mapping repeats a key; ``line`` is 1-based, as go-yaml counts."""

    def __init__(self, key: str, line: int) -> None:
        super().__init__(f'line {line}: key "{key}" already set in map')
        self.key = key
        self.line = line


def syntax_hint(text: str, line: int) -> str:
    """A hint for a YAML syntax error reported at ``line`` (1-based) when a typo near it is
    recognisable; ``""`` otherwise."""
    lines = text.splitlines()
    for n in range(min(line, len(lines)), max(line - 3, 0), -1):
        found = _DASH_TYPO.match(lines[n - 1])
        if found and not lines[n - 1].strip().startswith("---"):
            indent, key, value = found.groups()
            fixed = f"{indent}- {key.strip()}: {value.strip()}".rstrip()
            return (
                f'line {n}: "{lines[n - 1].strip()}" is not a list item: a "-" needs a space '
                f'after it and a key none before ":" (did you mean "{fixed.strip()}"?)'
            )
    for n in range(min(line, len(lines)), max(line - 2, 0), -1):
        if "\t" in lines[n - 1][: len(lines[n - 1]) - len(lines[n - 1].lstrip())]:
            return f"line {n}: YAML indentation must use spaces, not tabs"
    return ""


def unknown_top_level(obj: Mapping[str, Any]) -> tuple[str, list[str], str]:
    """For a kind checked here: its OpenAPI name, the fields it does not have at the top level,
    and a hint for those that belong in ``spec``; ``("", [], "")`` otherwise."""
    kind = str(obj.get("kind") or "")
    name = KINDS.get(kind)
    if name is None:
        return "", [], ""
    unknown = [str(k) for k in obj if k not in _OBJECT]
    misplaced = [f for f in unknown if f in _SPEC_FIELDS.get(kind, frozenset())]
    hint = "; ".join(f'"{f}" belongs under "spec" (did you mean "spec.{f}"?)' for f in misplaced)
    return name, unknown, hint
