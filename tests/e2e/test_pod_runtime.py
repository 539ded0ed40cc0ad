"""Pod runtime fidelity on real Docker, driven with tkctl and the docker CLI as a user types them:
the seed's self-healing scenario (docker rm -f, port-forward, exec, logs), containers of a pod
sharing localhost, restart policies and the STATUS column, readiness and liveness probes, and
the log options. These share the session's two-node ``cluster``."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from common.redis_server import free_port
from tests.e2e.conftest import BIN, ROOT, Cluster, wait_for

# Every pod this module makes, removed at its end so the shared cluster is left as found.
PODS = ("hello-kiamol", "hello-multi", "never-err", "onfail-ok", "always-crash", "onfail-crash",
        "no-image", "probed", "ticker", "stubborn")  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def leave_no_pods(cluster: Cluster) -> Iterator[None]:
    yield
    cluster.tkctl("delete", "deployment", "pf-web", "--ignore-not-found", check=False)
    cluster.tkctl("delete", "pods", *PODS, "--ignore-not-found", check=False, timeout=120)
    wait_for("no pf-web pods", lambda: not cluster.json("get", "pods", "-l", "app=pf-web")["items"])


def pod(cluster: Cluster, name: str) -> dict[str, Any]:
    return dict(cluster.json("get", "pod", name))


def ready(cluster: Cluster, name: str) -> dict[str, Any] | None:
    p = pod(cluster, name)
    statuses = p["status"].get("containerStatuses") or []
    ok = p["status"].get("phase") == "Running" and statuses and all(s["ready"] for s in statuses)
    return p if ok else None


def row(cluster: Cluster, name: str) -> list[str]:
    """The ``get pod`` row: NAME READY STATUS RESTARTS [(AGO)] AGE."""
    return cluster.tkctl("get", "pod", name, "--no-headers").stdout.split()


def docker_ls(cluster: Cluster, container: str) -> list[str]:
    """The seed's lookup, with the real docker CLI (narrowed to this cluster's containers)."""
    out = subprocess.run(
        ["docker", "container", "ls", "-q", "--filter",
         f"label=io.kubernetes.container.name={container}",
         "--filter", f"label=tinykube.io/cluster={cluster.cluster_id}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.split()


def apply(cluster: Cluster, manifest: str) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=textwrap.dedent(manifest))


class PortForward:
    """``tkctl port-forward`` running in the background, stopped with Ctrl-C (SIGINT)."""

    def __init__(self, cluster: Cluster, *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "tkctl"), "--kubeconfig", str(cluster.kubeconfig), "port-forward", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.first_line = self.proc.stdout.readline()

    def stop(self) -> tuple[int, str, str]:
        self.proc.send_signal(2)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, self.first_line + out, err


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
        return str(resp.read().decode())


def test_seed_scenario_heal_port_forward_exec_logs(cluster: Cluster) -> None:
    cluster.tkctl("run", "hello-kiamol", "--image=tinykube/web:1", "--port=80")
    first = wait_for("hello-kiamol ready", lambda: ready(cluster, "hello-kiamol"))
    (old,) = docker_ls(cluster, "hello-kiamol")
    assert first["status"]["containerStatuses"][0]["containerID"].startswith(f"docker://{old}")
    # docker rm -f: a new container at once, RESTARTS 1, no back-off.
    started = time.monotonic()
    subprocess.run(["docker", "container", "rm", "-f", old], capture_output=True, check=True)
    new = wait_for("a new container", lambda: [c for c in docker_ls(cluster, "hello-kiamol")
                                               if c != old], every=0.05)  # fmt: skip
    assert time.monotonic() - started < 3
    healed = wait_for("hello-kiamol ready again", lambda: ready(cluster, "hello-kiamol"))
    status = healed["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1
    assert status["containerID"].startswith(f"docker://{new[0]}")
    assert status["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert row(cluster, "hello-kiamol")[1:4] == ["1/1", "Running", "1"]
    # port-forward 8080:80 (a free local port), two requests at once.
    local = free_port()
    pf = PortForward(cluster, "pod/hello-kiamol", f"{local}:80")
    try:
        assert pf.first_line == f"Forwarding from 127.0.0.1:{local} -> 80\n"
        with ThreadPoolExecutor(2) as pool:
            pages = list(pool.map(lambda _: fetch(local), range(2)))
        assert pages == ["Hello from hello-kiamol\n"] * 2
    finally:
        code, out, err = pf.stop()
    assert code == 0, err
    assert out.count(f"Handling connection for {local}") == 2
    # exec a shell command; its exit code becomes tkctl's.
    r = cluster.tkctl("exec", "hello-kiamol", "--", "sh", "-c", "hostname; exit 3", check=False)
    assert (r.returncode, r.stdout) == (3, "hello-kiamol\n")
    assert r.stderr == "command terminated with exit code 3\n"
    # The seed's own form: exec -it POD sh (no "--"), here with piped input.
    r = cluster.tkctl("exec", "-it", "hello-kiamol", "sh", stdin="echo $((6 * 7))\nexit\n")
    assert r.stdout == "42\n"
    assert "kubectl exec [POD] [COMMAND] is DEPRECATED" in r.stderr
    # With a terminal: raw mode, the terminal's size, a new size after SIGWINCH, the exit code.
    assert exec_in_a_terminal(cluster, "hello-kiamol") == (b"30 100", b"40 120", 7)
    # The requests above are in the log.
    tail = cluster.tkctl("logs", "--tail=2", "hello-kiamol").stdout.splitlines()
    assert len(tail) == 2 and all(line.endswith("response:200") for line in tail), tail


def exec_in_a_terminal(cluster: Cluster, name: str) -> tuple[bytes | None, bytes | None, int]:
    """``tkctl exec -it NAME -- sh -c ...`` on a pseudo-terminal: the sizes ``stty size``
    reports before and after a resize (each input line prints it), and tkctl's exit code once
    the terminal sends EOF (Ctrl-D); the terminal's modes are restored at the end."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    modes = termios.tcgetattr(slave)
    script = "while read line; do stty size; done; exit 7"
    proc = subprocess.Popen(
        [str(BIN / "tkctl"), "--kubeconfig", str(cluster.kubeconfig), "exec", "-it", name,
         "--", "sh", "-c", script],
        stdin=slave, stdout=slave, stderr=slave,
    )  # fmt: skip

    def size_becomes(want: bytes) -> bytes | None:
        got, deadline = None, time.monotonic() + 20
        while got != want and time.monotonic() < deadline:
            os.write(master, b"\n")  # one more line: one more size, until the wanted one shows
            got = _read_until(master, rb"(\d+ \d+)\r\n", timeout=1, check=False)
        return got

    try:
        first = size_becomes(b"30 100")
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        proc.send_signal(signal.SIGWINCH)
        second = size_becomes(b"40 120")
        os.write(master, b"\x04")
        code = proc.wait(timeout=30)
        assert termios.tcgetattr(slave) == modes
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    return first, second, code


