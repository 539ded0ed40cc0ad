"""A StatefulSet's pods and claims by ordinal, as Kubernetes' stateful_set_utils.go: the name
``<set>-<ordinal>`` and its parse, the identity (hostname, subdomain, the pod-name and pod-index
labels), the PersistentVolumeClaim ``<claim>-<set>-<ordinal>`` of each claim template, the pod
built from a template at a revision, and the claims' owner references that the
``persistentVolumeClaimRetentionPolicy`` asks for. Pure: objects in, objects out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from common.statefulsets import DELETE, retention_policy, start_ordinal
from common.wellknown import (
    CONTROLLER_REVISION_HASH_LABEL,
    POD_INDEX_LABEL,
    STATEFULSET_POD_NAME_LABEL,
)
from control.controllers.ownership import controller_ref

Obj = dict[str, Any]
# statefulPodRegex: the parent's name, a dash, the ordinal.
_POD_NAME = re.compile(r"(.*)-([0-9]+)$")
MAX_INT32 = 2**31 - 1


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name") or "")


def parent_and_ordinal(pod: Mapping[str, Any]) -> tuple[str, int]:
    """getParentNameAndOrdinal: ("", -1) for a name that is not ``<parent>-<ordinal>``."""
    found = _POD_NAME.fullmatch(name_of(pod))
    if found is None:
        return "", -1
    ordinal = int(found.group(2))
    return found.group(1), ordinal if ordinal <= MAX_INT32 else -1


def ordinal_of(pod: Mapping[str, Any]) -> int:
    return parent_and_ordinal(pod)[1]


def is_member_of(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    return parent_and_ordinal(pod)[0] == name_of(sts)


def pod_name(sts: Mapping[str, Any], ordinal: int) -> str:
    return f"{name_of(sts)}-{ordinal}"


def in_ordinal_range(sts: Mapping[str, Any], ordinal: int) -> bool:
    """podInOrdinalRange: start <= ordinal < start + replicas."""
    start = start_ordinal(sts)
    return start <= ordinal < start + int(_spec(sts).get("replicas") or 0)


def claim_templates(sts: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in _spec(sts).get("volumeClaimTemplates") or [] if isinstance(c, Mapping)]


def claim_name(sts: Mapping[str, Any], template: Mapping[str, Any], ordinal: int) -> str:
    """getPersistentVolumeClaimName: ``<claim>-<set>-<ordinal>``."""
    return f"{name_of(template)}-{name_of(sts)}-{ordinal}"


def claims_for(sts: Mapping[str, Any], ordinal: int) -> list[Obj]:
    """getPersistentVolumeClaims: the claims the pod of ``ordinal`` mounts, each a copy of its
    template named for the ordinal, labelled with the template's and the selector's labels."""
    match = (_spec(sts).get("selector") or {}).get("matchLabels") or {}
    out = []
    for template in claim_templates(sts):
        m = copy.deepcopy(dict(_meta(template)))
        m["name"] = claim_name(sts, template, ordinal)
        m["namespace"] = _meta(sts).get("namespace")
        m["labels"] = {**(m.get("labels") or {}), **match}
        out.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": m,
                "spec": copy.deepcopy(dict(_spec(template))),
            }
        )
    return out


def _claim_volumes(sts: Mapping[str, Any], ordinal: int) -> list[Obj]:
    return [
        {"name": name_of(t), "persistentVolumeClaim": {"claimName": claim_name(sts, t, ordinal)}}
        for t in claim_templates(sts)
    ]


def identity_labels(sts: Mapping[str, Any], ordinal: int) -> dict[str, str]:
    return {STATEFULSET_POD_NAME_LABEL: pod_name(sts, ordinal), POD_INDEX_LABEL: str(ordinal)}


def identity_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """identityMatches: the name, namespace, hostname, subdomain and labels of its ordinal."""
    parent, ordinal = parent_and_ordinal(pod)
    if ordinal < 0 or parent != name_of(sts):
        return False
    labels = _meta(pod).get("labels") or {}
    spec = _spec(pod)
    return (
        _meta(pod).get("namespace") == _meta(sts).get("namespace")
        and spec.get("hostname") == name_of(pod)
        and (spec.get("subdomain") or "") == (_spec(sts).get("serviceName") or "")
        and all(labels.get(k) == v for k, v in identity_labels(sts, ordinal).items())
    )


def storage_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """storageMatches: a volume per claim template naming the ordinal's claim."""
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in _spec(pod).get("volumes") or [] if isinstance(v, Mapping)}
    for template in claim_templates(sts):
        source = (volumes.get(name_of(template)) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim_name(sts, template, ordinal):
            return False
    return True


def with_identity(sts: Mapping[str, Any], pod: Obj) -> Obj:
    """updateIdentity: a copy of ``pod`` with the identity of its ordinal."""
    out = copy.deepcopy(pod)
    ordinal = ordinal_of(out)
    m, spec = out.setdefault("metadata", {}), out.setdefault("spec", {})
    m["name"] = pod_name(sts, ordinal)
    m["namespace"] = _meta(sts).get("namespace")
    m["labels"] = {**(m.get("labels") or {}), **identity_labels(sts, ordinal)}
    spec["hostname"] = m["name"]
    service = _spec(sts).get("serviceName")
    if service:
        spec["subdomain"] = service
    else:
        spec.pop("subdomain", None)
    return out


def new_pod(sts: Mapping[str, Any], ordinal: int, revision: str) -> Obj:
    """newStatefulSetPod + setPodRevision: the template's pod for ``ordinal``, controlled by the
    set, with its identity, a volume per claim and the revision label."""
    template = _spec(sts).get("template") or {}
    tmeta = template.get("metadata") or {}
    m: Obj = {"name": pod_name(sts, ordinal), "namespace": _meta(sts).get("namespace")}
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            m[key] = copy.deepcopy(tmeta[key])
    m["ownerReferences"] = [controller_ref(sts)]
    spec = copy.deepcopy(dict(template.get("spec") or {}))
    claimed = _claim_volumes(sts, ordinal)
    taken = {v["name"] for v in claimed}
    spec["volumes"] = claimed + [v for v in spec.get("volumes") or [] if v.get("name") not in taken]
    if not spec["volumes"]:
        del spec["volumes"]
    pod = with_identity(sts, {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec})
    pod["metadata"]["labels"][CONTROLLER_REVISION_HASH_LABEL] = revision
    return pod


def revision_of_pod(pod: Mapping[str, Any]) -> str:
    """getPodRevision: the pod's ``controller-revision-hash`` label."""
    return str((_meta(pod).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) or "")


# -- claims and the retention policy ---------------------------------------------------------


def _ref(owner: Mapping[str, Any], api_version: str, kind: str) -> Obj:
    """setOwnerRef's reference: not a controller reference."""
    m = _meta(owner)
    return {"apiVersion": api_version, "kind": kind, "name": m.get("name"), "uid": m.get("uid")}


def _has_ref(claim: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    uid = _meta(owner).get("uid")
    return any(r.get("uid") == uid for r in _meta(claim).get("ownerReferences") or [])


def claim_owner_refs(
    claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any] | None
) -> list[Obj]:
    """updateClaimOwnerRefForSetAndPod: the claim's ownerReferences as the policy wants them:
    the set's when ``whenDeleted`` is Delete (and the pod is in range), the pod's when
    ``whenScaled`` is Delete and the pod was scaled away; neither otherwise."""
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = pod is not None and not in_ordinal_range(sts, ordinal_of(pod))
    want_set = when_deleted == DELETE and not (when_scaled == DELETE and scaled_down)
    want_pod = pod is not None and when_scaled == DELETE and scaled_down
    set_uid, pod_uid = _meta(sts).get("uid"), _meta(pod or {}).get("uid")
    refs = [
        dict(r)
        for r in _meta(claim).get("ownerReferences") or []
        if r.get("uid") not in (set_uid, pod_uid)
        or (r.get("uid") == set_uid and want_set)
        or (r.get("uid") == pod_uid and want_pod)
    ]
    if want_set and not _has_ref(claim, sts):
        refs.append(_ref(sts, "apps/v1", "StatefulSet"))
    if want_pod and pod is not None and not _has_ref(claim, pod):
        refs.append(_ref(pod, "v1", "Pod"))
    return refs


def claim_with_policy(
    claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any] | None
) -> Obj | None:
    """A copy of the claim with the owner references of the policy; None when it has them."""
    refs = claim_owner_refs(claim, sts, pod)
    if refs == list(_meta(claim).get("ownerReferences") or []):
        return None
    out = copy.deepcopy(dict(claim))
    if refs:
        out["metadata"]["ownerReferences"] = refs
    else:
        out["metadata"].pop("ownerReferences", None)
    return out
