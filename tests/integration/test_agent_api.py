"""The whole agent loop against the real API server (Flask app over real Redis, served over HTTP
in-process) with the in-memory FakeRuntime: registration, lease, pod start, rm -f healing, logs
through the API server, graceful deletion, an agent restart that adopts its containers and one
that finds a pod deleted meanwhile (its tmpfs unmounted, its directory removed)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import mountinfo
from agent import runtime as rt
from agent.apis import LEASES, NODES, PODS
from agent.config import AgentConfig
from agent.fake_runtime import FakeRuntime
from agent.loop import Agent
from agent.mountinfo import Mounter
from agent.planner import BackoffPolicy
from common import errors
from common.client import ApiClient
from tests.contract.test_runtime_contract import ensure_test_image
from tests.integration.conftest import NODE_TOKEN, wait_for

NODE = "node-1"


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime(("tinykube/web:1", "tinykube/crasher:1"))


@pytest.fixture
def start_agent(server: str, runtime: FakeRuntime, tmp_path: Path) -> Iterator[Callable[[], Agent]]:
    agents: list[Agent] = []

    def start(**options: Any) -> Agent:
        options.setdefault("data_dir", str(tmp_path / "agent"))  # not the machine's agent dir
        config = AgentConfig(
            server=server,
            token=NODE_TOKEN,
            node_name=NODE,
            node_ip="127.0.0.1",
            node_api_port=0,
            lease_renew_interval=0.5,
            node_status_interval=1.0,
            workers=2,
            backoff=BackoffPolicy(base=0.5, cap=2, reset=60),
            **options,
        )
        agent = Agent(config, ApiClient(server, NODE_TOKEN), runtime)
        agent.start()
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


def web_pod(name: str = "web", image: str = "tinykube/web:1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": image}], **spec},
    }


def pod_status(admin: ApiClient, name: str = "web") -> dict[str, Any]:
    return admin.get(PODS, name, "default").get("status") or {}


def running(admin: ApiClient, name: str = "web", restarts: int = 0) -> bool:
    status = pod_status(admin, name)
    cs = (status.get("containerStatuses") or [{}])[0]
    return (
        status.get("phase") == "Running"
        and "running" in (cs.get("state") or {})
        and cs.get("restartCount") == restarts
    )


def apps(runtime: FakeRuntime) -> list[rt.ContainerInfo]:
    return [c for c in runtime.containers() if c.role == "app" and c.state == "running"]


def test_node_registers_and_renews_its_lease(admin: ApiClient, start_agent) -> None:
    agent = start_agent()
    node = admin.get(NODES, NODE)
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == NODE
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == agent.node_api.port
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.35.0-tinykube"

    def lease_exists() -> bool:  # the lease loop creates it right after start() returns
        try:
            admin.get(LEASES, NODE, "kube-node-lease")
        except errors.NotFoundError:
            return False
        return True

    assert wait_for(lease_exists, 10)
    lease = admin.get(LEASES, NODE, "kube-node-lease")
    first = lease["spec"]["renewTime"]
    assert lease["spec"]["holderIdentity"] == NODE
    assert wait_for(
        lambda: admin.get(LEASES, NODE, "kube-node-lease")["spec"]["renewTime"] != first, 10
    )

    # The server handed out the Lease's duration; the agent renews at a quarter of it.
    assert lease["spec"]["leaseDurationSeconds"] == 8
    assert agent.lease.interval == 2.0


def ready_condition(admin: ApiClient) -> dict[str, Any]:
    conds = admin.get(NODES, NODE)["status"]["conditions"]
    return dict(next(c for c in conds if c["type"] == "Ready"))


def test_an_unchanged_status_is_posted_every_report_interval(admin: ApiClient, start_agent) -> None:
    start_agent(node_status_report_interval=1.0)
    beat = ready_condition(admin)["lastHeartbeatTime"]
    assert wait_for(lambda: ready_condition(admin)["lastHeartbeatTime"] != beat, 10)


def test_the_status_is_posted_again_when_the_control_plane_changed_it(
    admin: ApiClient, start_agent
) -> None:
    agent = start_agent()  # the kubelet's 5 minute report interval
    registrar = agent.registrar
    assert registrar is not None and registrar.posts == 1  # at registration
    node = admin.get(NODES, NODE)
    for c in node["status"]["conditions"]:  # what the node controller writes on a silence
        c.update(status="Unknown", reason="NodeStatusUnknown")
    admin.update(NODES, node, sub="status")
    assert wait_for(lambda: ready_condition(admin)["status"] == "True", 10)
    assert registrar.posts == 2
    # Unchanged since: looked at every interval, posted no more.
    renewed = admin.get(LEASES, NODE, "kube-node-lease")["spec"]["renewTime"]
    assert wait_for(
        lambda: admin.get(LEASES, NODE, "kube-node-lease")["spec"]["renewTime"] != renewed, 10
    )
    assert wait_for(lambda: registrar.looks >= 3, 10)
    assert registrar.posts == 2


def test_the_status_loop_reads_the_node_from_its_own_watch(
    admin: ApiClient, start_agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = start_agent()
    registrar, informer = agent.registrar, agent.node_informer
    assert registrar is not None and informer is not None
    assert wait_for(informer.has_synced, 10)
    assert [n["metadata"]["name"] for n in informer.store.objects()] == [NODE]  # its own only
    reads: list[str] = []
    real = registrar.client.request_json

    def counted(method: str, path: str, **kw: Any) -> Any:
        if method == "GET" and path.endswith(f"/nodes/{NODE}"):
            reads.append(path)
        return real(method, path, **kw)

    monkeypatch.setattr(registrar.client, "request_json", counted)
    looks = registrar.looks
    assert wait_for(lambda: registrar.looks >= looks + 3, 10)
    assert reads == []  # as the kubelet's node lister: no GET of the Node each look
    # What the control plane writes reaches the loop through the watch.
    node = admin.get(NODES, NODE)
    for c in node["status"]["conditions"]:
        c.update(status="Unknown", reason="NodeStatusUnknown")
    admin.update(NODES, node, sub="status")
    assert wait_for(lambda: ready_condition(admin)["status"] == "True", 10)


def test_after_a_gap_the_agent_watches_its_node_afresh(admin: ApiClient, start_agent) -> None:
    agent = start_agent()
    first, first_stop = agent.node_informer, agent._node_stop
    assert first is not None and first_stop is not None
    assert wait_for(first.has_synced, 10)
    # A partition sends no reset: the watch from before it may be dead without knowing it.
    agent._reconnected()
    assert first_stop.is_set() and agent.node_informer is not first
    node = admin.get(NODES, NODE)
    for c in node["status"]["conditions"]:  # what the node controller wrote meanwhile
        c.update(status="Unknown", reason="NodeStatusUnknown")
    admin.update(NODES, node, sub="status")
    assert wait_for(lambda: ready_condition(admin)["status"] == "True", 10)
    assert agent.node_informer is not None and agent.node_informer.has_synced()
    stop = agent._node_stop
    agent.stop()
    assert stop is not None and stop.is_set()  # the watch ends with the agent


def test_a_deleted_node_is_registered_again(admin: ApiClient, start_agent) -> None:
    start_agent()
    first = admin.get(NODES, NODE)["metadata"]["uid"]
    admin.delete(NODES, NODE)

    def registered_again() -> bool:
        try:
            node = admin.get(NODES, NODE)
        except errors.NotFoundError:
            return False
        conds = (node.get("status") or {}).get("conditions") or []
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conds)
        return bool(node["metadata"]["uid"] != first and ready)

    assert wait_for(registered_again, 10)  # at the next status update (every 1 s here)


def test_agent_restart_keeps_an_admins_taint_and_labels(admin: ApiClient, start_agent) -> None:
    """NodeRestriction leaves the agent what it writes at every start: its labels, its
    node-api annotation, its status; an administrator's taint and role label stay."""
    start_agent().stop()
    taint = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    patch = {
        "metadata": {
            "labels": {"node-role.kubernetes.io/db": "", "kubernetes.io/hostname": "old"},
            "annotations": {"tinykube.io/node-api": "stale:1"},
        },
        "spec": {"taints": [taint]},
    }
    admin.patch(NODES, NODE, patch)
    agent = start_agent(node_status_report_interval=1.0)  # its status written again soon
    node = admin.get(NODES, NODE)
    assert node["spec"]["taints"] == [taint]
    assert node["metadata"]["labels"]["node-role.kubernetes.io/db"] == ""
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == NODE
    assert node["metadata"]["annotations"]["tinykube.io/node-api"].endswith(
        f":{agent.node_api.port}"
    )
    beat = node["status"]["conditions"]

    def posted() -> bool:
        return bool(admin.get(NODES, NODE)["status"]["conditions"] != beat)

    assert wait_for(posted, 10)


