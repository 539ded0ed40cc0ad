"""Pod Security admission, as kube-apiserver's PodSecurity plugin applies it, plus the cluster's
``--allow-privileged`` policy.

- Pods (create, and updates that change an image or the containers): the namespace's
  ``enforce`` level refuses with 403 ``pods "x" is forbidden: violates PodSecurity
  "baseline:latest": ...``; ``warn`` adds a ``Warning`` header ``would violate PodSecurity ...``;
  ``audit`` is logged (the API server keeps no audit log; Kubernetes would put the same text in
  the audit event's ``pod-security.kubernetes.io/audit-violations`` annotation).
- Pod templates of Deployments and ReplicaSets: warn and audit only, as Kubernetes does.
- Namespaces: invalid pod-security labels are refused (422); tightening ``enforce`` warns about
  the existing pods that would violate it.
- Before any of that, the ``--allow-privileged`` policy (a validation error, 422, as
  kube-apiserver words it) for pods and pod templates.
The namespace labels are read over the cluster defaults (kube-apiserver's PodSecurity
configuration ``defaults``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from common import errors
from common.resources import ResourceType
from control.registry import recorder
from control.store import Store
from control.validation import invalid_error
from control.validation.podsecurity import (
    AUDIT_VIOLATIONS,
    LEVELS,
    PRIVILEGED,
    LevelVersion,
    Policy,
    describe,
    evaluate,
    policy_from_labels,
)
from control.validation.security import cluster_policy_causes

log = logging.getLogger(__name__)

Obj = dict[str, Any]
TEMPLATE_KINDS = ("Deployment", "ReplicaSet")
# Existing pods checked when a namespace's enforce level tightens (Kubernetes checks 3000).
MAX_PODS_TO_CHECK = 3000


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _images(spec: Mapping[str, Any]) -> list[list[Any]]:
    return [
        [_dict(c).get("image") for c in spec.get(key) or []]
        for key in ("initContainers", "containers", "ephemeralContainers")
    ]


def significant_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """isSignificantPodUpdate: only a changed image or container list is evaluated again."""
    return _images(_dict(new.get("spec"))) != _images(_dict(old.get("spec")))


class PodSecurityAdmission:
    def __init__(self, defaults: Policy, allow_privileged: bool) -> None:
        self.defaults = defaults
        self.allow_privileged = allow_privileged

    def admit(
        self, store: Store, rt: ResourceType, obj: Obj, old: Obj | None, ns: Obj | None = None
    ) -> None:
        """Refuse (raise) or annotate (warnings, audit log) a create (``old`` None) or update;
        ``ns``: the object's Namespace when the caller has just read it (else it is read here)."""
        if rt.plural == "pods":
            if old is None or significant_update(obj, old):
                self._cluster_policy(rt, obj, "spec", _dict(obj.get("spec")))
                self._evaluate(store, rt, obj, _dict(obj.get("metadata")), obj.get("spec"), ns=ns)
        elif rt.plural == "namespaces":
            self._namespace(store, obj, old)
        elif rt.kind in TEMPLATE_KINDS:
            template = _dict(_dict(obj.get("spec")).get("template"))
            self._cluster_policy(rt, obj, "spec.template.spec", template.get("spec"))
            meta = _dict(template.get("metadata"))
            self._evaluate(store, rt, obj, meta, template.get("spec"), enforce=False, ns=ns)

    def policy(
        self, store: Store, namespace: str, ns: Obj | None = None
    ) -> tuple[Policy, list[errors.Cause]]:
        """The namespace's levels over the cluster defaults (``ns``: the Namespace, if read)."""
        if ns is None:
            try:
                ns = store.get("namespaces", "", namespace)
            except errors.NotFoundError:
                ns = {}
        return policy_from_labels(_labels(ns), self.defaults)

    def _cluster_policy(self, rt: ResourceType, obj: Obj, path: str, spec: Any) -> None:
        if self.allow_privileged:
            return
        causes = cluster_policy_causes(spec, path)
        if causes:
            raise invalid_error(rt.kind, str(_dict(obj.get("metadata")).get("name") or ""), causes)

    def _evaluate(
        self,
        store: Store,
        rt: ResourceType,
        obj: Obj,
        meta: Mapping[str, Any],
        spec: Any,
        enforce: bool = True,
        ns: Obj | None = None,
    ) -> None:
        m = _dict(obj.get("metadata"))
        namespace, name = str(m.get("namespace") or ""), str(m.get("name") or "")
        policy, label_errors = self.policy(store, namespace, ns)
        if not label_errors and policy.fully_privileged():
            return
        spec = _dict(spec)
        refused = evaluate(policy.enforce, meta, spec) if enforce else []
        audit = evaluate(policy.audit, meta, spec)
        if audit:  # logged whether or not the request is refused, as the audit event would be
            log.warning(
                "%s %s/%s: %s: would violate PodSecurity %s: %s",
                rt.plural, namespace, name, AUDIT_VIOLATIONS, f'"{policy.audit}"', describe(audit),
            )  # fmt: skip
        if refused:
            raise errors.ForbiddenError(
                f'pods "{name}" is forbidden: violates PodSecurity "{policy.enforce}": '
                + describe(refused),
                details={"name": name, "kind": "pods"},
            )
        warn = evaluate(policy.warn, meta, spec)
        if warn:
            recorder.add(f'would violate PodSecurity "{policy.warn}": {describe(warn)}')

    def _namespace(self, store: Store, ns: Obj, old: Obj | None) -> None:
        name = str(_dict(ns.get("metadata")).get("name") or "")
        new_policy, new_errors = policy_from_labels(_labels(ns), self.defaults)
        if old is None:
            if new_errors:
                raise invalid_error("Namespace", name, new_errors)
            return
        old_policy, old_errors = policy_from_labels(_labels(old), self.defaults)
        if new_errors and (not old_errors or new_errors != old_errors):
            raise invalid_error("Namespace", name, new_errors)
        new, before = new_policy.enforce, old_policy.enforce
        if new == before or new.level == PRIVILEGED:
            return
        if new.version == before.version and not _stricter(before.level, new.level):
            return
        for warning in self._existing_pods(store, name, new):
            recorder.add(warning)

    def _existing_pods(self, store: Store, namespace: str, enforce: LevelVersion) -> list[str]:
        """EvaluatePodsInNamespace: the existing pods the new enforce level would refuse."""
        pods, _ = store.list("pods", namespace)
        checked = pods[:MAX_PODS_TO_CHECK]
        found: dict[str, list[str]] = {}
        for pod in checked:
            reasons = ", ".join(r for r, _ in evaluate(enforce, pod.get("metadata") or {},
                                                       pod.get("spec") or {}))  # fmt: skip
            if reasons:
                found.setdefault(reasons, []).append(str(pod["metadata"]["name"]))
        out = []
        if len(checked) < len(pods):
            out.append(
                f"new PodSecurity enforce level only checked against the first {len(checked)} "
                f"of {len(pods)} existing pods"
            )
        if found:
            out.append(
                f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce '
                f'level "{enforce}"'
            )
        return out + sorted(_decorated(names, reasons) for reasons, names in found.items())


def _labels(obj: Obj) -> Mapping[str, Any]:
    return _dict(_dict(obj.get("metadata")).get("labels"))


def _stricter(before: str, after: str) -> bool:
    return LEVELS.index(after) > LEVELS.index(before)


def _decorated(names: list[str], reasons: str) -> str:
    first, others = min(names), len(names) - 1
    if others == 0:
        return f"{first}: {reasons}"
    return f"{first} (and {others} other pod{'s' if others > 1 else ''}): {reasons}"
