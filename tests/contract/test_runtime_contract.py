"""The runtime contract: one suite run against the in-memory FakeRuntime and the DockerRuntime.

The Docker variant builds a test image from Debian's static busybox (``FROM scratch``) and is
skipped only when no engine answers. Every container is labelled with a cluster id unique to the
test and removed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import podspec
from agent import runtime as rt
from agent.fake_runtime import FakeRuntime
from agent.runtime import CreateSpec

TEST_IMAGE = "tinykube-test/busybox:1"
TEST_IMAGE_LABEL = "tinykube.io/test-image"
BUSYBOX = Path("/usr/bin/busybox")
NODE = "contract-node"
# PID 1 ignores SIGTERM unless it traps it: exit 0 on TERM, like the example images.
LOOP = "while true; do sleep 3600 & wait $!; done"
SLEEP_SCRIPT = f"trap 'echo bye; exit 0' TERM; echo started; {LOOP}"
DOCKERFILE = f"""FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL {TEST_IMAGE_LABEL}=true
CMD ["sh", "-c", "{SLEEP_SCRIPT}"]
"""


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def ensure_test_image() -> str:
    """Build the busybox test image unless present (skip without an engine or busybox)."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:
        pytest.skip(f"no Docker engine answers: {e}")
    try:
        client.images.get(TEST_IMAGE)
        return TEST_IMAGE
    except docker.errors.ImageNotFound:
        if not BUSYBOX.exists():
            pytest.skip("busybox-static is not installed (/usr/bin/busybox)")
        with tempfile.TemporaryDirectory() as ctx:
            shutil.copy(BUSYBOX, Path(ctx) / "busybox")
            (Path(ctx) / "Dockerfile").write_text(DOCKERFILE)
            client.images.build(path=ctx, tag=TEST_IMAGE, rm=True, pull=False)
        return TEST_IMAGE
    finally:
        client.close()


@pytest.fixture(scope="session")
def docker_test_image() -> str:
    """The busybox test image, built once per run (by label) with the Docker SDK directly."""
    return ensure_test_image()


class Harness:
    """One runtime under test plus the few things each implementation scripts differently."""

    def __init__(self, runtime: Any, kind: str, cluster: str, image: str) -> None:
        self.runtime = runtime
        self.kind = kind
        self.cluster = cluster
        self.image = image
        self.pods = 0

    def pod(self) -> dict[str, Any]:
        self.pods += 1
        name = f"p{self.pods}"
        return {
            "metadata": {"name": name, "namespace": "ct", "uid": f"{self.cluster}-{name}"},
            "spec": {"containers": [{"name": "main", "image": self.image}]},
        }

    def start_sandbox(self, pod: dict[str, Any]) -> str:
        image = self.runtime.ensure_sandbox_image()
        sid = self.runtime.create_container(podspec.sandbox_spec(pod, 0, NODE, self.cluster, image))
        self.runtime.start(sid)
        return str(sid)

    def app_spec(
        self, pod: dict[str, Any], sandbox_id: str, script: str | None = None
    ) -> CreateSpec:
        container = dict(pod["spec"]["containers"][0])
        if script is not None and self.kind == "docker":
            container["command"] = ["sh", "-c", script]
        return podspec.app_spec(pod, container, 0, sandbox_id, NODE, self.cluster)

    def exiting(self, pod: dict[str, Any], sandbox_id: str, code: int) -> CreateSpec:
        spec = self.app_spec(pod, sandbox_id, f"exit {code}")
        if isinstance(self.runtime, FakeRuntime):
            self.runtime.exit_on_start(spec.name, code)
        return spec

    def printing(self, pod: dict[str, Any], sandbox_id: str, lines: list[str]) -> CreateSpec:
        echoes = "; ".join(f"echo {line}" for line in lines)
        script = f"trap 'exit 0' TERM; {echoes}; {LOOP}"
        return self.app_spec(pod, sandbox_id, script)

    def after_start(self, cid: str, lines: list[str]) -> None:
        if isinstance(self.runtime, FakeRuntime):
            for line in lines:
                self.runtime.write_log(cid, f"{line}\n".encode())

    def state(self, cid: str) -> rt.ContainerInfo:
        return self.runtime.inspect(cid)


