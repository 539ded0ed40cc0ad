"""The PersistentVolume controller, as kube-controller-manager's ``persistentvolume-binder``
with k3s's local-path provisioner beside it, and the ``pvc-protection`` and ``pv-protection``
controllers: ``sync_claim("ns/name")`` binds a claim to the volume that fits (or provisions one
on the node the scheduler selected), ``sync_volume(name)`` keeps a volume's phase and reclaims
it once its claim is gone; each also drops a protection finalizer once nothing uses the object.
Both read the shared informers; the decisions are ``pvbinder_plan``'s. Shell.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from common import errors, meta
from common.controller import Controller
from common.informer import Handler, key_of
from common.resources import must
from common.storage import BOUND, claim_class, claim_names, m
from common.wellknown import PVC_PROTECTION
from control import events
from control.controllers import pvbinder_plan as plan
from control.controllers import writes
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PVS = must("persistentvolumes")
PVCS = must("persistentvolumeclaims")
COMPONENT = "persistentvolume-controller"
Obj = dict[str, Any]


class PersistentVolumeController:
    name = "persistentvolume-binder"

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        self.registry = registry
        self.claims = informers.informer("persistentvolumeclaims")
        self.volumes = informers.informer("persistentvolumes")
        self.classes = informers.informer("storageclasses")
        self.nodes = informers.informer("nodes")
        self.pods = informers.informer("pods")
        self._waiting: set[str] = set()  # claims told they wait for a consumer (once each)
        self.claim_queue = Controller("persistentvolumeclaim", self.sync_claim,
                                      initial=self.claims.store.keys)  # fmt: skip
        self.volume_queue = Controller("persistentvolume", self.sync_volume,
                                       initial=self.volumes.store.keys)  # fmt: skip
        self.claims.add_handler(Handler(self._claim_changed, lambda _o, n: self._claim_changed(n),
                                        self._claim_changed))  # fmt: skip
        self.volumes.add_handler(Handler(self._volume_changed,
                                         lambda _o, n: self._volume_changed(n),
                                         self._volume_changed))  # fmt: skip
        self.pods.add_handler(Handler(on_update=lambda _o, n: self._pod_changed(n),
                                      on_delete=self._pod_changed))  # fmt: skip

    def run(self, stop: threading.Event) -> None:
        threads = self.claim_queue.start(stop) + self.volume_queue.start(stop)
        for t in threads:
            t.join()

    # -- events -------------------------------------------------------------------------------

    def _claim_changed(self, pvc: Obj) -> None:
        self.claim_queue.enqueue(pvc)
        name = m(pvc.get("spec")).get("volumeName")
        if name:
            self.volume_queue.queue.add(str(name))
        for pv in self.volumes.store.objects():
            if plan.ref_key(pv) == key_of(pvc):
                self.volume_queue.enqueue(pv)

    def _volume_changed(self, pv: Obj) -> None:
        self.volume_queue.enqueue(pv)
        if plan.ref_key(pv):
            self.claim_queue.queue.add(plan.ref_key(pv))
        else:  # a volume is free: claims waiting for one may bind it now
            for pvc in self.claims.store.objects():
                if not m(pvc.get("spec")).get("volumeName"):
                    self.claim_queue.enqueue(pvc)

    def _pod_changed(self, pod: Obj) -> None:
        """A pod that finished or went may let a claim being deleted go."""
        ns = str(m(pod.get("metadata")).get("namespace") or "")
        for name in claim_names(pod):
            self.claim_queue.queue.add(f"{ns}/{name}")

    # -- claims -------------------------------------------------------------------------------

    def sync_claim(self, key: str) -> None:
        pvc = self.claims.store.get(key)
        if pvc is None:
            return
        if m(pvc.get("metadata")).get("deletionTimestamp"):
            self._release_claim(pvc)
            return
        name = str(m(pvc.get("spec")).get("volumeName") or "")
        if name:
            self._sync_bound_claim(pvc, name)
        else:
            self._sync_unbound_claim(pvc)

    def _release_claim(self, pvc: Obj) -> None:
        ns = str(pvc["metadata"].get("namespace") or "")
        unprotected = plan.claim_unprotected(pvc, self.pods.store.by_index("namespace", ns))
        if unprotected is not None and writes.replace(self.registry, PVCS, unprotected):
            log.info("claim %s: no pod uses it, %s removed", key_of(pvc), PVC_PROTECTION)

    def _sync_bound_claim(self, pvc: Obj, name: str) -> None:
        pv = self.volumes.store.get(name)
        if pv is None:
            if m(pvc.get("status")).get("phase") == BOUND:
                writes.write_status(self.registry, PVCS, pvc, plan.claim_lost(pvc))
                self._event(pvc, "Warning", "ClaimLost", plan.LOST_MESSAGE)
            return
        ref = m(m(pv.get("spec")).get("claimRef"))
        if not ref or plan.prebound_to(pv, pvc):
            self._bind(pvc, pv)

    def _sync_unbound_claim(self, pvc: Obj) -> None:
        sc = self.classes.store.get(claim_class(pvc)) if claim_class(pvc) else None
        if plan.wants_node(pvc, sc):
            uid = str(pvc["metadata"].get("uid"))
            if uid not in self._waiting:
                self._waiting.add(uid)
                self._event(pvc, "Normal", "WaitForFirstConsumer", plan.WAITING)
            return
        selected = plan.selected_node(pvc)
        node = self.nodes.store.get(selected) if selected else None
        pv = plan.find_volume(pvc, self.volumes.store.objects(), node)
        if pv is not None:
            self._bind(pvc, pv)
            return
        if sc is not None and plan.provisioned_here(pvc, sc):
            self._provision(pvc, sc, node)

    def _bind(self, pvc: Obj, pv: Mapping[str, Any]) -> None:
        """Write the volume's half, then the claim's, then the claim's status (each write that
        loses to a change is retried when that change reaches the informer)."""
        by_controller = not m(pv.get("spec")).get("claimRef") or not m(
            m(pv.get("spec")).get("claimRef")
        ).get("uid")
        volume: Obj | None = plan.bound_volume(pv, pvc)
        if volume != pv:
            volume = writes.replace(self.registry, PVS, volume or {})
        if volume is None:
            return
        if m(volume.get("status")).get("phase") != BOUND:
            now = meta.timestamp(self.registry.clock())
            status = {**m(volume.get("status")), "phase": BOUND, "lastPhaseTransitionTime": now}
            volume = writes.write_status(self.registry, PVS, volume, status)
            if volume is None:
                return
        pv = volume
        claim = plan.bound_claim(pvc, pv, by_controller)
        if claim != pvc:
            written = writes.replace(self.registry, PVCS, claim)
            if written is None:
                return
            pvc = written
        if writes.write_status(self.registry, PVCS, pvc, plan.claim_status(pvc, pv)) is not None:
            log.info("claim %s: bound to %s", key_of(pvc), pv["metadata"]["name"])

    def _provision(self, pvc: Obj, sc: Obj, node: Obj | None) -> None:
        annotated = plan.claim_annotated(pvc, sc)
        if annotated is not None:
            writes.replace(self.registry, PVCS, annotated)
            return  # the update queues the claim again
        made = plan.provision(pvc, sc, node)
        if made.volume is None:
            self._event(pvc, "Warning", "ProvisioningFailed",
                        f"failed to provision volume with StorageClass \"{sc['metadata']['name']}\""
                        f": {made.error}")  # fmt: skip
            return
        name = made.volume["metadata"]["name"]
        try:
            self.registry.create(PVS, "", made.volume)
        except errors.AlreadyExistsError:
            return
        self._event(pvc, "Normal", "ProvisioningSucceeded",
                    f"Successfully provisioned volume {name}")  # fmt: skip

    # -- volumes ------------------------------------------------------------------------------

    def sync_volume(self, name: str) -> None:
        pv = self.volumes.store.get(name)
        if pv is None:
            return
        ref = plan.ref_key(pv)
        claim = self.claims.store.get(ref) if ref else None
        state = plan.volume_state(pv, claim)
        status = {**(pv.get("status") or {}), "phase": state.phase}
        if state.phase != m(pv.get("status")).get("phase"):
            status["lastPhaseTransitionTime"] = meta.timestamp(self.registry.clock())
        if state.message:
            status["message"] = state.message
        written = writes.write_status(self.registry, PVS, pv, status)
        if written is None:
            return
        if m(written.get("metadata")).get("deletionTimestamp"):
            unprotected = plan.volume_unprotected(written)
            if unprotected is not None:
                writes.replace(self.registry, PVS, unprotected)
        elif state.delete and writes.delete(self.registry, PVS, written):
            log.info("volume %s: released, deleted (reclaim policy Delete)", name)

    def _event(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        events.record(self.registry, {**obj, "kind": "PersistentVolumeClaim", "apiVersion": "v1"},
                      kind, reason, message, COMPONENT)  # fmt: skip