def _read_until(fd: int, pattern: bytes, timeout: float = 20, check: bool = True) -> bytes | None:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            seen += os.read(fd, 4096)
            match = re.search(pattern, seen)
            if match:
                return match.group(1)
    if check:
        raise AssertionError(f"no {pattern!r} in {seen!r}")
    return None


def test_port_forward_to_a_refused_port_and_a_deployment(cluster: Cluster) -> None:
    apply(cluster, """\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: pf-web}
        spec:
          replicas: 1
          selector: {matchLabels: {app: pf-web}}
          template:
            metadata: {labels: {app: pf-web}}
            spec:
              containers: [{name: web, image: tinykube/web:1}]
        """)  # fmt: skip

    def deployed() -> bool:
        items = cluster.json("get", "pods", "-l", "app=pf-web")["items"]
        return any(ready(cluster, p["metadata"]["name"]) for p in items)

    wait_for("a ready pod of deploy/pf-web", deployed, timeout=90)
    local, refused = free_port(), free_port()
    pf = PortForward(cluster, "deploy/pf-web", f"{local}:80", f"{refused}:81")
    try:
        assert fetch(local).startswith("Hello from pf-web-")
        with pytest.raises(OSError):
            fetch(refused)
    finally:
        code, out, err = pf.stop()
    assert code == 0
    assert f"Forwarding from 127.0.0.1:{refused} -> 81" in out
    assert f"an error occurred forwarding {refused} -> 81: " in err
    assert "connect: connection refused" in err
    logs = cluster.tkctl("logs", "deploy/pf-web", "--tail=1").stdout
    assert logs.strip().endswith("response:200")
    # Through a Service: its port by name, turned into the ready endpoint's target port.
    apply(cluster, """\
        apiVersion: v1
        kind: Service
        metadata: {name: pf-web}
        spec:
          selector: {app: pf-web}
          ports: [{name: web, port: 8080, targetPort: 80}]
        """)  # fmt: skip
    via = free_port()
    pf = PortForward(cluster, "svc/pf-web", f"{via}:web")
    try:
        assert pf.first_line == f"Forwarding from 127.0.0.1:{via} -> 80\n"
        assert fetch(via).startswith("Hello from pf-web-")
    finally:
        code, _, _ = pf.stop()
        cluster.tkctl("delete", "service", "pf-web")
    assert code == 0


