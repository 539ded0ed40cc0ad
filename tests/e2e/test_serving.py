"""``tinykube control`` as processes: API workers whose open watches cost no thread each, and the
controllers in a process of their own, started again when it dies and gone with its master."""

from __future__ import annotations

import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from common.redis_server import free_port
from tests.e2e.conftest import wait_for

ADMIN = "admin-token"
WATCHES = 1000
WORKERS = 2
# Threads an API worker may run whatever its connections: gevent's hub and its small resolver
# pool. A thread per watch would be a thousand.
MAX_WORKER_THREADS = 20
CONTROLLERS = "control.controllerprocess"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    metrics_port: int = 0  # the controller process's /metrics

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, timeout: float = 10, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kw)

    def children(self) -> dict[int, str]:
        """The master's children: pid → command line."""
        out = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid:
                out[int(entry.name)] = cmdline
        return out

    def workers(self) -> list[int]:
        return [pid for pid, cmd in self.children().items() if CONTROLLERS not in cmd]

    def controllers(self) -> list[int]:
        return [pid for pid, cmd in self.children().items() if CONTROLLERS in cmd]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serving")
    tokens = tmp / "tokens.csv"
    tokens.write_text(f'{ADMIN},admin,admin,"system:masters"\n')
    port, metrics_port = free_port(), free_port()
    log_path = tmp / "control.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the process writes it until the end
    proc = subprocess.Popen(
        [sys.executable, "-m", "control", "--redis-url", redis_url,
         "--redis-prefix", f"s{uuid.uuid4().hex[:8]}:", "--port", str(port),
         "--token-auth-file", str(tokens), "--workers", str(WORKERS),
         "--controller-metrics-address", f"127.0.0.1:{metrics_port}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    s = Server(proc, port, log_path, metrics_port)
    try:
        wait_for("the API server", lambda: _healthy(s), timeout=60)
        wait_for("the workers and the controller process", lambda: len(s.children()) == 3)
        yield s
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def _healthy(s: Server) -> bool:
    try:
        return s.call("GET", "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no thread count for {pid}")


@pytest.fixture
def many_files() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4 * WATCHES) if hard != resource.RLIM_INFINITY else 4 * WATCHES
    if want < 2 * WATCHES:
        pytest.skip(f"the open-file limit ({hard}) is too low for {WATCHES} sockets")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_watch(port: int, path: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\r\n".encode())
    return s


def read_heads(socks: list[socket.socket], timeout: float) -> dict[socket.socket, bytes]:
    """What each socket has sent once its answer's head is in (or the timeout is over)."""
    got = {s: b"" for s in socks}
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    waiting = set(socks)
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            got[s] += s.recv(65536)
            if b"\r\n\r\n" in got[s]:
                waiting.discard(s)
                sel.unregister(s)
    sel.close()
    return got


def read_until(socks: list[socket.socket], marker: bytes, timeout: float) -> int:
    """How many sockets sent ``marker`` within ``timeout``."""
    seen: set[socket.socket] = set()
    data = {s: b"" for s in socks}
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while len(seen) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            chunk = s.recv(65536)
            data[s] += chunk
            if marker in data[s]:
                seen.add(s)
            if marker in data[s] or not chunk:
                sel.unregister(s)
    sel.close()
    return len(seen)


@pytest.mark.usefixtures("many_files")
def test_a_thousand_open_watches_leave_a_get_answered(server: Server) -> None:
    name = f"w{uuid.uuid4().hex[:6]}"
    socks = [open_watch(server.port, f"{LEASES}?watch=true") for _ in range(WATCHES)]
    try:
        heads = read_heads(socks, timeout=60)
        codes = [h.split(b" ", 2)[1] if h else b"-" for h in heads.values()]
        assert codes.count(b"200") == WATCHES, {c: codes.count(c) for c in set(codes)}

        got = server.call("GET", "/api/v1/namespaces/default")
        assert got.status_code == 200, got.text
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name},
        }
        created = server.call("POST", LEASES, json=lease)
        assert created.status_code == 201, created.text
        assert read_until(socks, f'"name":"{name}"'.encode(), timeout=60) == WATCHES

        threads = {pid: threads_of(pid) for pid in server.workers()}
        print(f"\n{WATCHES} open watches: API worker threads {threads}")
        assert len(threads) == WORKERS
        assert all(n <= MAX_WORKER_THREADS for n in threads.values()), threads
    finally:
        for s in socks:
            s.close()
    assert "Too many connections" not in server.log.read_text()


