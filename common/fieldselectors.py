"""Field selectors (``fieldSelector=spec.nodeName=node-1,status.phase!=Failed``).

The grammar and messages of k8s.io/apimachinery/pkg/fields, the per-kind field labels of
pkg/apis/core/v1/conversion.go, and the functions that compute an object's selectable fields
(``pod_fields`` for pods, ``event_fields`` for events, ...). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from common import errors

# The field labels each kind accepts, as the real API server registers them.
POD_FIELD_LABELS = frozenset(
    {
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    }
)
EVENT_FIELD_LABELS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        "metadata.namespace",
        "metadata.name",
    }
)
NODE_FIELD_LABELS = frozenset({"metadata.name", "spec.unschedulable"})
NAMESPACE_FIELD_LABELS = frozenset({"metadata.name", "status.phase"})
GENERIC_FIELD_LABELS = frozenset({"metadata.name", "metadata.namespace"})
# Kubernetes 1.31 added spec.clusterIP and spec.type (used by kube-proxy and DNS servers).
SERVICE_FIELD_LABELS = frozenset({"metadata.name", "metadata.namespace", "spec.clusterIP",
                                  "spec.type"})  # fmt: skip
SECRET_FIELD_LABELS = GENERIC_FIELD_LABELS | {"type"}
JOB_FIELD_LABELS = GENERIC_FIELD_LABELS | {"status.successful"}

FIELD_LABELS: dict[str, frozenset[str]] = {
    "Pod": POD_FIELD_LABELS,
    "Event": EVENT_FIELD_LABELS,
    "Node": NODE_FIELD_LABELS,
    "Namespace": NAMESPACE_FIELD_LABELS,
    "Service": SERVICE_FIELD_LABELS,
    "Secret": SECRET_FIELD_LABELS,
    "Job": JOB_FIELD_LABELS,
}
# Kinds with their own conversion function answer "field label not supported: x"; the others
# get the apimachinery default message.
_CORE_KINDS = frozenset(
    {"Pod", "Event", "Node", "Namespace", "ReplicationController", "Secret", "Service", "Job"}
)
# Old v1 clients send spec.host for spec.nodeName.
_ALIASES = {"Pod": {"spec.host": "spec.nodeName"}}

_OPERATORS = ("!=", "==", "=")


@dataclass(frozen=True)
class FieldTerm:
    field: str
    operator: str  # "=" or "!="
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return have == self.value if self.operator == "=" else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """An AND of ``field=value`` / ``field!=value`` terms; no terms selects everything."""

    terms: tuple[FieldTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    def requirement(self, field: str) -> str | None:
        """The value an equality term demands of ``field`` (lets a store use an index)."""
        for t in self.terms:
            if t.field == field and t.operator == "=":
                return t.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape(value: str) -> str:
    """Kubernetes' UnescapeValue: backslash escapes only ``\\\\``, ``\\,`` and ``\\=``."""
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise errors.BadRequestError(
                    f"invalid field selector: invalid escape sequence: \\{ch}"
                )
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # Go prints the rune with %v: its code point.
            raise errors.BadRequestError(
                f"invalid field selector: unescaped character in value: {ord(ch)}"
            )
        else:
            out.append(ch)
    if escaped:
        raise errors.BadRequestError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped with a backslash."""
    parts: list[str] = []
    start, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The first unescaped operator splits a term into (field, operator, value)."""
    escaped = False
    for i, ch in enumerate(term):
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unsupported(kind: str, label: str) -> errors.BadRequestError:
    if kind in _CORE_KINDS:
        return errors.BadRequestError(f"field label not supported: {label}")
    return errors.BadRequestError(
        f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def parse_field_selector(text: str, allowed: Collection[str], kind: str) -> FieldSelector:
    """Parse a field selector for ``kind``, accepting only the ``allowed`` field labels.

    Raises errors.BadRequestError with Kubernetes' messages (``field label not supported: x``).
    """
    terms: list[FieldTerm] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise errors.BadRequestError(f"invalid selector: '{text}'; can't understand '{part}'")
        label, op, raw = split
        value = _unescape(raw)
        label = _ALIASES.get(kind, {}).get(label, label)
        if label not in allowed:
            raise _unsupported(kind, label)
        terms.append(FieldTerm(label, "!=" if op == "!=" else "=", value))
    return FieldSelector(tuple(terms))


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def generic_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.name`` and ``metadata.namespace`` (``""`` for cluster-scoped objects)."""
    return {
        "metadata.name": _text(_get(obj, "metadata", "name")),
        "metadata.namespace": _text(_get(obj, "metadata", "namespace")),
    }


def pod_fields(pod: Mapping[str, Any]) -> dict[str, str]:
    """A pod's selectable fields, as the pod registry's ToSelectableFields computes them."""
    pod_ips = _get(pod, "status", "podIPs") or []
    first_ip = pod_ips[0].get("ip") if pod_ips and isinstance(pod_ips[0], Mapping) else None
    # The kubelet always writes podIP and podIPs together; accept a writer that sets only podIP.
    first_ip = first_ip or _get(pod, "status", "podIP")
    return {
        **generic_fields(pod),
        "spec.nodeName": _text(_get(pod, "spec", "nodeName")),
        "spec.restartPolicy": _text(_get(pod, "spec", "restartPolicy")),
        "spec.schedulerName": _text(_get(pod, "spec", "schedulerName")),
        "spec.serviceAccountName": _text(_get(pod, "spec", "serviceAccountName")),
        "spec.hostNetwork": _text(bool(_get(pod, "spec", "hostNetwork"))),
        "status.phase": _text(_get(pod, "status", "phase")),
        "status.podIP": _text(first_ip),
        "status.nominatedNodeName": _text(_get(pod, "status", "nominatedNodeName")),
    }


def event_fields(ev: Mapping[str, Any]) -> dict[str, str]:
    """An event's selectable fields (``source`` falls back to ``reportingComponent``)."""
    involved = {
        f"involvedObject.{name}": _text(_get(ev, "involvedObject", name))
        for name in (
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        )
    }
    reporting = _text(ev.get("reportingComponent"))
    return {
        **generic_fields(ev),
        **involved,
        "reason": _text(ev.get("reason")),
        "reportingComponent": reporting,
        "source": _text(_get(ev, "source", "component")) or reporting,
        "type": _text(ev.get("type")),
    }


def node_fields(node: Mapping[str, Any]) -> dict[str, str]:
    return {
        **generic_fields(node),
        "spec.unschedulable": _text(bool(_get(node, "spec", "unschedulable"))),
    }


def namespace_fields(ns: Mapping[str, Any]) -> dict[str, str]:
    return {**generic_fields(ns), "status.phase": _text(_get(ns, "status", "phase"))}


def service_fields(svc: Mapping[str, Any]) -> dict[str, str]:
    return {
        **generic_fields(svc),
        "spec.clusterIP": _text(_get(svc, "spec", "clusterIP")),
        "spec.type": _text(_get(svc, "spec", "type")),
    }


def secret_fields(secret: Mapping[str, Any]) -> dict[str, str]:
    return {**generic_fields(secret), "type": _text(secret.get("type"))}


def job_fields(job: Mapping[str, Any]) -> dict[str, str]:
    return {
        **generic_fields(job),
        "status.successful": _text(_get(job, "status", "succeeded") or 0),
    }


_FIELD_FUNCS: dict[str, Callable[[Mapping[str, Any]], dict[str, str]]] = {
    "Pod": pod_fields,
    "Event": event_fields,
    "Node": node_fields,
    "Namespace": namespace_fields,
    "Service": service_fields,
    "Secret": secret_fields,
    "Job": job_fields,
}


def object_fields(kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The selectable fields of an object of any kind."""
    return _FIELD_FUNCS.get(kind, generic_fields)(obj)


def field_labels(kind: str) -> frozenset[str]:
    """The field labels ``kind`` accepts in a field selector."""
    return FIELD_LABELS.get(kind, GENERIC_FIELD_LABELS)
