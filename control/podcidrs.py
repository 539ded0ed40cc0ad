"""Pod CIDRs per node, as kube-controller-manager's ``--allocate-node-cidrs``: each node gets one
subnet of ``--cluster-cidr`` (a /24 by default) for its pods, so pods on different nodes have
addresses that never collide and can be routed to their node. The allocations live in one store
object (``kube-system/tinykube-pod-cidrs``), written with compare-and-set, so a subnet is handed
out once even when a join and the node IPAM loop race. ``pick`` is pure; ``PodCidrs`` reads and
writes the store.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading

from common import errors, meta
from control.store import Obj, Store

RESOURCE = "configmaps"
NAMESPACE = "kube-system"
NAME = "tinykube-pod-cidrs"
DEFAULT_MASK = 24


def pick(cluster_cidr: str, mask: int, taken: set[str]) -> str:
    """The first subnet of ``cluster_cidr`` of size ``/mask`` that is not ``taken``."""
    network = ipaddress.ip_network(cluster_cidr, strict=True)
    if mask < network.prefixlen:
        raise ValueError(f"--node-cidr-mask-size {mask} is larger than {cluster_cidr}")
    for subnet in network.subnets(new_prefix=mask):
        if str(subnet) not in taken:
            return str(subnet)
    raise errors.ServiceUnavailableError(f"no pod CIDR left in {cluster_cidr} (/{mask} each)")


class PodCidrs:
    def __init__(self, store: Store, cluster_cidr: str, mask: int = DEFAULT_MASK) -> None:
        pick(cluster_cidr, mask, set())  # fail at start on a bad flag, not at the first join
        self.store = store
        self.cluster_cidr = cluster_cidr
        self.mask = mask
        self._lock = threading.Lock()

    def _table(self) -> Obj:
        try:
            return self.store.get(RESOURCE, NAMESPACE, NAME)
        except errors.NotFoundError:
            obj: Obj = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": NAME,
                    "namespace": NAMESPACE,
                    "uid": meta.new_uid(),
                    "creationTimestamp": meta.timestamp(),
                },
                "data": {},
            }
            with contextlib.suppress(errors.AlreadyExistsError):
                return self.store.create(RESOURCE, obj)
            return self.store.get(RESOURCE, NAMESPACE, NAME)

    def allocated(self) -> dict[str, str]:
        return dict(self._table().get("data") or {})

    def allocate(self, node: str) -> str:
        """The node's pod CIDR, allocated on first use and the same ever after."""
        with self._lock:
            for _ in range(10):
                table = self._table()
                data = dict(table.get("data") or {})
                if node in data:
                    return str(data[node])
                data[node] = pick(self.cluster_cidr, self.mask, set(data.values()))
                rv = int(table["metadata"]["resourceVersion"])
                try:
                    self.store.update(RESOURCE, {**table, "data": data}, expected_rv=rv)
                    return str(data[node])
                except errors.ConflictError:
                    continue
        raise errors.ConflictError(f"could not allocate a pod CIDR for node {node}")
