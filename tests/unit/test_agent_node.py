"""The Node object, its status and Lease as the agent builds them; when a status is posted (only
a change, or an unchanged one once the report interval is over); the renew interval taken from
the Lease the server answers with; Docker inspect parsing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent import node
from agent import runtime as rt
from agent.docker_inspect import container_info, parse_time, registry_unreachable
from agent.runtime import EngineInfo
from common import errors

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
    # The duration is the API server's to hand out.
    assert lease["spec"] == {"holderIdentity": "node-1", "renewTime": "2026-01-01T12:00:00.123456Z"}


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


def test_only_a_changed_status_is_worth_posting() -> None:
    status = node.build_node_status("node-1", FACTS, 10250, {}, NOW)
    later = node.build_node_status("node-1", FACTS, 10250, status, NOW + timedelta(seconds=10))
    assert later != status  # the heartbeat times moved...
    assert not node.status_changed(status, later)  # ...which is no change
    shuffled = {**later, "conditions": list(reversed(later["conditions"]))}
    assert not node.status_changed(status, shuffled)
    unknown = copy.deepcopy(status)
    ready = next(c for c in unknown["conditions"] if c["type"] == "Ready")
    ready.update(status="Unknown", reason="NodeStatusUnknown")  # the node controller's doing
    assert node.status_changed(unknown, later)
    moved = {**later, "addresses": [{"type": "InternalIP", "address": "10.0.0.9"}]}
    assert node.status_changed(status, moved)
    assert node.status_changed(status, {**later, "conditions": later["conditions"][:-1]})
    assert node.status_changed({}, later)


class FakeApi:
    """The few calls the registrar and the lease keeper make, over one Node and one Lease."""

    def __init__(self) -> None:
        self.node: dict[str, Any] | None = None
        self.lease: dict[str, Any] | None = None
        self.rv = 0
        self.status_puts = 0
        self.lease_bodies: list[dict[str, Any]] = []
        self.duration: int | None = 8  # what the server writes into the Lease

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        obj["metadata"].setdefault("uid", "uid-1")
        return obj

    def create(self, rt: Any, obj: dict[str, Any], namespace: str | None = None) -> Any:
        if rt.plural == "nodes":
            self.node = self._stamp(obj)
            return copy.deepcopy(self.node)
        self.lease_bodies.append(copy.deepcopy(obj))
        self.lease = self._stamp(obj)
        if self.duration is not None:
            self.lease["spec"]["leaseDurationSeconds"] = self.duration
        return copy.deepcopy(self.lease)

    def get(self, rt: Any, name: str, namespace: str | None = None) -> Any:
        found = self.node if rt.plural == "nodes" else self.lease
        if found is None:
            raise errors.NotFoundError("not found")
        return copy.deepcopy(found)

    def request_json(self, method: str, path: str, **kw: Any) -> Any:
        assert method == "GET" and path == "/api/v1/nodes/node-1"
        assert kw["params"] == {"resourceVersion": "0"}  # from the server's cache, as kubelet
        return self.get(node.NODES, "node-1")

    def update(self, rt: Any, obj: dict[str, Any], namespace: str | None = None,
               sub: str | None = None) -> Any:  # fmt: skip
        if rt.plural == "nodes":
            assert sub == "status" and self.node is not None
            self.status_puts += 1
            self.node = self._stamp({**self.node, "status": obj["status"]})
            return copy.deepcopy(self.node)
        self.lease_bodies.append(copy.deepcopy(obj))
        self.lease = self._stamp(obj)
        if self.duration is not None:
            self.lease["spec"]["leaseDurationSeconds"] = self.duration
        return copy.deepcopy(self.lease)


class Clocks:
    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> datetime:
        return NOW + timedelta(seconds=self.t)

    def mono(self) -> float:
        return self.t


def test_the_status_is_posted_when_it_changes_and_every_report_interval() -> None:
    api, clocks = FakeApi(), Clocks()
    reg = node.NodeRegistrar(api, "node-1", FACTS, 10250, "e", clocks.wall,  # type: ignore[arg-type]
                             report_interval=300, monotonic=clocks.mono,
                             spread=lambda: 0.0)  # fmt: skip
    reg.register()
    assert api.status_puts == 1
    for t in (10, 20, 290):  # computed every interval, unchanged: nothing posted
        clocks.t = t
        assert reg.heartbeat() is None
    assert api.status_puts == 1
    clocks.t = 300  # the report is due: posted with fresh heartbeat times
    assert reg.heartbeat() is not None and api.status_puts == 2
    assert api.node is not None
    ready = next(c for c in api.node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["lastHeartbeatTime"] == "2026-01-01T12:05:00Z"
    # The node controller turned Ready Unknown: the agent says otherwise at its next look.
    for c in api.node["status"]["conditions"]:
        c.update(status="Unknown", reason="NodeStatusUnknown")
    clocks.t = 310
    assert reg.heartbeat() is not None and api.status_puts == 3
    ready = next(c for c in api.node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    clocks.t = 320
    assert reg.heartbeat() is None and api.status_puts == 3


@pytest.mark.parametrize(("spread", "first"), [(0.5, 165), (1.0, 30), (0.0, 300)])
def test_nodes_registered_together_spread_their_reports_over_the_interval(
    spread: float, first: float
) -> None:
    api, clocks = FakeApi(), Clocks()
    reg = node.NodeRegistrar(api, "node-1", FACTS, 10250, "e", clocks.wall,  # type: ignore[arg-type]
                             report_interval=300, monotonic=clocks.mono,
                             spread=lambda: spread)  # fmt: skip
    reg.register()
    clocks.t = first - 1
    assert reg.heartbeat() is None and api.status_puts == 1
    clocks.t = first  # the first report, sooner by a part of the interval
    assert reg.heartbeat() is not None and api.status_puts == 2
    clocks.t = first + 299  # then a full interval apart: the spread is kept
    assert reg.heartbeat() is None and api.status_puts == 2
    clocks.t = first + 300
    assert reg.heartbeat() is not None and api.status_puts == 3


def test_a_node_deleted_meanwhile_is_registered_again_by_the_status_loop() -> None:
    api, clocks = FakeApi(), Clocks()
    reg = node.NodeRegistrar(api, "node-1", FACTS, 10250, "e", clocks.wall,  # type: ignore[arg-type]
                             monotonic=clocks.mono)  # fmt: skip
    reg.register()
    api.node = None
    clocks.t = 10
    assert reg.heartbeat() is not None and api.node is not None and api.status_puts == 2


@pytest.mark.parametrize(("duration", "interval"), [(8, 2.0), (80, 20.0), (2, 0.5), (None, 3.0)])
def test_the_lease_is_renewed_at_a_quarter_of_the_duration_the_server_wrote(
    duration: int | None, interval: float
) -> None:
    api, clocks = FakeApi(), Clocks()
    api.duration = duration
    keeper = node.LeaseKeeper(api, "node-1", lambda: "uid-n", clocks.wall,  # type: ignore[arg-type]
                              default=3.0)  # fmt: skip
    assert keeper.interval == 3.0  # before the server said anything: the agent's flag
    keeper.renew()
    assert keeper.interval == interval
    clocks.t = interval
    keeper.renew()
    # The renewal sends back what the server answered, with only renewTime moved.
    sent, answered = api.lease_bodies[-1], api.lease_bodies[0]
    assert "leaseDurationSeconds" not in answered["spec"]  # the create leaves it to the server
    assert sent["spec"].get("leaseDurationSeconds") == duration
    assert sent["spec"]["renewTime"] != answered["spec"]["renewTime"]


class FlakyApi(FakeApi):
    """Fails the next ``failures`` lease updates with ``error``."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__()
        self.failures, self.error, self.attempts = failures, error, 0

    def update(self, rt: Any, obj: dict[str, Any], namespace: str | None = None,
               sub: str | None = None) -> Any:  # fmt: skip
        if rt.plural == "leases":
            self.attempts += 1
            if self.failures > 0:
                self.failures -= 1
                raise self.error
        return super().update(rt, obj, namespace, sub)


