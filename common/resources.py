"""The resource types tinykube serves: kind, plural, group/version, scope and short names.

One table used by the API server (routing, discovery), the API client (paths) and tkctl (type
names on the command line). Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    kind: str
    plural: str
    singular: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # A Warning every request for this resource gets (kube-apiserver's deprecation notice).
    deprecation: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """Kubernetes' ``plural.group`` spelling used in messages (``deployments.apps``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_prefix(self) -> str:
        """The ``kind.group`` prefix kubectl prints (``pod/web``, ``deployment.apps/web``)."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    def path(
        self, namespace: str | None = None, name: str | None = None, sub: str | None = None
    ) -> str:
        """The REST path of this resource (a collection, an object or a subresource)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if sub:
                base += f"/{sub}"
        return base


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "Pod",
        "pods",
        "pod",
        "",
        "v1",
        True,
        ("po",),
        ("all",),
        (
            "status",
            "binding",
            "log",
            "exec",
            "attach",
            "portforward",
            "eviction",
            "ephemeralcontainers",
        ),
    ),
    ResourceType("Node", "nodes", "node", "", "v1", False, ("no",), (), ("status",)),
    ResourceType(
        "Namespace", "namespaces", "namespace", "", "v1", False, ("ns",), (), ("status", "finalize")
    ),
    ResourceType("Event", "events", "event", "", "v1", True, ("ev",)),
    ResourceType("Service", "services", "service", "", "v1", True, ("svc",), ("all",), ("status",)),
    ResourceType("ConfigMap", "configmaps", "configmap", "", "v1", True, ("cm",)),
    ResourceType("Secret", "secrets", "secret", "", "v1", True),
    ResourceType(
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        "",
        "v1",
        True,
        ("sa",),
        (),
        ("token",),
    ),
    ResourceType("Lease", "leases", "lease", "coordination.k8s.io", "v1", True),
    ResourceType(
        "PersistentVolume",
        "persistentvolumes",
        "persistentvolume",
        "",
        "v1",
        False,
        ("pv",),
        (),
        ("status",),
    ),
    ResourceType(
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "",
        "v1",
        True,
        ("pvc",),
        (),
        ("status",),
    ),
    ResourceType(
        "StorageClass", "storageclasses", "storageclass", "storage.k8s.io", "v1", False, ("sc",)
    ),
    ResourceType(
        "Deployment",
        "deployments",
        "deployment",
        "apps",
        "v1",
        True,
        ("deploy",),
        ("all",),
        ("status", "scale"),
    ),
    ResourceType(
        "ReplicaSet",
        "replicasets",
        "replicaset",
        "apps",
        "v1",
        True,
        ("rs",),
        ("all",),
        ("status", "scale"),
    ),
    ResourceType(
        "Endpoints",
        "endpoints",
        "endpoints",
        "",
        "v1",
        True,
        ("ep",),
        deprecation="v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
    ),
    ResourceType(
        "EndpointSlice", "endpointslices", "endpointslice", "discovery.k8s.io", "v1", True
    ),
    ResourceType(
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "policy",
        "v1",
        True,
        ("pdb",),
        (),
        ("status",),
    ),
    ResourceType(
        "ControllerRevision", "controllerrevisions", "controllerrevision", "apps", "v1", True
    ),
    ResourceType(
        "StatefulSet",
        "statefulsets",
        "statefulset",
        "apps",
        "v1",
        True,
        ("sts",),
        ("all",),
        ("status", "scale"),
    ),
    ResourceType("Job", "jobs", "job", "batch", "v1", True, (), ("all",), ("status",)),
    ResourceType(
        "CronJob", "cronjobs", "cronjob", "batch", "v1", True, ("cj",), ("all",), ("status",)
    ),
    ResourceType(
        "DaemonSet",
        "daemonsets",
        "daemonset",
        "apps",
        "v1",
        True,
        ("ds",),
        ("all",),
        ("status",),
    ),
)

_BY_NAME: dict[str, ResourceType] = {}
for _rt in RESOURCES:
    for _n in (
        _rt.plural,
        _rt.singular,
        _rt.kind.lower(),
        *_rt.short_names,
        f"{_rt.plural}.{_rt.group}" if _rt.group else _rt.plural,
        f"{_rt.singular}.{_rt.group}" if _rt.group else _rt.singular,
    ):
        _BY_NAME.setdefault(_n, _rt)


def lookup(name: str) -> ResourceType | None:
    """Find a resource type by plural, singular, kind or short name, case-insensitively."""
    return _BY_NAME.get(name.lower())


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    """The resource type of a manifest's ``apiVersion`` and ``kind``, if tinykube serves it."""
    for rt in RESOURCES:
        if rt.kind == kind and rt.api_version == api_version:
            return rt
    return None


def by_plural(group: str, version: str, plural: str) -> ResourceType | None:
    for rt in RESOURCES:
        if rt.plural == plural and rt.group == group and rt.version == version:
            return rt
    return None


def must(name: str) -> ResourceType:
    """A resource type tinykube is known to serve (a programming error if it is not)."""
    rt = lookup(name)
    if rt is None:
        raise KeyError(name)
    return rt