def test_the_controllers_run_in_their_own_process_and_come_back_when_killed(
    server: Server,
) -> None:
    [first] = server.controllers()
    replicaset = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "before"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "before"}},
                 "template": {"metadata": {"labels": {"app": "before"}},
                              "spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
    }  # fmt: skip
    assert server.call("POST", "/apis/apps/v1/namespaces/default/replicasets",
                       json=replicaset).status_code == 201  # fmt: skip
    wait_for("pods of the first ReplicaSet", lambda: pods_of(server, "before") == 2)

    subprocess.run(["kill", "-9", str(first)], check=True)
    [second] = wait_for("a new controller process", lambda: _other(server, first), timeout=30)
    assert second != first
    assert all(pid != first for pid in server.children())
    replicaset["metadata"]["name"] = "after"
    replicaset["spec"]["selector"]["matchLabels"]["app"] = "after"
    replicaset["spec"]["template"]["metadata"]["labels"]["app"] = "after"
    assert server.call("POST", "/apis/apps/v1/namespaces/default/replicasets",
                       json=replicaset).status_code == 201  # fmt: skip
    wait_for("pods of the second ReplicaSet", lambda: pods_of(server, "after") == 2)


def _other(server: Server, old: int) -> list[int] | None:
    now = server.controllers()
    return now if now and old not in now else None


def pods_of(server: Server, app: str) -> int:
    got = server.call("GET", f"/api/v1/namespaces/default/pods?labelSelector=app%3D{app}")
    return len(got.json()["items"])


def start_one(tmp_path: Path, redis_url: str, *flags: str) -> Server:
    """Another ``tinykube control`` with one API worker."""
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f'{ADMIN},admin,admin,"system:masters"\n')
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "control", "--redis-url", redis_url,
         "--redis-prefix", f"s{uuid.uuid4().hex[:8]}:", "--port", str(port),
         "--token-auth-file", str(tokens), "--workers", "1", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    return Server(proc, port, tmp_path / "none")


def test_no_controllers_starts_no_controller_process(tmp_path: Path, redis_url: str) -> None:
    s = start_one(tmp_path, redis_url, "--no-controllers")
    try:
        wait_for("the API server", lambda: _healthy(s), timeout=60)
        time.sleep(2)  # the master would have started it within a second
        assert s.controllers() == []
        assert len(s.workers()) == 1
    finally:
        s.proc.kill()
        s.proc.wait(10)


def test_the_controller_process_goes_with_its_master(tmp_path: Path, redis_url: str) -> None:
    s = start_one(tmp_path, redis_url)
    proc = s.proc
    try:
        wait_for("a worker and the controller process", lambda: len(s.controllers()) == 1
                 and len(s.workers()) == 1)  # fmt: skip
        children = list(s.children())
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_for("the master's children gone", lambda: not any(map(alive, children)), timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _listed_namespaces(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (sample.name == "apiserver_request_total" and labels.get("verb") == "LIST"
                    and labels.get("resource") == "namespaces"):  # fmt: skip
                total += sample.value
    return total


def test_metrics_sum_every_worker_and_the_controllers_serve_their_own(server: Server) -> None:
    before = _listed_namespaces(server.call("GET", "/metrics").text)
    for _ in range(20):  # a connection each: the workers share them
        assert server.call("GET", "/api/v1/namespaces").status_code == 200
    for _ in range(4):  # whichever worker answers, it counts every worker's requests
        scraped = server.call("GET", "/metrics")
        assert scraped.status_code == 200
        assert _listed_namespaces(scraped.text) == before + 20
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    wait_for("the controller process's /metrics", lambda: _answers(url))
    own = requests.get(url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert own.status_code == 200
    assert 'workqueue_adds_total{name="replicaset"}' in own.text
    assert "apiserver_request_total{" not in own.text  # the API workers' are not its own
    assert requests.get(url, timeout=10).status_code == 401


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    return True
