"""Which Services a pod event concerns, looked up in the Services cache as Kubernetes' endpoint
controllers do (GetPodServiceMemberships, GetServicesToUpdateOnPodChange): those of the pod's
namespace whose selector matches it, before or after the change. Reads only the caches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.informer import Indexer, key_of
from control.controllers.endpoint_pods import pod_endpoints_changed, selects, service_selector

NAMESPACE = "namespace"  # every shared informer has it


def memberships(services: Indexer, pod: Mapping[str, Any]) -> set[str]:
    """The keys of the Services whose selector matches the pod."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "")
    out = set()
    for svc in services.by_index(NAMESPACE, namespace):
        selector = service_selector(svc)
        if selector is not None and selects(selector, pod):
            out.add(key_of(svc))
    return out


def services_to_update(
    services: Indexer, old: Mapping[str, Any], new: Mapping[str, Any]
) -> set[str]:
    """The Services a pod update concerns: none for a resync or a change no endpoint shows;
    on a label change, those it joined or left (and, if its endpoint changed, all of them)."""
    if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get(
        "resourceVersion"
    ):
        return set()
    changed, labels_changed = pod_endpoints_changed(old, new)
    if not changed and not labels_changed:
        return set()
    current = memberships(services, new)
    if not labels_changed:
        return current
    before = memberships(services, old)
    return current | before if changed else current ^ before