@pytest.fixture(params=["fake", "docker"])
def h(request: pytest.FixtureRequest) -> Iterator[Harness]:
    cluster = f"contract-{uuid.uuid4().hex[:10]}"
    if request.param == "fake":
        runtime: Any = FakeRuntime((TEST_IMAGE,))
        yield Harness(runtime, "fake", cluster, TEST_IMAGE)
        return
    image = request.getfixturevalue("docker_test_image")
    from agent.docker_runtime import DockerRuntime

    try:
        runtime = DockerRuntime()
    except rt.RuntimeUnavailableError as e:
        pytest.skip(str(e))
    try:
        yield Harness(runtime, "docker", cluster, image)
    finally:
        for c in runtime.list_containers(cluster, NODE):
            runtime.remove(c.id)
        runtime.close()


def test_sandbox_and_joined_app_are_listed_by_labels(h: Harness) -> None:
    pod = h.pod()
    sid = h.start_sandbox(pod)
    cid = h.runtime.create_container(h.app_spec(pod, sid))
    h.runtime.start(cid)
    listed = {c.id: c for c in h.runtime.list_containers(h.cluster, NODE)}
    assert set(listed) == {sid, cid}
    sandbox, app = listed[sid], listed[cid]
    assert sandbox.role == "sandbox" and sandbox.container_name == "POD"
    assert sandbox.state == "running" and sandbox.ip
    assert app.role == "app" and app.container_name == "main" and app.state == "running"
    assert app.sandbox_id == sid
    assert app.pod_uid == sandbox.pod_uid == pod["metadata"]["uid"]
    assert (app.pod_name, app.pod_namespace, app.attempt) == ("p1", "ct", 0)
    assert app.name == f"k8s_main_p1_ct_{pod['metadata']['uid']}_0"
    assert app.spec_hash == podspec.container_hash(pod["spec"]["containers"][0])
    assert app.image == h.image and app.image_id.startswith("sha256:")
    assert app.started_at is not None and app.exit_code is None
    # Only this node's containers, and filtering by pod uid.
    assert h.runtime.list_containers(h.cluster, "another-node") == []
    assert h.runtime.list_containers(h.cluster, NODE, pod_uid="nope") == []
    assert len(h.runtime.list_containers(h.cluster, NODE, pod_uid=pod["metadata"]["uid"])) == 2
    # The sandbox keeps running (the pause binary sleeps for ever).
    time.sleep(0.3)
    assert h.state(sid).state == "running"


def test_stop_with_grace_then_remove(h: Harness) -> None:
    pod = h.pod()
    sid = h.start_sandbox(pod)
    cid = h.runtime.create_container(h.app_spec(pod, sid))
    h.runtime.start(cid)
    started = time.monotonic()
    h.runtime.stop(cid, 30)
    assert time.monotonic() - started < 10  # the container traps TERM: no wait for SIGKILL
    info = h.state(cid)
    assert info.state == "exited" and info.exit_code is not None
    assert info.finished_at is not None
    h.runtime.remove(cid)
    h.runtime.remove(sid)
    assert h.runtime.list_containers(h.cluster, NODE) == []
    h.runtime.remove(cid)  # removing a missing container is not an error
    with pytest.raises(rt.ContainerNotFoundError):
        h.runtime.inspect(cid)


@pytest.mark.parametrize("code", [0, 3])
def test_exit_codes(h: Harness, code: int) -> None:
    pod = h.pod()
    sid = h.start_sandbox(pod)
    cid = h.runtime.create_container(h.exiting(pod, sid, code))
    h.runtime.start(cid)
    assert wait_until(lambda: h.state(cid).state == "exited")
    assert h.state(cid).exit_code == code


def test_logs_tail(h: Harness) -> None:
    pod = h.pod()
    sid = h.start_sandbox(pod)
    lines = ["one", "two", "three", "four"]
    cid = h.runtime.create_container(h.printing(pod, sid, lines))
    h.runtime.start(cid)
    h.after_start(cid, lines)

    def tail_ok() -> bool:
        return b"".join(h.runtime.logs(cid, tail=2)).endswith(b"three\nfour\n")

    assert wait_until(tail_ok)
    everything = b"".join(h.runtime.logs(cid))
    assert everything.startswith(b"one\ntwo\n")


def test_events_for_start_die_destroy(h: Harness) -> None:
    stop = threading.Event()
    seen: list[rt.RuntimeEvent] = []
    ready = threading.Event()

    def consume() -> None:
        events = h.runtime.events(stop)
        ready.set()
        for event in events:
            seen.append(event)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    assert ready.wait(5)
    time.sleep(0.2)  # let the event subscription reach the engine
    pod = h.pod()
    sid = h.start_sandbox(pod)
    cid = h.runtime.create_container(h.app_spec(pod, sid))
    h.runtime.start(cid)
    h.runtime.remove(cid)  # a forced remove of a running container: die, then destroy
    try:

        def actions() -> set[str]:
            return {e.action for e in seen if e.container_id == cid}

        assert wait_until(lambda: {"start", "die", "destroy"} <= actions())
        event = next(e for e in seen if e.container_id == cid)
        assert event.labels[rt.POD_UID] == pod["metadata"]["uid"]
        assert event.labels[rt.CLUSTER_LABEL] == h.cluster
    finally:
        stop.set()
        t.join(timeout=5)
    assert not t.is_alive()


def test_missing_image_fails_fast(h: Harness) -> None:
    started = time.monotonic()
    with pytest.raises(rt.ImagePullError):
        h.runtime.ensure_image("127.0.0.1:1/missing:1", "IfNotPresent")
    assert time.monotonic() - started < 20
    with pytest.raises(rt.ImageNeverPullError, match="not present with pull policy of Never"):
        h.runtime.ensure_image("127.0.0.1:1/missing:1", "Never")


def test_local_image_is_used_without_pulling(h: Harness) -> None:
    got = h.runtime.ensure_image(h.image, "IfNotPresent")
    assert got.image_id.startswith("sha256:") and not got.pulled
    assert h.runtime.ensure_image(h.image, "Never").image_id == got.image_id


def test_engine_info(h: Harness) -> None:
    info = h.runtime.engine_info()
    assert info.cpus >= 1 and info.memory_bytes > 0
    assert info.version and info.kernel


def test_docker_pod_containers_share_localhost_and_hostname(h: Harness) -> None:
    """What the fake cannot show: joined containers share the sandbox's network and name."""
    if h.kind != "docker":
        pytest.skip("network namespaces exist only in the Docker runtime")
    pod = h.pod()
    sid = h.start_sandbox(pod)
    server = h.app_spec(
        pod,
        sid,
        "trap 'exit 0' TERM; mkdir -p /www && echo ok > /www/index.html; "
        "httpd -f -p 8080 -h /www & wait $!",
    )
    h.runtime.start(h.runtime.create_container(server))
    client_spec = podspec.app_spec(
        pod,
        {"name": "client", "image": h.image, "command": ["sh", "-c",
            "hostname; for i in $(seq 100); do "
            "wget -q -O - http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1"]},
        0,
        sid,
        NODE,
        h.cluster,
    )  # fmt: skip
    cid = h.runtime.create_container(client_spec)
    h.runtime.start(cid)
    assert wait_until(lambda: h.state(cid).state == "exited", timeout=30)
    output = b"".join(h.runtime.logs(cid))
    assert h.state(cid).exit_code == 0, output
    assert output.splitlines() == [pod["metadata"]["name"].encode(), b"ok"]


def test_policy_always_falls_back_to_the_local_image_when_no_registry_answers(h: Harness) -> None:
    local = "127.0.0.1:1/tinykube-test/busybox:1"  # its registry never answers
    if h.kind == "docker":
        import docker

        client = docker.from_env()
        client.images.get(h.image).tag(local)
        client.close()
    else:
        h.runtime.tag_image(h.image, local)
    try:
        got = h.runtime.ensure_image(local, "Always")
        assert got.offline_fallback_error and "connection refused" in got.offline_fallback_error
        assert got.image_id == h.runtime.ensure_image(h.image, "IfNotPresent").image_id
        h.runtime.offline_fallback = False
        with pytest.raises(rt.ImagePullError):
            h.runtime.ensure_image(local, "Always")
    finally:
        if h.kind == "docker":
            import docker

            client = docker.from_env()
            client.images.remove(local)
            client.close()


def _run(session: rt.ExecSession) -> tuple[bytes, bytes]:
    out, err = b"", b""
    while (item := session.read()) is not None:
        if item[0] == 1:
            out += item[1]
        else:
            err += item[1]
    return out, err


