"""The ConfigMaps and Secrets a pod uses (env, envFrom, volumes, projected sources), their data
as bytes, and the kubelet's not-found error (``configmap "x" not found``: its object caches name
the resource in the singular). Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Mapping
from typing import Any

CONFIGMAP = "configmap"
SECRET = "secret"

Ref = tuple[str, str]  # (kind, name) in the pod's namespace
# The object of that kind and name in the pod's namespace, or None when there is none.
Lookup = Callable[[str, str], Mapping[str, Any] | None]


class MissingObjectError(LookupError):
    """A ConfigMap or Secret a pod needs does not exist (the kubelet's NotFound)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f'{kind} "{name}" not found')
        self.kind = kind
        self.name = name


def fetch(lookup: Lookup, kind: str, name: str, optional: bool) -> Mapping[str, Any] | None:
    """The object, None when it is absent and ``optional``; raise ``MissingObjectError``."""
    obj = lookup(kind, name)
    if obj is None and not optional:
        raise MissingObjectError(kind, name)
    return obj


def data_of(kind: str, obj: Mapping[str, Any] | None) -> dict[str, bytes]:
    """Every key of the object as bytes: a ConfigMap's ``data`` and ``binaryData``, a Secret's
    ``data`` (base64 on the wire)."""
    if obj is None:
        return {}
    out: dict[str, bytes] = {}
    if kind == CONFIGMAP:
        out = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
        for k, v in (obj.get("binaryData") or {}).items():
            out[str(k)] = _b64(v)
        return out
    return {str(k): _b64(v) for k, v in (obj.get("data") or {}).items()}


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return str(value).encode()


def _containers(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    spec = pod.get("spec") or {}
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def _env_refs(container: Mapping[str, Any]) -> Iterator[Ref]:
    for source in container.get("envFrom") or []:
        if (source.get("configMapRef") or {}).get("name"):
            yield CONFIGMAP, str(source["configMapRef"]["name"])
        if (source.get("secretRef") or {}).get("name"):
            yield SECRET, str(source["secretRef"]["name"])
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        if (value_from.get("configMapKeyRef") or {}).get("name"):
            yield CONFIGMAP, str(value_from["configMapKeyRef"]["name"])
        if (value_from.get("secretKeyRef") or {}).get("name"):
            yield SECRET, str(value_from["secretKeyRef"]["name"])


def volume_refs(volume: Mapping[str, Any]) -> Iterator[Ref]:
    if (volume.get("configMap") or {}).get("name"):
        yield CONFIGMAP, str(volume["configMap"]["name"])
    if (volume.get("secret") or {}).get("secretName"):
        yield SECRET, str(volume["secret"]["secretName"])
    for source in (volume.get("projected") or {}).get("sources") or []:
        if (source.get("configMap") or {}).get("name"):
            yield CONFIGMAP, str(source["configMap"]["name"])
        if (source.get("secret") or {}).get("name"):
            yield SECRET, str(source["secret"]["name"])


def references(pod: Mapping[str, Any]) -> set[Ref]:
    """Every (kind, name) the pod's containers and volumes read."""
    refs: set[Ref] = set()
    for container in _containers(pod):
        refs.update(_env_refs(container))
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        refs.update(volume_refs(volume))
    return refs
