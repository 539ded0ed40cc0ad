"""The ``eviction`` subresource of pods: ``POST pods/NAME/eviction`` with a policy/v1 Eviction,
as kube-apiserver's EvictionREST. Until PodDisruptionBudgets exist no budget can refuse it, so an
eviction is the graceful delete its ``deleteOptions`` ask for, answered with a Success Status
(201). Goes through the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common import errors
from common.resources import must

if TYPE_CHECKING:
    from control.registry.registry import Registry

Obj = dict[str, Any]
# The versions of Eviction kube-apiserver accepts on pods/eviction.
EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")


def evict(reg: Registry, namespace: str, name: str, body: Any) -> Obj:
    """Delete the pod as the Eviction's ``deleteOptions`` say; the Status to answer."""
    if not isinstance(body, dict):
        raise errors.BadRequestError(f"not a Eviction object: {type(body).__name__}")
    kind, version = body.get("kind"), body.get("apiVersion")
    if (kind or version) and (kind != "Eviction" or version not in EVICTION_VERSIONS):
        raise errors.BadRequestError(
            f'{kind or "Object"} in version "{version}" cannot be handled as a Eviction'
        )
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("name") != name:
        raise errors.BadRequestError("name in URL does not match name in Eviction object")
    options = body.get("deleteOptions")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise errors.BadRequestError("deleteOptions: expected an object")
    if options.get("dryRun"):
        raise errors.BadRequestError("dryRun is not supported by this server yet")
    reg.delete(must("pods"), namespace, name, dict(options))
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }
