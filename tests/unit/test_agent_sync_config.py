"""PodSyncer with volumes and ConfigMaps/Secrets: FailedMount holds the pod until the object
appears, a missing key is CreateContainerConfigError, env and binds reach the runtime."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from agent.events import EventRecorder
from agent.fake_runtime import FakeRuntime
from agent.podconfig import PodConfig
from agent.sync import PodSyncer
from agent.volumes import VolumeManager
from tests.unit.test_agent_sync import CLUSTER, NODE, Clock, FakeApi, apps, main_status, pod_of


class Objects:
    """The part of ConfigObjects the syncer uses, over a dict."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.registered: set[str] = set()

    def register(self, pod):
        self.registered.add(pod["metadata"]["uid"])

    def unregister(self, uid):
        self.registered.discard(uid)

    def synced(self, pod):
        return True

    def lookup(self, namespace):
        return lambda kind, name: self.items.get((kind, name))

    def stop(self):
        pass


@pytest.fixture
def env(tmp_path: Path):
    clock = Clock()
    api = FakeApi()
    runtime = FakeRuntime(("tinykube/web:1",), clock=clock)
    objects = Objects()
    config = PodConfig(VolumeManager(tmp_path), objects, host_ip="192.168.1.5",  # type: ignore[arg-type]
                       allocatable=lambda: {"cpu": "2", "memory": "4Gi"})  # fmt: skip
    syncer = PodSyncer(api, runtime, EventRecorder(api, NODE), node=NODE, cluster=CLUSTER,  # type: ignore[arg-type]
                       host_ip="192.168.1.5", clock=clock, config=config)  # fmt: skip
    return api, runtime, syncer, objects, tmp_path


def add_pod(api: FakeApi, container: dict[str, Any], volumes: list[dict[str, Any]] | None = None):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-web"},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "main", "image": "tinykube/web:1", **container}],
            "volumes": volumes or [],
        },
    }
    return api.put("pods", pod)


def test_missing_config_map_volume_holds_the_pod_until_it_appears(env) -> None:
    api, runtime, syncer, objects, tmp_path = env
    mount = {"volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}]}
    add_pod(api, mount, [{"name": "cfg", "configMap": {"name": "settings"}}])
    result = syncer.sync(pod_of(api))
    assert runtime.containers() == []
    assert result.requeue_after is not None
    assert ("FailedMount", 'MountVolume.SetUp failed for volume "cfg" : configmap "settings" '
            "not found") in api.events()  # fmt: skip
    assert main_status(api)["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert pod_of(api)["status"]["phase"] == "Pending"
    objects.items[("configmap", "settings")] = {"data": {"app.conf": "x=1"}}
    syncer.sync(pod_of(api))
    (app,) = apps(runtime, "running")
    (bind,) = runtime.specs[app.id].mounts
    assert bind.target == "/etc/app" and bind.read_only
    assert (Path(bind.source) / "app.conf").read_text() == "x=1"
    # An update reaches the file at the next sync; the container is not restarted.
    objects.items[("configmap", "settings")] = {"data": {"app.conf": "x=2"}}
    syncer.sync(pod_of(api))
    assert (Path(bind.source) / "app.conf").read_text() == "x=2"
    assert apps(runtime, "running") == [app]
    # Deleted: containers gone, the volumes with them.
    syncer.remove_pod_containers("uid-web", runtime.containers())
    assert not (tmp_path / "pods" / "uid-web").exists()
    assert "uid-web" not in objects.registered


def test_missing_key_is_create_container_config_error_until_it_appears(env) -> None:
    api, runtime, syncer, objects, _ = env
    ref = {"secretKeyRef": {"name": "creds", "key": "password"}}
    add_pod(api, {"env": [{"name": "PW", "valueFrom": ref}], "args": ["$(PW)"]})
    syncer.sync(pod_of(api))
    assert apps(runtime) == []
    assert main_status(api)["state"] == {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "creds" not found'}
    }
    objects.items[("secret", "creds")] = {"data": {}}
    syncer.sync(pod_of(api))
    assert main_status(api)["state"]["waiting"] == {
        "reason": "CreateContainerConfigError",
        "message": "couldn't find key password in Secret default/creds",
    }
    assert ("Failed", "Error: couldn't find key password in Secret default/creds") in api.events()
    objects.items[("secret", "creds")] = {"data": {"password": base64.b64encode(b"pw").decode()}}
    syncer.sync(pod_of(api))
    (app,) = apps(runtime, "running")
    spec = runtime.specs[app.id]
    assert spec.env == {"PW": "pw"} and spec.command == ["pw"]


def test_bad_sub_path_is_a_config_error(env) -> None:
    api, runtime, syncer, _, _ = env
    mount = {"volumeMounts": [{"name": "s", "mountPath": "/x", "subPathExpr": "$(NOPE)"}]}
    add_pod(api, mount, [{"name": "s", "emptyDir": {}}])
    syncer.sync(pod_of(api))
    assert apps(runtime) == []
    assert main_status(api)["state"]["waiting"] == {
        "reason": "CreateContainerConfigError",
        "message": "missing value for NOPE",
    }


def test_a_finished_pod_mounts_nothing(env) -> None:
    api, _, syncer, _, tmp_path = env
    pod = add_pod(api, {}, [{"name": "cfg", "configMap": {"name": "gone"}}])
    api.put("pods", {**pod, "status": {"phase": "Succeeded"}})
    syncer.sync(pod_of(api))
    assert not [e for e in api.events() if e[0] == "FailedMount"]
    assert not (tmp_path / "pods").exists()


def test_image_pull_secrets_become_the_pull_credentials(env) -> None:
    api, runtime, syncer, objects, _ = env
    config = {"auths": {"registry.example.com": {"username": "bot", "password": "pw"}}}
    objects.items[("secret", "registry")] = {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    image = "registry.example.com/team/app:1"
    runtime.allow_pull(image)
    pod = add_pod(api, {"image": image})
    pod["spec"]["imagePullSecrets"] = [{"name": "registry"}, {"name": "gone"}]
    api.put("pods", pod)
    syncer.sync(pod_of(api))
    assert runtime.pull_auth[image] == [
        {"serveraddress": "registry.example.com", "username": "bot", "password": "pw"}
    ]
    assert ("FailedToRetrieveImagePullSecret",
            "Unable to retrieve some image pull secrets (gone); attempting to pull the image may "
            "not succeed.") in api.events()  # fmt: skip


def test_the_termination_message_path_is_a_host_file_per_attempt(env) -> None:
    api, runtime, syncer, _, _ = env
    add_pod(api, {"terminationMessagePath": "/dev/termination-log"})
    syncer.sync(pod_of(api))
    (main,) = apps(runtime)
    (mount,) = [m for m in runtime.specs[main.id].mounts if m.target == "/dev/termination-log"]
    host = Path(mount.source)
    assert host.read_bytes() == b"" and host.stat().st_mode & 0o777 == 0o666
    assert host.parts[-2:] == ("main", "0") and not mount.read_only
