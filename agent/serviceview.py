"""Services and EndpointSlices of the whole cluster as the node sees them: two informers over the
API, shared by the agent's kube-proxy, its cluster DNS server and its containers' Service
variables (each resource watched once per agent), with the indexes they look things up by. The
informers are the shell; the index functions and the read methods are pure over the caches.
"""

from __future__ import annotations

import threading
from typing import Any

from agent.apis import ENDPOINT_SLICES, SERVICES
from common import wellknown
from common.client import ApiClient
from common.informer import ApiListerWatcher, Indexer, Informer, Obj, by_namespace


def cluster_ips(svc: Obj) -> list[str]:
    """The cluster IPs (``spec.clusterIPs``, else ``spec.clusterIP``); none if headless."""
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [str(ip) for ip in ips if ip and ip != "None"]


def by_cluster_ip(svc: Obj) -> list[str]:
    return cluster_ips(svc)


def service_key(slice_: Obj) -> str | None:
    """``namespace/service`` of the Service an EndpointSlice belongs to (its label)."""
    meta = slice_.get("metadata") or {}
    name = (meta.get("labels") or {}).get(wellknown.SLICE_SERVICE_LABEL)
    return f"{meta.get('namespace') or ''}/{name}" if name else None


def by_service(slice_: Obj) -> list[str]:
    key = service_key(slice_)
    return [key] if key else []


def by_address(slice_: Obj) -> list[str]:
    return sorted(
        {str(a) for ep in slice_.get("endpoints") or [] for a in ep.get("addresses") or []}
    )


SERVICE_INDEXES = {"clusterIP": by_cluster_ip, "namespace": by_namespace}
SLICE_INDEXES = {"service": by_service, "address": by_address}


class ServiceView:
    """Read access to the Services and EndpointSlices caches. Objects are shared: read only."""

    def __init__(self, services: Indexer | None = None, slices: Indexer | None = None) -> None:
        self.services = services if services is not None else Indexer(SERVICE_INDEXES)
        self.slices = slices if slices is not None else Indexer(SLICE_INDEXES)
        self.services.add_indexers(SERVICE_INDEXES)
        self.slices.add_indexers(SLICE_INDEXES)

    def service(self, namespace: str, name: str) -> Obj | None:
        return self.services.get(f"{namespace}/{name}")

    def has_namespace(self, namespace: str) -> bool:
        """Whether any Service lives in ``namespace`` (what the node knows of namespaces)."""
        return bool(self.services.by_index("namespace", namespace))

    def slices_of(self, namespace: str, name: str) -> list[Obj]:
        return self.slices.by_index("service", f"{namespace}/{name}")

    def services_by_ip(self, ip: str) -> list[Obj]:
        return self.services.by_index("clusterIP", ip)

    def slices_by_address(self, ip: str) -> list[Obj]:
        return self.slices.by_index("address", ip)


class ServiceInformers:
    """The two cluster-wide informers feeding a ``ServiceView`` (a node's credentials may list
    and watch both, as Kubernetes' Node authorizer and kube-proxy's role allow). One per agent:
    its users add their handlers and call ``start``; the first call starts the watches."""

    def __init__(self, client: ApiClient, *, resync: float = 0.0) -> None:
        self.services = Informer(
            ApiListerWatcher(client, SERVICES), SERVICE_INDEXES, resync=resync, name="services"
        )
        self.slices = Informer(
            ApiListerWatcher(client, ENDPOINT_SLICES),
            SLICE_INDEXES,
            resync=resync,
            name="endpointslices",
        )
        self.view = ServiceView(self.services.store, self.slices.store)
        self._start_lock = threading.Lock()
        self.started = False
        self._services_started = False

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        """Start both watches, once whoever asks first (the proxy, the DNS server)."""
        with self._start_lock:
            if self.started:
                return []
            self.started = True
            return [*self._start_services(stop), self.slices.start(stop)]

    def start_services(self, stop: threading.Event) -> list[threading.Thread]:
        """Start the Services watch alone (the containers' Service variables need no slices),
        once: the proxy and the DNS server find it running."""
        with self._start_lock:
            return self._start_services(stop)

    def _start_services(self, stop: threading.Event) -> list[threading.Thread]:
        if self._services_started:
            return []
        self._services_started = True
        return [self.services.start(stop)]

    def has_synced(self) -> bool:
        return self.services.has_synced() and self.slices.has_synced()


def endpoint_ready(endpoint: dict[str, Any]) -> bool:
    """EndpointConditions.ready: an unset value means ready (discovery.k8s.io/v1)."""
    ready = (endpoint.get("conditions") or {}).get("ready")
    return ready is None or bool(ready)
