"""The Node object, its status and Lease as the agent builds them; Docker inspect parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent import node
from agent import runtime as rt
from agent.docker_inspect import container_info, parse_time, registry_unreachable
from agent.runtime import EngineInfo

NOW = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
ENGINE = EngineInfo(
    2, 4 * 2**30, "20.10.24+dfsg1", "Debian GNU/Linux 12 (bookworm)", "6.1.0", "x86_64"
)
FACTS = node.HostFacts("host-a", "192.168.1.5", "mid", "uuid", "boot", ENGINE)


def test_node_object_labels() -> None:
    obj = node.build_node("node-1", FACTS, "192.168.1.5:10250")
    labels = obj["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "node-1"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] == "amd64"
    assert labels["tinykube.io/node"] == "true"


def test_node_status() -> None:
    status = node.build_node_status("node-1", FACTS, 10250, {}, NOW)
    assert status["capacity"] == {"cpu": "2", "memory": "4194304Ki", "pods": "110"}
    assert status["allocatable"] == status["capacity"]
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "192.168.1.5"},
        {"type": "Hostname", "address": "host-a"},
    ]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    info = status["nodeInfo"]
    assert len(info) == 10
    assert info["containerRuntimeVersion"] == "docker://20.10.24"
    assert info["kubeletVersion"] == "v1.35.0-tinykube"
    assert info["architecture"] == "amd64" and info["operatingSystem"] == "linux"
    assert info["osImage"] == "Debian GNU/Linux 12 (bookworm)"
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "KubeletReady"
    assert conds["Ready"]["message"] == "kubelet is posting ready status"
    for ctype in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        assert conds[ctype]["status"] == "False"
    # A later heartbeat keeps the transition time.
    later = node.build_node_status("node-1", FACTS, 10250, status, NOW + timedelta(seconds=10))
    ready = next(c for c in later["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    assert ready["lastHeartbeatTime"] == "2026-01-01T12:00:10Z"


def test_lease() -> None:
    lease = node.build_lease("node-1", "uid-n", NOW)
    assert lease["metadata"] == {
        "name": "node-1",
        "namespace": "kube-node-lease",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "node-1", "uid": "uid-n"}],
    }
    assert lease["spec"] == {
        "holderIdentity": "node-1",
        "leaseDurationSeconds": 40,
        "renewTime": "2026-01-01T12:00:00.123456Z",
    }


def test_parse_docker_times() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("2026-01-01T12:00:00.123456789Z") == datetime(
        2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2026-01-01T12:00:00Z") == datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_container_info_from_inspect() -> None:
    attrs = {
        "Id": "abc",
        "Name": "/k8s_web_p_default_u_2",
        "Created": "2026-01-01T11:59:59.5Z",
        "Image": "sha256:def",
        "State": {
            "Status": "exited",
            "ExitCode": 137,
            "OOMKilled": True,
            "StartedAt": "2026-01-01T12:00:00.1Z",
            "FinishedAt": "2026-01-01T12:00:05.2Z",
        },
        "Config": {
            "Image": "tinykube/web:1",
            "Labels": {
                rt.POD_UID: "u",
                rt.POD_NAME: "p",
                rt.POD_NAMESPACE: "default",
                rt.CONTAINER_NAME: "web",
                rt.RESTART_COUNT: "2",
                rt.DOCKER_TYPE: "container",
            },
        },
        "NetworkSettings": {"IPAddress": ""},
    }
    info = container_info(attrs, "tinykube/web@sha256:1")
    assert (info.id, info.name, info.role, info.state) == (
        "abc",
        "k8s_web_p_default_u_2",
        "app",
        "exited",
    )
    assert (info.attempt, info.exit_code, info.oom_killed) == (2, 137, True)
    assert info.finished_at == datetime(2026, 1, 1, 12, 0, 5, 200000, tzinfo=UTC)
    assert info.repo_digest == "tinykube/web@sha256:1" and info.ip is None
    sandbox = container_info(
        {
            **attrs,
            "State": {"Status": "running", "StartedAt": "2026-01-01T12:00:00Z"},
            "Config": {"Labels": {rt.DOCKER_TYPE: "podsandbox"}},
            "NetworkSettings": {
                "IPAddress": "",
                "Networks": {"bridge": {"IPAddress": "172.17.0.5"}},
            },
        }
    )
    assert (sandbox.role, sandbox.state, sandbox.ip, sandbox.exit_code) == (
        "sandbox",
        "running",
        "172.17.0.5",
        None,
    )


def test_registry_unreachable() -> None:
    assert registry_unreachable(
        'Get "https://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'
    )
    assert registry_unreachable("lookup registry-1.docker.io on 10.0.0.1:53: no such host")
    assert not registry_unreachable("manifest for x:1 not found: manifest unknown")
