"""The strategies of PersistentVolume, PersistentVolumeClaim and StorageClass: their v1 defaults,
the ``Pending`` status they start with, the protection finalizers kube-apiserver's
StorageObjectInUseProtection admission adds, and the DefaultStorageClass admission (a claim that
names no class gets the default one). Registered into ``strategies.STRATEGIES``. Pure: objects
in, objects out (the default class comes through ``Admission``).
"""

from __future__ import annotations

import datetime as dt

from common import meta
from common.resources import ResourceType
from common.storage import DELETE, IMMEDIATE, PENDING, RETAIN
from common.wellknown import PV_PROTECTION, PVC_PROTECTION
from control.registry.strategies import STRATEGIES, Admission, Obj, Strategy


def _add_finalizer(obj: Obj, finalizer: str) -> None:
    m = meta.meta(obj)
    finalizers = list(m.get("finalizers") or [])
    if finalizer not in finalizers:
        m["finalizers"] = [*finalizers, finalizer]


class PersistentVolumeStrategy(Strategy):
    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)
        obj["status"] = {"phase": PENDING, "lastPhaseTransitionTime": meta.timestamp(now)}
        _add_finalizer(obj, PV_PROTECTION)

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("persistentVolumeReclaimPolicy", RETAIN)
            spec.setdefault("volumeMode", "Filesystem")


class PersistentVolumeClaimStrategy(Strategy):
    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)
        obj["status"] = {"phase": PENDING}
        _add_finalizer(obj, PVC_PROTECTION)

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("volumeMode", "Filesystem")

    def admit(self, obj: Obj, admission: Admission) -> None:
        """DefaultStorageClass: a claim with no ``storageClassName`` at all (an empty one asks
        for no class) gets the default class, if the cluster has one."""
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("storageClassName") is not None:
            return
        if admission.default_storage_class is None:
            return
        name = admission.default_storage_class()
        if name:
            spec["storageClassName"] = name


class StorageClassStrategy(Strategy):
    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)

    def default(self, obj: Obj) -> None:
        obj.setdefault("reclaimPolicy", DELETE)
        obj.setdefault("volumeBindingMode", IMMEDIATE)


STRATEGIES[("", "persistentvolumes")] = PersistentVolumeStrategy()
STRATEGIES[("", "persistentvolumeclaims")] = PersistentVolumeClaimStrategy()
STRATEGIES[("storage.k8s.io", "storageclasses")] = StorageClassStrategy()
