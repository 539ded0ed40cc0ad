"""The containers' Service variables read the agent's one Services watch (the one its proxy and
DNS server read), started alone when they ask first; the proxy and DNS then start only the
EndpointSlices watch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from agent.serviceenv import ServiceEnv
from agent.serviceview import ServiceInformers


class Source:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.lists = 0

    def list_all(self, resource_version: str = "") -> tuple[list[dict[str, Any]], str]:
        self.lists += 1
        return list(self.items), "5"

    def watch(self, resource_version: str, stop: threading.Event) -> Iterator[dict[str, Any]]:
        stop.wait()
        yield from ()


KUBERNETES = {
    "metadata": {"name": "kubernetes", "namespace": "default", "resourceVersion": "1"},
    "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443}]},
}


def test_service_variables_share_the_agents_services_watch() -> None:
    informers = ServiceInformers(None)  # type: ignore[arg-type]
    services, slices = Source([KUBERNETES]), Source([])
    informers.services.source = services
    informers.slices.source = slices
    env = ServiceEnv(None, informers)  # type: ignore[arg-type]
    stop = threading.Event()
    try:
        pod = {"metadata": {"namespace": "team", "name": "p"}, "spec": {}}
        assert env.for_pod(pod)["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
        assert env.informer is informers.services
        assert slices.lists == 0  # the variables need no EndpointSlices
        started = informers.start(stop)  # the proxy or the DNS server, later
        assert [t.name for t in started] == ["endpointslices"]
        assert informers.slices.wait_for_sync(5)
        assert informers.start(stop) == []
        assert services.lists == 1  # one Services watch for the agent
    finally:
        stop.set()
        env.stop()
