"""The ConfigMaps and Secrets this node's pods use, one watch per object as the kubelet's
watch-based manager (``fieldSelector=metadata.name=<name>``, what the Node authorizer allows),
from the first pod using it to the last, or until it is immutable. A change queues every pod
using it, so its files are rewritten and its waiting containers start at once; until a watch
has listed, a lookup reads the object with a GET. Effectful (API watches, threads).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from agent import claims, configrefs
from agent.apis import CONFIGMAPS, PVCS, PVS, SECRETS
from agent.configrefs import Lookup
from common import errors, onstop
from common.client import ApiClient
from common.informer import ApiListerWatcher, Handler, Informer

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (namespace, kind, name)
RESOURCES = {configrefs.CONFIGMAP: CONFIGMAPS, configrefs.SECRET: SECRETS}
# Read with a GET at each sync, never watched: the Node authorizer lets a node only get them.
READ_ONLY = {claims.PVC: PVCS, claims.PV: PVS}


class _Watch:
    def __init__(self, client: ApiClient, key: Key, on_change: Callable[[Key], None]) -> None:
        namespace, kind, name = key
        source = ApiListerWatcher(
            client, RESOURCES[kind], namespace, field_selector=f"metadata.name={name}"
        )
        self.informer = Informer(source, name=f"{kind} {namespace}/{name}")
        self.stop = onstop.StopEvent()  # cuts the watch itself: no waiter thread per object

        def seen(obj: Mapping[str, Any]) -> None:
            on_change(key)
            if obj.get("immutable") is True:
                self.stop.set()  # it cannot change: keep it, stop watching (as the kubelet)

        changed = Handler(
            on_add=seen,
            on_update=lambda _o, new: seen(new),
            on_delete=lambda _o: on_change(key),
        )
        self.informer.add_handler(changed)
        self.informer.start(self.stop)


class ConfigObjects:
    """Watches of the objects pods refer to, reference-counted by pod uid; thread-safe."""

    def __init__(self, client: ApiClient, on_change: Callable[[str], None]) -> None:
        self.client = client
        self.on_change = on_change  # called with the uid of each pod to sync again
        self._lock = threading.Lock()
        self._watches: dict[Key, _Watch] = {}
        self._refs: dict[str, set[Key]] = {}  # pod uid -> the objects it uses

    def register(self, pod: Mapping[str, Any]) -> None:
        """Watch what ``pod`` uses now (and stop watching what it no longer uses)."""
        meta = pod["metadata"]
        namespace, uid = str(meta.get("namespace") or ""), str(meta["uid"])
        keys = {(namespace, kind, name) for kind, name in configrefs.references(pod)}
        with self._lock:
            old = self._refs.get(uid, set())
            if keys == old:
                return
            self._refs[uid] = keys
            for key in keys - old:
                if key not in self._watches:
                    self._watches[key] = _Watch(self.client, key, self._changed)
            self._release(old - keys)

    def unregister(self, uid: str) -> None:
        with self._lock:
            self._release(self._refs.pop(uid, set()))

    def _release(self, keys: set[Key]) -> None:
        in_use = set().union(*self._refs.values()) if self._refs else set()
        for key in keys - in_use:
            watch = self._watches.pop(key, None)
            if watch is not None:
                watch.stop.set()

    def _changed(self, key: Key) -> None:
        with self._lock:
            uids = [uid for uid, keys in self._refs.items() if key in keys]
        for uid in uids:
            self.on_change(uid)

    def synced(self, pod: Mapping[str, Any]) -> bool:
        """Whether every object ``pod`` uses is watched (its changes will be seen at once)."""
        with self._lock:
            keys = self._refs.get(str(pod["metadata"]["uid"]), set())
            return all(k in self._watches and self._watches[k].informer.has_synced() for k in keys)

    def lookup(self, namespace: str) -> Lookup:
        """Objects of ``namespace`` from their watch's cache, or read when not listed yet."""

        def get(kind: str, name: str) -> Mapping[str, Any] | None:
            if kind in READ_ONLY:
                try:
                    return self.client.get(READ_ONLY[kind], name, namespace)
                except errors.NotFoundError:
                    return None
            with self._lock:
                watch = self._watches.get((namespace, kind, name))
            if watch is not None and watch.informer.has_synced():
                return watch.informer.store.get(f"{namespace}/{name}")
            try:
                return self.client.get(RESOURCES[kind], name, namespace)
            except errors.NotFoundError:
                return None

        return get

    def stop(self) -> None:
        with self._lock:
            for watch in self._watches.values():
                watch.stop.set()
            self._watches.clear()
            self._refs.clear()
