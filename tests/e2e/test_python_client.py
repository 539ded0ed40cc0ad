"""The official kubernetes Python client (37) against the shared cluster, as a user's program
would call it: CRUD of every kind served, watch with resource versions and bookmarks, exec,
port-forward and logs of a pod, the three patch types, dry run and ``VersionApi``."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream

from tests.e2e.conftest import Cluster, wait_for

# kubernetes.stream returns a preloaded exec's output without closing its WebSocket: the garbage
# collector closes the socket later, in whichever test runs then.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <ssl.SSLSocket:pytest.PytestUnraisableExceptionWarning"
)
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(cluster.kubeconfig)) as api_client:
        yield api_client


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def ns(core: client.CoreV1Api) -> Iterator[str]:
    made = core.create_namespace({"metadata": {"generateName": "pyclient-"}})
    name = str(made.metadata.name)
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="module")
def web(core: client.CoreV1Api, ns: str) -> str:
    """A running web pod of the test namespace: its name."""
    pod = {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]},
    }
    core.create_namespaced_pod(ns, pod)

    def running() -> bool:
        return core.read_namespaced_pod_status("web", ns).status.phase == "Running"

    wait_for("the web pod to run", running, timeout=90)
    return "web"


def test_version(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert info.git_version == "v1.35.0-tinykube"
    assert (info.major, info.minor) == ("1", "35")


def test_namespaces(core: client.CoreV1Api, ns: str) -> None:
    read = core.read_namespace(ns)
    assert read.metadata.labels == {"kubernetes.io/metadata.name": ns}
    assert read.status.phase == "Active"
    listed = core.list_namespace(label_selector=f"kubernetes.io/metadata.name={ns}")
    assert [n.metadata.name for n in listed.items] == [ns]
    patched = core.patch_namespace(ns, {"metadata": {"labels": {"team": "a"}}})
    assert patched.metadata.labels["team"] == "a"


def test_nodes_read(core: client.CoreV1Api) -> None:
    nodes = core.list_node()
    assert len(nodes.items) == 2
    node = core.read_node(nodes.items[0].metadata.name)
    ready = [c for c in node.status.conditions if c.type == "Ready"]
    assert ready[0].status == "True"
    assert node.status.node_info.kubelet_version == "v1.35.0-tinykube"


def test_pod_logs_exec_and_port_forward(core: client.CoreV1Api, ns: str, web: str) -> None:
    pod = core.read_namespaced_pod(web, ns)
    assert pod.status.container_statuses[0].ready is True
    log = core.read_namespaced_pod_log(web, ns, container="web")
    assert "web: serving http on port 80 as web" in log
    out = stream(core.connect_get_namespaced_pod_exec, web, ns, command=["echo", "hi"],
                 stdout=True, stderr=True, stdin=False, tty=False)  # fmt: skip
    assert out == "hi\n"
    command = ["sh", "-c", "read x; echo got $x; echo oops >&2; exit 3"]
    session = stream(core.connect_get_namespaced_pod_exec, web, ns, command=command,
                     stdout=True, stderr=True, stdin=True, tty=False,
                     _preload_content=False)  # fmt: skip
    session.write_stdin("ok\n")
    session.run_forever(timeout=30)
    assert (session.read_stdout(), session.read_stderr()) == ("got ok\n", "oops\n")
    assert session.returncode == 3
    session.close()
    forward = portforward(core.connect_get_namespaced_pod_portforward, web, ns, ports="80")
    sock = forward.socket(80)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
    reply = b""
    while chunk := sock.recv(4096):
        reply += chunk
    sock.close()
    assert reply.startswith(b"HTTP/1.") and reply.endswith(b"Hello from web\n")
    assert forward.error(80) is None
    forward.close()


def test_pod_crud_and_the_patch_types(core: client.CoreV1Api, ns: str) -> None:
    pod = {
        "metadata": {"name": "patched", "labels": {"a": "1"}},
        "spec": {"containers": [{"name": "main", "image": "tinykube/sleeper:1"}]},
    }
    made = core.create_namespaced_pod(ns, pod)
    assert made.spec.containers[0].image_pull_policy == "IfNotPresent"
    smp = core.patch_namespaced_pod("patched", ns, {"metadata": {"labels": {"b": "2"}}})
    assert smp.metadata.labels == {"a": "1", "b": "2"}
    merge = core.patch_namespaced_pod("patched", ns, {"metadata": {"labels": {"a": None}}},
                                      _content_type=MERGE_PATCH)  # fmt: skip
    assert merge.metadata.labels == {"b": "2"}
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {"note": "x"}}]
    jp = core.patch_namespaced_pod("patched", ns, ops)
    assert jp.metadata.annotations == {"note": "x"}
    listed = core.list_namespaced_pod(ns, label_selector="b=2")
    assert [p.metadata.name for p in listed.items] == ["patched"]
    deleted = core.delete_namespaced_pod("patched", ns, grace_period_seconds=0)
    assert deleted.metadata.name == "patched"


def test_configmaps_secrets_and_dry_run(core: client.CoreV1Api, ns: str) -> None:
    dry = core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"k": "v"}},
                                            dry_run="All")  # fmt: skip
    assert dry.data == {"k": "v"}
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("cm", ns)
    assert missing.value.status == 404
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"k": "v"}})
    cm = core.read_namespaced_config_map("cm", ns)
    cm.data["k2"] = "v2"
    assert core.replace_namespaced_config_map("cm", ns, cm).data == {"k": "v", "k2": "v2"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("cm", ns, cm)  # its resourceVersion is stale now
    assert conflict.value.status == 409
    core.delete_namespaced_config_map("cm", ns)

    secret = {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    core.create_namespaced_secret(ns, secret)
    read = core.read_namespaced_secret("s", ns)
    assert (read.type, base64.b64decode(read.data["password"])) == ("Opaque", b"hunter2")
    core.delete_namespaced_secret("s", ns, dry_run="All")
    assert core.read_namespaced_secret("s", ns).metadata.name == "s"
    core.delete_namespaced_secret("s", ns)


def test_deployments_and_replicasets(api: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api)
    labels = {"app": "dep"}
    deployment = {
        "metadata": {"name": "dep"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "tinykube/sleeper:1"}]},
            },
        },
    }
    apps.create_namespaced_deployment(ns, deployment)
    scale = apps.read_namespaced_deployment_scale("dep", ns)
    assert scale.spec.replicas == 1
    apps.patch_namespaced_deployment_scale("dep", ns, {"spec": {"replicas": 2}})

    def available() -> bool:
        return apps.read_namespaced_deployment_status("dep", ns).status.available_replicas == 2

    wait_for("two available replicas", available, timeout=120)
    [rs] = apps.list_namespaced_replica_set(ns, label_selector="app=dep").items
    assert rs.metadata.owner_references[0].name == "dep"
    assert apps.read_namespaced_replica_set(rs.metadata.name, ns).spec.replicas == 2
    apps.delete_namespaced_deployment("dep", ns, propagation_policy="Foreground")


def test_server_side_apply_of_a_deployments_scale(api: client.ApiClient, ns: str) -> None:
    """An autoscaler's way: apply a Scale; the deployer's ownership of spec.replicas is a
    conflict until forced, then the parent's replicas are the autoscaler's."""
    apps = client.AppsV1Api(api)
    labels = {"app": "applied"}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "applied"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "main", "image": "tinykube/sleeper:1"}]},
        }},
    }  # fmt: skip
    apps.patch_namespaced_deployment("applied", ns, deployment, field_manager="deployer",
                                     _content_type=APPLY_PATCH)  # fmt: skip
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "applied"},
             "spec": {"replicas": 3}}  # fmt: skip
    with pytest.raises(ApiException) as refused:
        apps.patch_namespaced_deployment_scale("applied", ns, scale, field_manager="autoscaler",
                                               _content_type=APPLY_PATCH)  # fmt: skip
    assert refused.value.status == 409
    assert json.loads(refused.value.body)["message"] == (
        'Apply failed with 1 conflict: conflict with "deployer": .spec.replicas'
    )
    applied = apps.patch_namespaced_deployment_scale("applied", ns, scale, force=True,
                                                     field_manager="autoscaler",
                                                     _content_type=APPLY_PATCH)  # fmt: skip
    assert applied.kind == "Scale" and applied.spec.replicas == 3
    parent = apps.read_namespaced_deployment("applied", ns)
    assert parent.spec.replicas == 3
    owners = {(f.manager, f.operation, f.subresource) for f in parent.metadata.managed_fields
              if "f:replicas" in (f.fields_v1 or {}).get("f:spec", {})}  # fmt: skip
    assert owners == {("autoscaler", "Apply", "scale")}
    apps.delete_namespaced_deployment("applied", ns)


def test_services_endpoints_and_endpointslices(
    api: client.ApiClient, core: client.CoreV1Api, ns: str, web: str
) -> None:
    ports = [{"port": 8080, "targetPort": 80}]
    service = {"metadata": {"name": "websvc"}, "spec": {"selector": {"app": "web"}, "ports": ports}}
    made = core.create_namespaced_service(ns, service)
    assert made.spec.type == "ClusterIP" and made.spec.cluster_ip
    pod_ip = core.read_namespaced_pod(web, ns).status.pod_ip

    def endpoint_ips() -> list[str]:
        try:
            ep = core.read_namespaced_endpoints("websvc", ns)
        except ApiException:
            return []
        return [a.ip for s in ep.subsets or [] for a in s.addresses or []]

    assert wait_for("the service's endpoints", endpoint_ips, timeout=60) == [pod_ip]
    discovery = client.DiscoveryV1Api(api)
    [slice_] = discovery.list_namespaced_endpoint_slice(
        ns, label_selector="kubernetes.io/service-name=websvc"
    ).items
    assert [e.addresses for e in slice_.endpoints] == [[pod_ip]]
    assert slice_.ports[0].port == 80
    core.delete_namespaced_service("websvc", ns)


def test_events_and_leases(api: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    event = {
        "metadata": {"name": "ev"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": ns},
        "reason": "Tested",
        "message": "from the Python client",
        "type": "Normal",
        "source": {"component": "pyclient"},
    }
    core.create_namespaced_event(ns, event)
    listed = core.list_namespaced_event(ns, field_selector="reason=Tested")
    assert [e.message for e in listed.items] == ["from the Python client"]
    core.delete_namespaced_event("ev", ns)

    leases = client.CoordinationV1Api(api)
    lease = {"metadata": {"name": "lock"},
             "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}  # fmt: skip
    leases.create_namespaced_lease(ns, lease)
    read = leases.read_namespaced_lease("lock", ns)
    read.spec.holder_identity = "you"
    assert leases.replace_namespaced_lease("lock", ns, read).spec.holder_identity == "you"
    leases.delete_namespaced_lease("lock", ns)


def test_watch_from_a_resource_version_with_bookmarks(core: client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    name = f"w-{uuid.uuid4().hex[:6]}"

    def writes() -> None:
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": {"a": "1"}})
        core.patch_namespaced_config_map(name, ns, {"data": {"a": "2"}})
        core.delete_namespaced_config_map(name, ns)

    threading.Thread(target=writes, daemon=True).start()
    w = watch.Watch()
    seen: list[tuple[str, Any]] = []
    for event in w.stream(core.list_namespaced_config_map, ns, resource_version=start,
                          allow_watch_bookmarks=True, timeout_seconds=30):  # fmt: skip
        if event["type"] == "BOOKMARK":
            continue
        seen.append((event["type"], event["object"].data))
        if event["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", {"a": "1"}), ("MODIFIED", {"a": "2"}), ("DELETED", {"a": "2"})]
    assert int(w.resource_version) > int(start)


def test_ephemeral_containers_eviction_and_collections(core: client.CoreV1Api, ns: str) -> None:
    pod = {
        "metadata": {"name": "target", "labels": {"batch": "x"}},
        "spec": {"containers": [{"name": "main", "image": "tinykube/sleeper:1"}]},
    }
    core.create_namespaced_pod(ns, pod)
    wait_for("the target to run",
             lambda: core.read_namespaced_pod("target", ns).status.phase == "Running",
             timeout=90)  # fmt: skip
    debug = {"name": "dbg", "image": "tinykube/sleeper:1", "targetContainerName": "main"}
    patched = core.patch_namespaced_pod_ephemeralcontainers(
        "target", ns, {"spec": {"ephemeralContainers": [debug]}}
    )
    assert patched.spec.ephemeral_containers[0].target_container_name == "main"

    def debugger_running() -> bool:
        statuses = core.read_namespaced_pod("target", ns).status.ephemeral_container_statuses
        return bool(statuses) and statuses[0].state.running is not None

    wait_for("the ephemeral container to run", debugger_running, timeout=90)
    out = stream(core.connect_get_namespaced_pod_exec, "target", ns, container="dbg",
                 command=["sh", "-c", "ps -o args | grep -c '^/bin/sh /sleeper.sh'"],
                 stdout=True, stderr=True, stdin=False, tty=False)  # fmt: skip
    assert out == "2\n"  # its own sleeper and, in the shared PID namespace, the target's

    eviction = {"metadata": {"name": "target", "namespace": ns}}
    core.create_namespaced_pod_eviction("target", ns, eviction)
    assert core.read_namespaced_pod("target", ns).metadata.deletion_timestamp is not None

    for i in range(3):
        labelled = {"metadata": {"name": f"c{i}", "labels": {"batch": "x"}}}
        core.create_namespaced_config_map(ns, labelled)
    everywhere = core.list_config_map_for_all_namespaces(label_selector="batch=x")
    assert sorted(c.metadata.name for c in everywhere.items) == ["c0", "c1", "c2"]
    core.delete_collection_namespaced_config_map(ns, label_selector="batch=x")
    assert core.list_namespaced_config_map(ns, label_selector="batch=x").items == []


def test_endpoints_and_endpointslices_written_by_hand(api: client.ApiClient, core: client.CoreV1Api,
                                                      ns: str) -> None:  # fmt: skip
    """A Service without a selector gets the Endpoints and EndpointSlices its owner writes."""
    ports = [{"port": 5432}]
    core.create_namespaced_service(ns, {"metadata": {"name": "db"}, "spec": {"ports": ports}})
    endpoints = {"metadata": {"name": "db"},
                 "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": ports}]}  # fmt: skip
    core.create_namespaced_endpoints(ns, endpoints)
    assert core.read_namespaced_endpoints("db", ns).subsets[0].addresses[0].ip == "10.1.2.3"
    core.patch_namespaced_endpoints("db", ns, {"metadata": {"labels": {"owner": "me"}}})
    discovery = client.DiscoveryV1Api(api)
    slice_ = {
        "metadata": {"name": "db-1", "labels": {"kubernetes.io/service-name": "db",
                                                "endpointslice.kubernetes.io/managed-by": "me"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.2.3"]}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    }  # fmt: skip
    discovery.create_namespaced_endpoint_slice(ns, slice_)
    read = discovery.read_namespaced_endpoint_slice("db-1", ns)
    assert (read.address_type, read.endpoints[0].addresses) == ("IPv4", ["10.1.2.3"])
    discovery.delete_namespaced_endpoint_slice("db-1", ns)
    core.delete_namespaced_endpoints("db", ns)
    core.delete_namespaced_service("db", ns)
