"""The agent's watch per ConfigMap/Secret against the real API server, with a node's credential:
a pod's objects are watched by name (what the Node authorizer allows), a change (or creation)
queues the pod, the last pod gone stops the watch."""

from __future__ import annotations

import threading

from agent.apis import CONFIGMAPS, PODS
from agent.configwatch import ConfigObjects
from common.client import ApiClient
from tests.integration.conftest import NODE_TOKEN, wait_for

POD = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "nodeName": "node-1",
        "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "settings"}}]}],
        "volumes": [{"name": "v", "configMap": {"name": "other"}}],
    },
}


def config_map(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_changes_queue_the_pods_that_use_them(admin: ApiClient, server: str) -> None:
    containers = [{"name": "c", "image": "i", **POD["spec"]["containers"][0]}]
    pod = admin.create(PODS, {**POD, "spec": {**POD["spec"], "containers": containers}}, "default")
    uid = pod["metadata"]["uid"]
    node = ApiClient(server, NODE_TOKEN)
    queued: list[str] = []
    lock = threading.Lock()

    def on_change(uid: str) -> None:
        with lock:
            queued.append(uid)

    objects = ConfigObjects(node, on_change)
    try:
        objects.register(pod)
        lookup = objects.lookup("default")
        assert lookup("configmap", "settings") is None  # absent: read before the watch lists
        assert wait_for(lambda: objects.synced(pod), 10)
        admin.create(CONFIGMAPS, config_map("settings", A="1"), "default")
        assert wait_for(lambda: uid in queued, 10)
        assert wait_for(lambda: (lookup("configmap", "settings") or {}).get("data") == {"A": "1"},
                        10)  # fmt: skip
        queued.clear()
        admin.create(CONFIGMAPS, config_map("unrelated", B="2"), "default")
        stored = admin.get(CONFIGMAPS, "settings", "default")
        admin.update(CONFIGMAPS, {**stored, "data": {"A": "2"}}, "default")
        assert wait_for(lambda: (lookup("configmap", "settings") or {}).get("data") == {"A": "2"},
                        10)  # fmt: skip
        assert set(queued) == {uid}
        objects.unregister(uid)
        assert objects._watches == {}
    finally:
        objects.stop()
        node.close()


def test_an_immutable_object_is_kept_and_no_longer_watched(admin: ApiClient, server: str) -> None:
    admin.create(CONFIGMAPS, {**config_map("settings", A="1"), "immutable": True}, "default")
    containers = [{"name": "c", "image": "i", **POD["spec"]["containers"][0]}]
    pod = admin.create(PODS, {**POD, "spec": {**POD["spec"], "containers": containers}}, "default")
    node = ApiClient(server, NODE_TOKEN)
    objects = ConfigObjects(node, lambda uid: None)
    try:
        objects.register(pod)
        watch = objects._watches[("default", "configmap", "settings")]
        assert wait_for(watch.stop.is_set, 10)
        assert objects.synced(pod)
        assert objects.lookup("default")("configmap", "settings")["data"] == {"A": "1"}
    finally:
        objects.stop()
        node.close()