def test_multi_container_pod_shares_localhost(cluster: Cluster) -> None:
    cluster.tkctl("apply", "-f", str(ROOT / "examples" / "pod-multi.yaml"))
    wait_for("hello-multi ready", lambda: ready(cluster, "hello-multi"))

    def fetched() -> str:
        out = cluster.tkctl("logs", "hello-multi", "-c", "fetcher", "--tail=5").stdout
        return out if "Hello from hello-multi" in out else ""

    wait_for("the fetcher to reach web on localhost", fetched, timeout=30)
    r = cluster.tkctl("logs", "hello-multi", check=False)
    assert r.returncode == 1
    assert "a container name must be specified for pod hello-multi" in r.stderr
    r = cluster.tkctl("exec", "hello-multi", "--", "wget", "-q", "-O", "-", "http://localhost:80")
    assert r.stdout == "Hello from hello-multi\n"
    assert r.stderr == 'Defaulted container "web" out of: web, fetcher\n'
    r = cluster.tkctl("exec", "hello-multi", "-c", "fetcher", "--", "hostname")
    assert r.stdout == "hello-multi\n"


CRASHER = """\
    apiVersion: v1
    kind: Pod
    metadata: {{name: {name}}}
    spec:
      restartPolicy: {policy}
      containers:
      - name: app
        image: tinykube/crasher:1
        env: [{{name: EXIT_CODE, value: "{code}"}}, {{name: CRASH_AFTER, value: "0.2"}}]
"""


@pytest.mark.parametrize(
    ("name", "policy", "code", "status", "phase", "restarts"),
    [
        ("never-err", "Never", 1, "Error", "Failed", 0),
        ("onfail-ok", "OnFailure", 0, "Completed", "Succeeded", 0),
        ("always-crash", "Always", 1, "CrashLoopBackOff", "Running", None),
        ("onfail-crash", "OnFailure", 2, "CrashLoopBackOff", "Running", None),
    ],
)
def test_restart_policies_and_status_column(
    cluster: Cluster, name: str, policy: str, code: int, status: str, phase: str,
    restarts: int | None,
) -> None:  # fmt: skip
    apply(cluster, CRASHER.format(name=name, policy=policy, code=code))
    cells = wait_for(f"{name} {status}", lambda: (r := row(cluster, name))[2] == status and r)
    p = pod(cluster, name)
    assert p["status"]["phase"] == phase
    count = p["status"]["containerStatuses"][0]["restartCount"]
    if restarts is not None:
        assert count == restarts and cells[3] == str(restarts)
    else:
        # The first exit restarts at once; the next waits (base 10 s): CrashLoopBackOff.
        assert count >= 1
        waiting = p["status"]["containerStatuses"][0]["state"].get("waiting") or {}
        terminated = p["status"]["containerStatuses"][0]["lastState"]["terminated"]
        assert terminated["exitCode"] == code and terminated["reason"] == "Error"
        assert waiting.get("message", "").startswith("back-off 10s restarting failed container=app")


def test_terminating_in_the_status_column(cluster: Cluster) -> None:
    apply(cluster, """\
        apiVersion: v1
        kind: Pod
        metadata: {name: stubborn}
        spec:
          terminationGracePeriodSeconds: 3
          containers:
          - name: app
            image: tinykube/sleeper:1
            command: [sh, -c, "trap '' TERM; while true; do sleep 1; done"]
        """)  # fmt: skip
    wait_for("stubborn ready", lambda: ready(cluster, "stubborn"))
    started = time.monotonic()
    cluster.tkctl("delete", "pod", "stubborn", "--wait=false")
    assert row(cluster, "stubborn")[2] == "Terminating"
    # SIGTERM is ignored: the agent kills it when the grace period ends, then the pod goes.
    wait_for("stubborn gone", lambda: cluster.tkctl("get", "pod", "stubborn", check=False)
             .returncode == 1)  # fmt: skip
    assert time.monotonic() - started >= 3


