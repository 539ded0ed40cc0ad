"""kube-apiserver's Priority admission plugin over plain values: a new pod gets
``spec.priority`` (and ``preemptionPolicy``) from its ``priorityClassName``, or from the global
default class (the lowest of several), or 0; an unknown class or a priority that disagrees with
the class is forbidden (403). The classes come from a lister (the watch cache); a named class
it has not seen yet is looked up afresh before a pod is refused. A PriorityClass may be the
global default only when no other is. Pure: the classes are handed in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from common import errors

Obj = Mapping[str, Any]
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
# scheduling.DefaultPriorityWhenNoDefaultClassExists
DEFAULT_PRIORITY = 0


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _forbidden(kind: str, name: str, message: str) -> errors.ForbiddenError:
    return errors.ForbiddenError(f'{kind} "{name}" is forbidden: {message}',
                                 details={"name": name, "kind": kind})  # fmt: skip


def default_class(classes: Iterable[Obj]) -> Obj | None:
    """The global default class: of several, the lowest value (getDefaultPriority)."""
    found: Obj | None = None
    for pc in classes:
        if pc.get("globalDefault") and (
            found is None or found.get("value", 0) > pc.get("value", 0)
        ):
            found = pc
    return found


def _named(classes: Iterable[Obj], wanted: str) -> Obj | None:
    return next((c for c in classes if _name(c) == wanted), None)


def admit_pod(
    pod: dict[str, Any],
    classes: Iterable[Obj],
    reread: Callable[[], Iterable[Obj]] | None = None,
) -> None:
    """Resolve the pod's priority from its class (a create, before validation). ``classes`` may
    lag (a lister's view, as kube's plugin reads); a named class missing from them is looked
    for again in ``reread()`` (the store's view) before the pod is refused."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    wanted = spec.get("priorityClassName")
    if not wanted:
        pc = default_class(classes)
        if pc is not None:
            spec["priorityClassName"] = _name(pc)
    else:
        pc = _named(classes, wanted)
        if pc is None and reread is not None:
            pc = _named(reread(), wanted)
        if pc is None:
            raise _forbidden("pods", _name(pod), f"no PriorityClass with name {wanted} was found")
    value = int(pc.get("value", 0)) if pc is not None else DEFAULT_PRIORITY
    policy = pc.get("preemptionPolicy") if pc is not None else PREEMPT_LOWER_PRIORITY
    given = spec.get("priority")
    if given is not None and given != value:
        raise _forbidden(
            "pods",
            _name(pod),
            (
                f"the integer value of priority ({given}) must not be provided in pod spec; "
                f"priority admission controller computed {value} from the given PriorityClass name"
            ),
        )
    spec["priority"] = value
    if policy is None:
        return
    given_policy = spec.get("preemptionPolicy")
    if given_policy is not None and given_policy != policy:
        raise _forbidden("pods", _name(pod), (
            f"the string value of PreemptionPolicy ({given_policy}) must not be provided in pod "
            f"spec; priority admission controller computed {policy} from the given PriorityClass "
            "name"))  # fmt: skip
    spec["preemptionPolicy"] = policy


def admit_class(pc: Obj, classes: Iterable[Obj]) -> None:
    """Only one class may be the global default (a create or update of ``pc``)."""
    if not pc.get("globalDefault"):
        return
    for other in classes:
        if other.get("globalDefault") and _name(other) != _name(pc):
            raise _forbidden("priorityclasses.scheduling.k8s.io", _name(pc),
                             f"PriorityClass {_name(other)} is already marked as default. "
                             "Only one default can exist")  # fmt: skip
