"""The probe scheduler's thread starts with the first probe, not with the node: a node whose pods
have no probes keeps no thread for them."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime
from typing import Any

from agent.probes import Prober
from agent.runtime import ContainerInfo


class Recorder:
    def record(self, *args: Any, **kwargs: Any) -> None:
        pass


def pod(container: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"uid": "u1", "name": "p", "namespace": "ns"},
            "spec": {"containers": [container]}}  # fmt: skip


def running(role: str, name: str, ip: str | None = None) -> ContainerInfo:
    return ContainerInfo(id=f"{role}-{name}", name=name, pod_uid="u1", pod_name="p",
                         pod_namespace="ns", container_name=name, attempt=0,
                         role=role, state="running", started_at=datetime.now(UTC),  # type: ignore[arg-type]
                         ip=ip)  # fmt: skip


def prober_threads(p: Prober) -> bool:
    return p._thread is not None and p._thread.is_alive()


def test_no_probe_no_thread_then_the_first_probe_starts_it() -> None:
    changed = threading.Event()
    p = Prober(None, Recorder(), lambda uid: changed.set())  # type: ignore[arg-type]
    p.start()
    try:
        plain = {"name": "app", "image": "x"}
        p.update(pod(plain), [running("sandbox", "POD", "127.0.0.1"), running("app", "app")])
        assert not prober_threads(p)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            probed = {**plain, "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}
            p.update(pod(probed), [running("sandbox", "POD", "127.0.0.1"), running("app", "app")])
            assert prober_threads(p)
            assert changed.wait(10)  # readiness went from unknown to Success: the pod is queued
        assert next(iter(p.view("u1").values())).ready
    finally:
        p.stop()
