"""The pods ``bench/scale.py`` creates: the saturation pods at a fixed rate from a few threads,
and the latency pods after them, as ClusterLoader2's density test (one at a time at a low fixed
rate into the full cluster, the pods its pod-startup SLO is measured on). Effectful (HTTP)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._hollow import IMAGE
from common import errors
from common.client import ApiClient
from common.resources import must

PODS = must("pods")
CREATORS = 32  # creates in flight at most
# ClusterLoader2's density test: at least 500 latency pods (one per node when there are more
# nodes), created by its "Uniform5qps" tuning set.
MIN_LATENCY_PODS = 500
LATENCY_RATE = 5.0
NODES_PER_NAMESPACE = 100  # CL2 density's NODES_PER_NAMESPACE


def default_namespaces(nodes: int) -> int:
    """How many namespaces CL2's density test spreads the pods of ``nodes`` nodes over: one per
    100 nodes (its NODES_PER_NAMESPACE), at least one."""
    return max(1, -(-nodes // NODES_PER_NAMESPACE))


def latency_pods(nodes: int) -> int:
    """How many latency pods CL2's density test creates for ``nodes`` nodes: max(500, nodes)."""
    return max(MIN_LATENCY_PODS, nodes)


def pod(name: str, namespace: str, group: str = "saturation") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"bench": "scale", "group": group}},
        "spec": {"containers": [{"name": "app", "image": IMAGE}],
                 "terminationGracePeriodSeconds": 1},
    }  # fmt: skip


class Creator:
    """Creates the pods at a fixed rate, from a few threads; a failed create is sent again."""

    def __init__(
        self, client: ApiClient, keys: list[str], per_second: float, group: str = "saturation"
    ) -> None:
        self.client = client
        self.keys = keys
        self.group = group
        self.interval = 1.0 / per_second
        self.created: dict[str, float] = {}  # when the create's answer came back
        self.sent: dict[str, float] = {}  # when the create that was stored was sent
        self.next = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        self.started = time.monotonic()
        with ThreadPoolExecutor(CREATORS, thread_name_prefix="bench-create") as pool:
            for _ in range(CREATORS):
                pool.submit(self._loop)

    def _loop(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                i = self.next
                self.next += 1
            if i >= len(self.keys):
                return
            delay = self.started + i * self.interval - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            self._create(self.keys[i])

    def _create(self, key: str) -> None:
        namespace, name = key.split("/")
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                self.client.create(PODS, pod(name, namespace, self.group), namespace)
            except errors.AlreadyExistsError:
                pass  # an earlier attempt that timed out was stored after all
            except errors.ApiError:
                self.stop.wait(0.5)
                continue
            with self.lock:
                self.created[key] = time.monotonic()
                self.sent[key] = sent
            return