@pytest.mark.parametrize(
    "error",
    [
        errors.ServerTimeoutError("the server did not answer in time"),
        errors.ServiceUnavailableError("busy"),
        errors.TooManyRequestsError("Too many requests, please try again later."),
    ],
)
def test_a_renewal_the_busy_server_did_not_answer_is_sent_again_at_once(error: Exception) -> None:
    api, clocks = FlakyApi(0, error), Clocks()
    keeper = node.LeaseKeeper(api, "node-1", lambda: "uid-n", clocks.wall)  # type: ignore[arg-type]
    keeper.renew()  # created
    api.failures = 4
    clocks.t = 2
    assert keeper.renew()["spec"]["renewTime"] == api.lease_bodies[-1]["spec"]["renewTime"]
    assert api.attempts == 5 and api.failures == 0
    api.failures, api.attempts = 5, 0  # as the kubelet: 5 attempts, then the renewal failed
    with pytest.raises(type(error)):
        keeper.renew()
    assert api.attempts == 5


def test_a_refused_renewal_is_not_sent_again() -> None:
    api, clocks = FlakyApi(0, errors.ForbiddenError("no")), Clocks()
    keeper = node.LeaseKeeper(api, "node-1", lambda: "uid-n", clocks.wall)  # type: ignore[arg-type]
    keeper.renew()
    api.failures = 1
    with pytest.raises(errors.ForbiddenError):
        keeper.renew()
    assert api.attempts == 1