def test_image_pull_errors_in_the_status_column(cluster: Cluster) -> None:
    cluster.tkctl("run", "no-image", "--image=127.0.0.1:1/missing:1")
    seen: set[str] = set()

    def both() -> bool:
        seen.add(row(cluster, "no-image")[2])
        return {"ErrImagePull", "ImagePullBackOff"} <= seen

    wait_for("ErrImagePull then ImagePullBackOff", both, timeout=60, every=0.3)
    assert row(cluster, "no-image")[1] == "0/1"


def test_readiness_gates_ready_and_liveness_restarts(cluster: Cluster) -> None:
    apply(cluster, """\
        apiVersion: v1
        kind: Pod
        metadata: {name: probed}
        spec:
          containers:
          - name: web
            image: tinykube/web:1
            readinessProbe:
              httpGet: {path: /ready, port: 80}
              periodSeconds: 1
            livenessProbe:
              exec: {command: [cat, /www/index.html]}
              periodSeconds: 1
              failureThreshold: 2
        """)  # fmt: skip
    wait_for("probed Running", lambda: pod(cluster, "probed")["status"].get("phase") == "Running")

    def unready_seen() -> bool:
        events = cluster.tkctl("get", "events", "--field-selector",
                               "involvedObject.name=probed").stdout  # fmt: skip
        return "Readiness probe failed: HTTP probe failed with statuscode: 404" in events

    wait_for("a failed readiness probe", unready_seen)
    assert row(cluster, "probed")[1:3] == ["0/1", "Running"]
    conditions = {c["type"]: c["status"] for c in pod(cluster, "probed")["status"]["conditions"]}
    assert conditions["Ready"] == conditions["ContainersReady"] == "False"
    cluster.tkctl("exec", "probed", "--", "sh", "-c", "echo ok > /www/ready")
    wait_for("probed ready", lambda: ready(cluster, "probed"))
    # Liveness: remove what the probe reads; the container is killed and started again.
    cluster.tkctl("exec", "probed", "--", "rm", "/www/index.html")
    restarted = wait_for(
        "a liveness restart", lambda: (r := row(cluster, "probed"))[3] == "1" and r
    )
    assert restarted[1] == "0/1"  # the new container has no /www/ready: unready again
    events = cluster.tkctl("get", "events", "--field-selector", "involvedObject.name=probed").stdout
    assert "Container web failed liveness probe, will be restarted" in events
    assert "Liveness probe failed: cat: can't open '/www/index.html'" in events
    # The killed container's log is still there for --previous.
    previous = cluster.tkctl("logs", "probed", "--previous").stdout
    assert "web: serving http on port 80 as probed" in previous
    assert "web: SIGTERM, stopping" in previous


def test_log_options(cluster: Cluster) -> None:
    cluster.tkctl("run", "ticker", "--image=tinykube/sleeper:1", "--command", "--", "sh", "-c",
                  "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo tick $i; "
                  "sleep 0.2 & wait $!; done")  # fmt: skip
    wait_for("ticker ready", lambda: ready(cluster, "ticker"))
    stamped = cluster.tkctl("logs", "ticker", "--timestamps", "--tail=1").stdout
    stamp, _, text = stamped.strip().partition(" ")
    assert text.startswith("tick ") and stamp.endswith("Z") and "T" in stamp
    follow = subprocess.Popen(
        [str(BIN / "tkctl"), "--kubeconfig", str(cluster.kubeconfig), "logs", "-f", "ticker",
         "--tail=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert follow.stdout is not None
    lines = [follow.stdout.readline() for _ in range(4)]
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(numbers[0], numbers[0] + 4))  # new lines keep coming
    # Deleting the pod stops the container: the stream ends and tkctl exits 0.
    cluster.tkctl("delete", "pod", "ticker", "--wait=false")
    follow.communicate(timeout=60)
    assert follow.returncode == 0