def _running_app(h: Harness) -> str:
    pod = h.pod()
    sid = h.start_sandbox(pod)
    cid = h.runtime.create_container(h.app_spec(pod, sid))
    h.runtime.start(cid)
    return str(cid)


def test_exec_output_exit_code_and_stdin(h: Harness) -> None:
    cid = _running_app(h)
    session = h.runtime.exec_open(cid, ["echo", "hi", "there"])
    assert _run(session) == (b"hi there\n", b"")
    assert session.exit_code() == 0
    session.close()
    session = h.runtime.exec_open(cid, ["false"])
    assert _run(session) == (b"", b"")
    assert session.exit_code() == 1
    session.close()
    session = h.runtime.exec_open(cid, ["cat"], stdin=True)
    session.write(b"line one\n")
    session.write(b"line two\n")
    session.close_stdin()
    assert _run(session) == (b"line one\nline two\n", b"")
    assert session.exit_code() == 0
    session.close()


def test_exec_in_a_stopped_container_fails(h: Harness) -> None:
    cid = _running_app(h)
    h.runtime.stop(cid, 5)
    with pytest.raises(rt.ContainerRuntimeError):
        h.runtime.exec_open(cid, ["echo", "x"])


def test_docker_exec_streams_tty_and_timeout(h: Harness) -> None:
    if h.kind != "docker":
        pytest.skip("shell scripts run only in the Docker runtime")
    cid = _running_app(h)
    session = h.runtime.exec_open(cid, ["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert _run(session) == (b"out\n", b"err\n")
    assert session.exit_code() == 4
    session.close()
    # A TTY has one stream, the terminal's; its size follows resize.
    session = h.runtime.exec_open(cid, ["sh"], stdin=True, tty=True)
    session.resize(90, 33)
    session.write(b"stty size; exit 5\n")
    out, _ = _run(session)
    assert b"33 90" in out
    assert session.exit_code() == 5
    session.close()
    # A command slower than the timeout: the read gives up.
    session = h.runtime.exec_open(cid, ["sleep", "5"], timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        session.read()
    assert time.monotonic() - started < 2
    session.close()


def test_image_user(h: Harness) -> None:
    assert h.runtime.image_user(h.image) == ""  # the test image sets no USER: root
    with pytest.raises(rt.ContainerRuntimeError):
        h.runtime.image_user("127.0.0.1:1/missing:1")


def test_docker_security_context_reaches_the_engine(h: Harness) -> None:
    """What the fake cannot show: the kernel enforces the securityContext's arguments."""
    if h.kind != "docker":
        pytest.skip("users, capabilities and sysctls exist only in the Docker runtime")
    pod = h.pod()
    pod["spec"]["securityContext"] = {
        "runAsUser": 1000,
        "runAsGroup": 3000,
        "fsGroup": 2000,
        "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
    }
    pod["spec"]["containers"][0]["securityContext"] = {
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "procMount": "Unmasked",
    }
    sid = h.start_sandbox(pod)
    script = (
        "echo id=$(id); echo port=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start); "
        "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -d ':\t ' | sed 's/^/status-/'; "
        "touch /probe 2>/dev/null && echo root=writable || echo root=read-only; "
        "echo masks=$(grep -cE ' /proc/(kcore|keys|timer_list) ' /proc/self/mountinfo)"
    )
    spec = h.app_spec(pod, sid, script)
    cid = h.runtime.create_container(spec)
    h.runtime.start(cid)
    assert wait_until(lambda: h.state(cid).state == "exited", timeout=30)
    out = b"".join(h.runtime.logs(cid)).decode()
    lines = [line for line in out.splitlines() if "=" in line or line.startswith("status-")]
    assert lines == [
        "id=uid=1000 gid=3000 groups=2000,3000",
        "port=0",  # the pod's sysctl, set on the sandbox, seen through its network namespace
        "status-CapEff0000000000000000",
        "status-NoNewPrivs1",
        "root=read-only",
        "masks=0",  # procMount Unmasked: nothing hidden under /proc
    ], out
    sandbox = h.runtime.client.api.inspect_container(sid)["HostConfig"]
    assert sandbox["CapDrop"] == ["ALL"] and sandbox["ReadonlyRootfs"] is True
    assert h.runtime.client.api.inspect_container(sid)["Config"]["User"] == "65535:65535"
