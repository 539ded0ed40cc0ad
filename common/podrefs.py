"""The Secrets and ConfigMaps a pod references, as Kubernetes' podutil.VisitPodSecretNames and
VisitPodConfigmapNames find them: volumes (``secret``, ``configMap``, ``projected`` sources and
the volume plugins' ``secretRef``s), ``env[].valueFrom``, ``envFrom`` of every container (init and
ephemeral ones too) and ``imagePullSecrets``. The Node authorizer lets a node read exactly these;
the agent fetches them. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Obj = Mapping[str, Any]
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# Volume types whose ``secretRef`` (a LocalObjectReference) names a Secret.
SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos")


def _m(value: Any) -> Obj:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _containers(spec: Obj) -> Iterator[Obj]:
    for key in CONTAINER_LISTS:
        for c in _l(spec.get(key)):
            yield _m(c)


def _env_refs(spec: Obj, from_key: str, value_key: str) -> Iterator[str]:
    for c in _containers(spec):
        for source in _l(c.get("envFrom")):
            yield str(_m(_m(source).get(from_key)).get("name") or "")
        for env in _l(c.get("env")):
            yield str(_m(_m(_m(env).get("valueFrom")).get(value_key)).get("name") or "")


def _projected(volume: Obj, kind: str) -> Iterator[str]:
    for source in _l(_m(volume.get("projected")).get("sources")):
        yield str(_m(_m(source).get(kind)).get("name") or "")


def secret_names(pod: Obj) -> set[str]:
    """The names of the Secrets (in the pod's namespace) the pod uses."""
    spec = _m(pod.get("spec"))
    names = {str(_m(ref).get("name") or "") for ref in _l(spec.get("imagePullSecrets"))}
    names.update(_env_refs(spec, "secretRef", "secretKeyRef"))
    for volume in _l(spec.get("volumes")):
        v = _m(volume)
        names.add(str(_m(v.get("secret")).get("secretName") or ""))
        names.add(str(_m(v.get("azureFile")).get("secretName") or ""))
        names.add(str(_m(_m(v.get("csi")).get("nodePublishSecretRef")).get("name") or ""))
        for plugin in SECRET_REF_VOLUMES:
            names.add(str(_m(_m(v.get(plugin)).get("secretRef")).get("name") or ""))
        names.update(_projected(v, "secret"))
    names.discard("")
    return names


def config_map_names(pod: Obj) -> set[str]:
    """The names of the ConfigMaps (in the pod's namespace) the pod uses."""
    spec = _m(pod.get("spec"))
    names = set(_env_refs(spec, "configMapRef", "configMapKeyRef"))
    for volume in _l(spec.get("volumes")):
        v = _m(volume)
        names.add(str(_m(v.get("configMap")).get("name") or ""))
        names.update(_projected(v, "configMap"))
    names.discard("")
    return names


def references(pod: Obj, resource: str) -> set[str]:
    """``secret_names``, ``config_map_names`` or ``claim_names`` by resource plural (empty for
    others)."""
    if resource == "secrets":
        return secret_names(pod)
    if resource == "configmaps":
        return config_map_names(pod)
    if resource == "persistentvolumeclaims":
        return claim_names(pod)
    return set()


def claim_names(pod: Obj) -> set[str]:
    """The names of the PersistentVolumeClaims (in the pod's namespace) the pod's volumes use."""
    names = set()
    for volume in _l(_m(pod.get("spec")).get("volumes")):
        names.add(str(_m(_m(volume).get("persistentVolumeClaim")).get("claimName") or ""))
    names.discard("")
    return names