def test_pod_runs_heals_logs_and_is_deleted(
    admin: ApiClient, runtime: FakeRuntime, start_agent
) -> None:
    start_agent()
    admin.create(PODS, web_pod(), "default")
    assert wait_for(lambda: running(admin), 15), pod_status(admin)
    status = pod_status(admin)
    assert status["podIP"].startswith("10.88.") and status["hostIP"] == "127.0.0.1"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"

    # docker rm -f: the Docker event makes the agent start a new attempt at once.
    (first,) = apps(runtime)
    runtime.write_log(first.id, b"hello from web\n")
    runtime.kill_externally(first.id)
    assert wait_for(lambda: running(admin, restarts=1), 10), pod_status(admin)
    cs = pod_status(admin)["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    (second,) = apps(runtime)
    runtime.write_log(second.id, b"line 1\nline 2\nline 3\n")

    # Logs travel API server -> node API -> runtime.
    resp = admin.request(
        "GET", "/api/v1/namespaces/default/pods/web/log", params={"tailLines": "2"}
    )
    assert resp.text == "line 2\nline 3\n"

    # A graceful delete: the agent stops, removes and finishes the deletion.
    admin.delete(PODS, "web", "default")

    def gone() -> bool:
        try:
            admin.get(PODS, "web", "default")
        except errors.NotFoundError:
            return True
        return False

    assert wait_for(gone, 15)
    assert wait_for(lambda: runtime.containers() == [], 5), runtime.containers()


def test_crash_loop_reports_backoff(admin: ApiClient, runtime: FakeRuntime, start_agent) -> None:
    runtime.exit_on_start("tinykube/crasher:1", 1)
    start_agent()
    admin.create(PODS, web_pod("crash", "tinykube/crasher:1"), "default")

    def backing_off() -> bool:
        cs = (pod_status(admin, "crash").get("containerStatuses") or [{}])[0]
        waiting = (cs.get("state") or {}).get("waiting") or {}
        return waiting.get("reason") == "CrashLoopBackOff" and cs.get("restartCount", 0) >= 2

    assert wait_for(backing_off, 15), pod_status(admin, "crash")
    assert pod_status(admin, "crash")["phase"] == "Running"


def test_agent_restart_adopts_containers(
    admin: ApiClient, runtime: FakeRuntime, start_agent
) -> None:
    agent = start_agent()
    admin.create(PODS, web_pod(), "default")
    assert wait_for(lambda: running(admin), 15)
    before = {c.id for c in runtime.containers()}
    agent.stop()
    assert {c.id for c in runtime.containers()} == before  # a stop leaves containers running
    again = start_agent()
    assert wait_for(lambda: again.sync_count >= 1 and again.queue.idle(), 10)
    assert {c.id for c in runtime.containers()} == before
    assert running(admin)


def test_pods_of_other_nodes_and_orphans(
    admin: ApiClient, runtime: FakeRuntime, start_agent
) -> None:
    agent = start_agent()
    admin.create(PODS, web_pod("elsewhere", nodeName="node-2"), "default")
    admin.create(PODS, web_pod(), "default")
    assert wait_for(lambda: running(admin), 15)
    # A container left from a pod that no longer exists is removed at the next resync.
    stale = runtime.create_container(
        rt.CreateSpec(
            name="k8s_POD_old_default_gone_1",
            image="tinykube/web:1",
            role="sandbox",
            labels={rt.POD_UID: "gone", rt.NODE_LABEL: NODE, rt.CLUSTER_LABEL: agent.cluster},
        )
    )
    agent.queue_all()
    assert wait_for(lambda: all(c.id != stale for c in runtime.containers()), 10)
    assert {c.pod_name for c in runtime.containers()} == {"web"}
    assert "containerStatuses" not in pod_status(admin, "elsewhere")


def test_a_pod_deleted_while_the_agent_was_down_loses_its_tmpfs_at_restart(
    admin: ApiClient, runtime: FakeRuntime, start_agent, tmp_path: Path
) -> None:
    root = tmp_path.resolve()
    if not can_mount(root):
        pytest.skip("tmpfs cannot be mounted here")
    options = {"data_dir": str(root), "volume_tmpfs": True}
    agent = start_agent(**options)
    scratch = {"name": "scratch", "emptyDir": {"medium": "Memory"}}
    created = admin.create(PODS, web_pod(volumes=[scratch]), "default")
    assert wait_for(lambda: running(admin), 15)
    volume = root / "pods" / created["metadata"]["uid"] / "volumes/kubernetes.io~empty-dir/scratch"
    assert mounted_under(root) == [str(volume)]
    agent.stop()
    assert mounted_under(root) == [str(volume)]  # a stop unmounts nothing, as a kubelet's
    admin.delete(PODS, "web", "default", grace_period_seconds=0)
    start_agent(**options)  # finds the orphan's containers, then its directory
    assert wait_for(lambda: not volume.parent.parent.parent.exists(), 15), mounted_under(root)
    assert mounted_under(root) == []


def can_mount(directory: Path) -> bool:
    if os.geteuid() != 0:
        return False
    try:
        Mounter().mount_tmpfs(directory, 0o755, None)
    except OSError:
        return False  # no CAP_SYS_ADMIN (an unprivileged container)
    Mounter().unmount(directory)
    return True


def mounted_under(directory: Path) -> list[str]:
    return mountinfo.under(mountinfo.parse(mountinfo.table()), str(directory))


@pytest.fixture
def docker_test_image() -> str:
    return ensure_test_image()


@pytest.fixture
def docker_runtime(docker_test_image: str) -> Iterator[Any]:
    from agent.docker_runtime import DockerRuntime

    try:
        runtime = DockerRuntime()
    except rt.RuntimeUnavailableError as e:
        pytest.skip(str(e))
    yield runtime
    runtime.close()


@pytest.mark.docker
def test_docker_rm_f_is_healed_fast(
    server: str, admin: ApiClient, docker_runtime: Any, docker_test_image: str
) -> None:
    config = AgentConfig(server=server, token=NODE_TOKEN, node_name=NODE, node_ip="127.0.0.1",
                         node_api_port=0, workers=2)  # fmt: skip
    agent = Agent(config, ApiClient(server, NODE_TOKEN), docker_runtime)
    agent.start()
    try:
        admin.create(PODS, web_pod(image=docker_test_image), "default")
        assert wait_for(lambda: running(admin), 30), pod_status(admin)

        def app_ids() -> list[str]:
            containers = docker_runtime.list_containers(agent.cluster, NODE)
            return [c.id for c in containers if c.role == "app" and c.state == "running"]

        (first,) = app_ids()
        started = time.monotonic()
        docker_runtime.remove(first)  # what `docker rm -f` does
        assert wait_for(lambda: bool(app_ids()) and app_ids() != [first], 10, interval=0.01)
        healed = time.monotonic() - started
        assert healed < 2.0, f"healed in {healed:.2f}s"
        assert wait_for(lambda: running(admin, restarts=1), 10), pod_status(admin)
        admin.delete(PODS, "web", "default")
        assert wait_for(lambda: docker_runtime.list_containers(agent.cluster, NODE) == [], 15)
    finally:
        agent.stop()
        for c in docker_runtime.list_containers(agent.cluster, None):
            docker_runtime.remove(c.id)
