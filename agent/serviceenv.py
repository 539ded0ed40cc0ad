"""The Service variables the kubelet puts in every container (pkg/kubelet/envvars): for the
``kubernetes`` Service of ``default`` always, and for each Service of the pod's namespace unless
``enableServiceLinks`` is false, ``<NAME>_SERVICE_HOST``, ``<NAME>_SERVICE_PORT`` (and one per
named port) and the Docker link variables (``<NAME>_PORT``, ``<NAME>_PORT_<p>_<PROTO>[_PROTO|
_PORT|_ADDR]``). That is how ``load_incluster_config()`` finds the API. ``service_env`` is pure;
``ServiceEnv`` keeps a watch of every Service.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from agent.envvars import EnvError
from agent.serviceview import ServiceInformers
from common import onstop
from common.client import ApiClient
from common.informer import ApiListerWatcher, Informer
from common.resources import must

MASTER_NAMESPACE = "default"
MASTER_SERVICES = ("kubernetes",)
# How long a container start waits for the first list of Services before it gives up.
SYNC_WAIT_SECONDS = 5.0
NOT_SYNCED = "services have not yet been read at least once, cannot construct envvars"


def _ip_set(svc: Mapping[str, Any]) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def visible(
    services: Iterable[Mapping[str, Any]], namespace: str, links: bool
) -> list[Mapping[str, Any]]:
    """The kubelet's ``getServiceEnvVarMap``: the Services a pod of ``namespace`` sees, by name
    (its namespace's own winning over the master Service of the same name)."""
    by_name: dict[str, Mapping[str, Any]] = {}
    for svc in services:
        if not _ip_set(svc):
            continue
        meta = svc.get("metadata") or {}
        name, ns = str(meta.get("name")), str(meta.get("namespace"))
        if ns == MASTER_NAMESPACE and name in MASTER_SERVICES:
            by_name.setdefault(name, svc)
        elif ns == namespace and links:
            by_name[name] = svc
    return [by_name[name] for name in sorted(by_name)]


def _name(text: str) -> str:
    return text.replace("-", "_").upper()


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_env(services: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``envvars.FromServices``: the variables of each Service, in the kubelet's order."""
    env: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        if not _ip_set(svc) or not ports:
            continue
        ip, prefix = str(spec["clusterIP"]), _name(str(svc["metadata"]["name"]))
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{_name(str(port['name']))}"] = str(port.get("port"))
        for i, port in enumerate(ports):
            protocol = str(port.get("protocol") or "TCP")
            url = f"{protocol.lower()}://{_host_port(ip, int(port.get('port') or 0))}"
            if i == 0:
                env[f"{prefix}_PORT"] = url
            each = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
            env[each] = url
            env[f"{each}_PROTO"] = protocol.lower()
            env[f"{each}_PORT"] = str(port.get("port"))
            env[f"{each}_ADDR"] = ip
    return env


class ServiceEnv:
    """Every Service, watched from the first container start on; thread-safe. With the agent's
    ``ServiceInformers``, their Services watch is the one read (one watch per agent)."""

    def __init__(self, client: ApiClient, informers: ServiceInformers | None = None) -> None:
        self.informers = informers
        self.informer = (
            informers.services
            if informers is not None
            else Informer(ApiListerWatcher(client, must("services")), name="services")
        )
        self._stop = onstop.StopEvent()
        self._lock = threading.Lock()
        self._started = False

    def for_pod(self, pod: Mapping[str, Any]) -> dict[str, str]:
        """The Service variables of ``pod``'s containers; ``EnvError`` before the first list."""
        with self._lock:
            if not self._started:
                if self.informers is not None:
                    self.informers.start_services(self._stop)
                else:
                    self.informer.start(self._stop)
                self._started = True
        if not self.informer.wait_for_sync(SYNC_WAIT_SECONDS):
            raise EnvError(NOT_SYNCED)
        spec = pod.get("spec") or {}
        links = spec.get("enableServiceLinks") is not False
        namespace = str((pod.get("metadata") or {}).get("namespace") or "")
        return service_env(visible(self.informer.store.objects(), namespace, links))

    def stop(self) -> None:
        self._stop.set()
