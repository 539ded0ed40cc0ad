"""The resource types the agent talks to, looked up once from ``common.resources``. Pure."""

from __future__ import annotations

from common.resources import ResourceType, lookup


def _resource(name: str) -> ResourceType:
    found = lookup(name)
    if found is None:
        raise LookupError(f"common.resources has no {name}")
    return found


PODS = _resource("pods")
NODES = _resource("nodes")
NAMESPACES = _resource("namespaces")
EVENTS = _resource("events")
LEASES = _resource("leases")
CONFIGMAPS = _resource("configmaps")
SECRETS = _resource("secrets")
SERVICES = _resource("services")
ENDPOINT_SLICES = _resource("endpointslices")
