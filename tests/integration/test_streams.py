"""exec and port-forward through the whole path: tkctl (or the WebSocket client) → the real API
server over HTTP (werkzeug, real Redis) → the agent's node API → the FakeRuntime, whose sandboxes
get 127.0.0.1 as pod IP so that port-forward reaches a real local server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import simple_websocket
from click.testing import CliRunner, Result

from agent.apis import PODS
from agent.fake_runtime import FakeRuntime
from agent.loop import Agent
from agent.runtime import ContainerInfo
from common import channels, errors, spdy
from common.client import ApiClient
from common.wsclient import ChannelClient
from control.cli.main import cli
from control.cli.session import Session
from tests.integration import fakenode
from tests.integration.conftest import ADMIN_TOKEN, NODE_TOKEN, wait_for
from tests.integration.fakenode import NODE
from tests.unit.test_spdyforward import Client as SpdyClient

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def runtime() -> FakeRuntime:
    return fakenode.local_runtime()


@pytest.fixture
def agent(server: str, runtime: FakeRuntime) -> Iterator[Agent]:
    with fakenode.node(server, runtime) as a:
        yield a


def make_pod(admin: ApiClient, name: str = "web", containers: int = 1) -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": NODE,
            "containers": [
                {"name": f"c{i}" if i else "web", "image": "tinykube/web:1"}
                for i in range(containers)
            ],
        },
    }
    admin.create(PODS, pod, "default")

    def running() -> bool:
        status = admin.get(PODS, name, "default").get("status") or {}
        return status.get("phase") == "Running"

    assert wait_for(running, 10)
    return admin.get(PODS, name, "default")


@pytest.fixture
def tk(server: str, tmp_path: Path) -> Callable[..., Result]:
    def run(*args: str, input: str | bytes | None = None, token: str = ADMIN_TOKEN) -> Result:
        session = Session(server=server, token=token, env={}, home=str(tmp_path))
        return CliRunner().invoke(cli, list(args), obj=session, input=input)

    return run


def connect(server: str, path: str, params: dict[str, Any], **kw: Any) -> ChannelClient:
    return ChannelClient.connect(server, path, params, token=kw.pop("token", ADMIN_TOKEN), **kw)


def drain(stream: ChannelClient) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while (frame := stream.recv(timeout=10)) is not None:
        out[frame[0]] = out.get(frame[0], b"") + frame[1]
    return out


EXEC = "/api/v1/namespaces/default/pods/web/exec"


# -- exec -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("agent")
def test_exec_over_the_websocket_protocol(server: str, admin: ApiClient) -> None:
    make_pod(admin)
    stream = connect(server, EXEC, {"command": ["echo", "hi", "there"], "stdout": "true"})
    assert stream.protocol == channels.V5
    got = drain(stream)
    assert got[channels.STDOUT] == b"hi there\n"
    assert json.loads(got[channels.ERROR]) == {"metadata": {}, "status": "Success"}
    # An older client offering only v4 gets v4.
    stream = connect(server, EXEC, {"command": "true"}, protocols=(channels.V4,))
    assert stream.protocol == channels.V4
    assert json.loads(drain(stream)[channels.ERROR])["status"] == "Success"


def test_tty_exec_starts_with_the_first_resize(
    server: str, admin: ApiClient, agent: Agent, runtime: FakeRuntime
) -> None:
    make_pod(admin)
    params = {"command": "cat", "stdin": "true", "tty": "true"}
    stream = connect(server, EXEC, params)
    stream.send(channels.RESIZE, channels.resize_payload(120, 40))
    stream.send(channels.STDIN, b"typed")
    stream.send(channels.RESIZE, channels.resize_payload(80, 24))
    stream.send(channels.CLOSE, bytes([channels.STDIN]))
    got = drain(stream)
    assert got[channels.STDOUT] == b"typed" and channels.STDERR not in got
    assert runtime.execs[-1].sizes == [(120, 40), (80, 24)]
    assert runtime.execs[-1].tty


def test_exec_exit_code_and_stdin(
    server: str, admin: ApiClient, agent: Agent, runtime: FakeRuntime
) -> None:
    def handler(c: ContainerInfo, cmd: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
        return 3, b"out:" + stdin, b"oops\n"

    runtime.exec_handler = handler
    make_pod(admin)
    stream = connect(server, EXEC, {"command": ["sh", "-c", "exit 3"], "stdin": "true"})
    stream.send(channels.STDIN, b"some ")
    stream.send(channels.STDIN, b"input")
    stream.send(channels.CLOSE, bytes([channels.STDIN]))
    got = drain(stream)
    assert got[channels.STDOUT] == b"out:some input"
    assert got[channels.STDERR] == b"oops\n"
    status = json.loads(got[channels.ERROR])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert status["message"].endswith("error executing command [sh -c exit 3], exit code 3")
    assert channels.exit_of(got[channels.ERROR]) == (3, "")


def test_attach_relays_the_main_process_and_ends_with_success(
    server: str, admin: ApiClient, agent: Agent, runtime: FakeRuntime
) -> None:
    def handler(c: ContainerInfo, cmd: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
        assert cmd == ["attach"] and c.container_name == "web"
        return 3, b"main read:" + stdin, b""

    runtime.exec_handler = handler
    make_pod(admin)
    attach = "/api/v1/namespaces/default/pods/web/attach"
    stream = connect(server, attach, {"stdin": "true", "stdout": "true", "container": "web"})
    stream.send(channels.STDIN, b"line")
    stream.send(channels.CLOSE, bytes([channels.STDIN]))
    got = drain(stream)
    assert got[channels.STDOUT] == b"main read:line"
    # The kubelet's attach reports no exit code: kubectl run -i reads it from the pod.
    assert json.loads(got[channels.ERROR]) == {"metadata": {}, "status": "Success"}
    with pytest.raises(errors.BadRequestError, match="container nope is not valid for pod web"):
        connect(server, attach, {"container": "nope"})


def test_exec_refusals_are_statuses(server: str, admin: ApiClient, agent: Agent) -> None:
    make_pod(admin, containers=2)
    with pytest.raises(errors.ForbiddenError) as e:
        connect(server, EXEC, {"command": "true", "container": "web"}, token=NODE_TOKEN)
    assert 'cannot create resource "pods/exec"' in e.value.message
    with pytest.raises(errors.BadRequestError) as e:
        connect(server, EXEC, {"command": "true"})
    assert "a container name must be specified for pod web" in e.value.message
    with pytest.raises(errors.BadRequestError):
        connect(server, EXEC, {"container": "web"})
    with pytest.raises(errors.NotFoundError):
        connect(server, "/api/v1/namespaces/default/pods/nope/exec", {"command": "true"})


def test_exec_of_a_stopped_container_is_refused_by_the_agent(
    server: str, admin: ApiClient, agent: Agent, runtime: FakeRuntime
) -> None:
    runtime.add_image("tinykube/crasher:1")
    runtime.exit_on_start("tinykube/crasher:1", 1)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "nodeName": NODE,
            "restartPolicy": "Never",
            "containers": [
                {"name": "web", "image": "tinykube/web:1"},
                {"name": "done", "image": "tinykube/crasher:1"},
            ],
        },
    }
    admin.create(PODS, pod, "default")

    def one_ended() -> bool:
        statuses = (admin.get(PODS, "web", "default").get("status") or {}).get(
            "containerStatuses"
        ) or []
        return any("terminated" in (s.get("state") or {}) for s in statuses)

    assert wait_for(one_ended, 10)
    with pytest.raises(errors.NotFoundError) as e:
        connect(server, EXEC, {"command": "true", "container": "done"})
    assert e.value.message == 'container not found ("done")'


@pytest.mark.usefixtures("agent")
def test_tkctl_exec(tk: Callable[..., Result], admin: ApiClient, runtime: FakeRuntime) -> None:
    make_pod(admin)
    r = tk("exec", "web", "--", "echo", "hello", "-c", "x")
    assert (r.exit_code, r.stdout) == (0, "hello -c x\n"), r.output
    r = tk("exec", "-i", "web", "--", "cat", input="piped\ndata\n")
    assert (r.exit_code, r.stdout) == (0, "piped\ndata\n"), r.output
    # The old form without "--" still runs, with kubectl's deprecation warning.
    r = tk("exec", "web", "echo", "old")
    assert r.exit_code == 0 and r.stdout == "old\n"
    assert "exec [POD] [COMMAND] is DEPRECATED" in r.stderr
    # -t without a terminal on stdin: no TTY, said once.
    r = tk("exec", "-it", "web", "--", "cat", input="x")
    assert r.exit_code == 0 and r.stdout == "x"
    assert "Unable to use a TTY" in r.stderr

    def exits(c: ContainerInfo, cmd: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
        return int(cmd[-1].split()[-1]), b"", b"failing\n"

    runtime.exec_handler = exits
    r = tk("exec", "web", "--", "sh", "-c", "exit 3")
    assert r.exit_code == 3
    assert r.stderr == "failing\ncommand terminated with exit code 3\n"
    r = tk("exec", "web", "--", "sh", "-c", "exit 0")
    assert (r.exit_code, r.stderr) == (0, "failing\n")
    r = tk("exec", "nope", "--", "true")
    assert r.exit_code == 1
    assert r.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


# -- port-forward ------------------------------------------------------------------------------


class EchoServer:
    """A local TCP server that answers each line with ``echo: <line>`` and counts connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as f:
            for line in f:
                conn.sendall(b"echo: " + line)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    s = EchoServer()
    yield s
    s.close()


PF = "/api/v1/namespaces/default/pods/web/portforward"


@pytest.mark.usefixtures("agent")
def test_port_forward_stream(server: str, admin: ApiClient, echo: EchoServer) -> None:
    make_pod(admin)
    stream = connect(server, PF, {"ports": echo.port})
    first = [stream.recv(timeout=5), stream.recv(timeout=5)]
    prefix = channels.port_prefix(echo.port)
    assert sorted(first) == [(channels.DATA, prefix), (channels.PORT_ERROR, prefix)]
    stream.send(channels.DATA, b"one\n")
    assert stream.recv(timeout=5) == (channels.DATA, b"echo: one\n")
    stream.send(channels.CLOSE, bytes([channels.DATA]))  # half-close: the pod side ends
    assert drain(stream) == {}
    with pytest.raises(errors.BadRequestError):
        connect(server, PF, {"ports": "0"})


@pytest.mark.usefixtures("agent")
def test_port_forward_of_several_ports_on_one_websocket(
    server: str, admin: ApiClient, echo: EchoServer
) -> None:
    """The Python client's way: ?ports=P,Q, channels 2i (data) and 2i+1 (error) per port."""
    make_pod(admin)
    stream = connect(server, PF, {"ports": f"{echo.port},{echo.port}"})
    prefix = channels.port_prefix(echo.port)
    first = sorted(stream.recv(timeout=5) for _ in range(4))  # type: ignore[type-var]
    assert first == [(0, prefix), (1, prefix), (2, prefix), (3, prefix)]
    stream.send(0, b"first\n")
    assert stream.recv(timeout=5) == (0, b"echo: first\n")
    stream.send(2, b"second\n")
    assert stream.recv(timeout=5) == (2, b"echo: second\n")
    stream.send(channels.CLOSE, bytes([0]))
    stream.send(channels.CLOSE, bytes([2]))
    assert drain(stream) == {}  # both pod connections ended: so does the WebSocket
    assert echo.accepted == 2
    with pytest.raises(errors.BadRequestError, match="invalid port: 'x'"):
        connect(server, PF, {"ports": f"{echo.port},x"})


@pytest.mark.usefixtures("agent")
def test_port_forward_refused_port(server: str, admin: ApiClient) -> None:
    make_pod(admin)
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    got = drain(connect(server, PF, {"ports": port}))
    text = got[channels.PORT_ERROR][2:].decode()
    assert text.startswith(f"error forwarding port {port} to pod web, uid ")
    assert text.endswith(f"dial tcp 127.0.0.1:{port}: connect: connection refused")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.usefixtures("agent")
def test_tkctl_port_forward_concurrent_connections(
    server: str, admin: ApiClient, echo: EchoServer, tmp_path: Path
) -> None:
    from control.cli import portforward

    make_pod(admin)
    session = Session(server=server, token=ADMIN_TOKEN, env={}, home=str(tmp_path))
    pod = session.client().get(PODS, "web", "default")
    forwarder = portforward.Forwarder(session, pod)
    pair = forwarder.listen(portforward.PortPair(0, echo.port), ["127.0.0.1"])
    try:
        clients = [socket.create_connection(("127.0.0.1", pair.local)) for _ in range(3)]
        for i, c in enumerate(clients):
            c.sendall(f"hello {i}\n".encode())
        for i, c in enumerate(clients):
            c.settimeout(5)
            assert c.recv(100) == f"echo: hello {i}\n".encode()
        for c in clients:
            c.shutdown(socket.SHUT_WR)  # the echo server closes; so does the forwarded connection
            assert c.recv(100) == b""
            c.close()
        assert echo.accepted == 3
    finally:
        forwarder.close()
        session.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _listening(pair.local):
        time.sleep(0.05)
    assert not _listening(pair.local)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.usefixtures("agent")
def test_tkctl_port_forward_refuses_a_pod_that_is_not_running(
    tk: Callable[..., Result], admin: ApiClient
) -> None:
    admin.create(
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "waiting"},
            "spec": {"containers": [{"name": "c", "image": "tinykube/web:1"}]},
        },
        "default",
    )
    r = tk("port-forward", "pod/waiting", f"{_free_port()}:80")
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        "error: unable to forward port because pod is not running. Current status=Pending"
    )


# -- port-forward over SPDY/3.1, as kubectl speaks it ------------------------------------------


def spdy_upgrade(
    server: str, protocol: str = "portforward.k8s.io", path: str = PF
) -> tuple[socket.socket, str]:
    """``POST path`` with ``Upgrade: SPDY/3.1``: the socket and the answer's head."""
    parts = urlsplit(server)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {ADMIN_TOKEN}\r\nConnection: Upgrade\r\n"
            f"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {protocol}\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    return sock, head.decode()


def forward_twice(client: SpdyClient, port: int) -> None:
    """Two forwarded connections at once on one SPDY connection, each through the echo server."""
    pairs = []
    for rid in ("0", "1"):
        error = client.open("error", port, rid)
        client.send(spdy.Data(error, fin=True))
        pairs.append((error, client.open("data", port, rid)))
    for i, (_, data) in enumerate(pairs):
        client.send(spdy.Data(data, f"line {i}\n".encode(), fin=True))
    got = client.until_fin({sid for pair in pairs for sid in pair})
    for i, (error, data) in enumerate(pairs):
        assert got[data] == f"echo: line {i}\n".encode()
        assert not got.get(error)


@pytest.mark.usefixtures("agent")
def test_port_forward_over_a_spdy_upgrade(server: str, admin: ApiClient, echo: EchoServer) -> None:
    make_pod(admin)
    sock, head = spdy_upgrade(server)
    assert head.startswith("HTTP/1.1 101 ")
    assert "Upgrade: SPDY/3.1\r\n" in head
    assert "X-Stream-Protocol-Version: portforward.k8s.io\r\n" in head
    client = SpdyClient(sock)
    try:
        forward_twice(client, echo.port)
        client.send(spdy.Ping(1))
        assert client.recv() == spdy.Ping(1)
    finally:
        client.reader.close()
        sock.close()
    assert echo.accepted == 2


@pytest.mark.usefixtures("agent")
def test_a_spdy_upgrade_needs_the_port_forward_protocol(server: str, admin: ApiClient) -> None:
    make_pod(admin)
    sock, head = spdy_upgrade(server, "v4.channel.k8s.io")
    with sock:
        assert head.startswith("HTTP/1.1 403 ")
        body = sock.recv(4096).decode()
    assert (
        "unable to upgrade: unable to negotiate protocol: client supports "
        "[v4.channel.k8s.io], server accepts [portforward.k8s.io]"
    ) in body


class TunnelSocket:
    """The client's end of SPDY inside WebSocket binary messages, as a socket for SpdyClient."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.buffer = b""

    def sendall(self, data: bytes) -> None:
        self.ws.send(data)

    def makefile(self, mode: str) -> TunnelSocket:
        return self

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            message = self.ws.receive(timeout=10)
            if message is None:
                break
            self.buffer += message
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def close(self) -> None:
        self.ws.close()


@pytest.mark.usefixtures("agent")
def test_port_forward_over_the_websocket_tunnel(
    server: str, admin: ApiClient, echo: EchoServer
) -> None:
    make_pod(admin)
    url = server.replace("http://", "ws://") + PF
    ws = simple_websocket.Client(
        url,
        subprotocols=["SPDY/3.1+portforward.k8s.io"],
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert ws.subprotocol == "SPDY/3.1+portforward.k8s.io"
    client = SpdyClient(TunnelSocket(ws))  # type: ignore[arg-type]
    try:
        forward_twice(client, echo.port)
    finally:
        ws.close()


def test_exec_over_spdy(server: str, admin: ApiClient, agent: Agent, runtime: FakeRuntime) -> None:
    def handler(c: ContainerInfo, cmd: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
        return 3, b"out:" + stdin, b"oops\n"

    runtime.exec_handler = handler
    make_pod(admin)
    path = f"{EXEC}?command=sh&command=-c&command=exit+3&stdin=true&stdout=true&stderr=true"
    sock, head = spdy_upgrade(server, "v5.channel.k8s.io,v4.channel.k8s.io", path)
    assert head.startswith("HTTP/1.1 101 ")
    assert "X-Stream-Protocol-Version: v5.channel.k8s.io\r\n" in head  # the kubelet's choice
    client = SpdyClient(sock)
    try:
        ids = {kind: client.open(kind, 0) for kind in ("error", "stdin", "stdout", "stderr")}
        assert [client.recv() for _ in ids] == [spdy.SynReply(i) for i in ids.values()]
        client.send(spdy.Data(ids["stdin"], b"data", fin=True))
        got = client.until_fin({ids["error"], ids["stdout"], ids["stderr"]})
    finally:
        client.reader.close()
        sock.close()
    assert got[ids["stdout"]] == b"out:data" and got[ids["stderr"]] == b"oops\n"
    assert channels.exit_of(got[ids["error"]]) == (3, "")


def test_exec_over_spdy_v2(
    server: str, admin: ApiClient, agent: Agent, runtime: FakeRuntime
) -> None:
    """An older client's protocol: the failure's message is the error stream's text."""
    runtime.exec_handler = lambda c, cmd, stdin: (3, b"out", b"")
    make_pod(admin)
    path = f"{EXEC}?command=sh&command=-c&command=exit+3&stdout=true"
    sock, head = spdy_upgrade(server, "v2.channel.k8s.io,channel.k8s.io", path)
    assert "X-Stream-Protocol-Version: v2.channel.k8s.io\r\n" in head
    client = SpdyClient(sock)
    try:
        ids = {kind: client.open(kind, 0) for kind in ("error", "stdout")}
        assert [client.recv() for _ in ids] == [spdy.SynReply(i) for i in ids.values()]
        got = client.until_fin({ids["error"], ids["stdout"]})
    finally:
        client.reader.close()
        sock.close()
    assert got == {ids["stdout"]: b"out", ids["error"]: (
        b"command terminated with non-zero exit code: error executing command "
        b"[sh -c exit 3], exit code 3"
    )}  # fmt: skip


@pytest.mark.usefixtures("agent")
def test_spdy_exec_refusals_come_before_the_upgrade(server: str, admin: ApiClient) -> None:
    make_pod(admin)
    sock, head = spdy_upgrade(server, "v4.channel.k8s.io", f"{EXEC}?command=true")
    sock.close()
    assert head.startswith("HTTP/1.1 400 ")  # no stdin, stdout nor stderr
    sock, head = spdy_upgrade(
        server, "v4.channel.k8s.io", f"{EXEC}?command=true&stdout=true&container=nope"
    )
    sock.close()
    assert head.startswith("HTTP/1.1 400 ")
    sock, head = spdy_upgrade(server, "v1.channel.k8s.io", f"{EXEC}?command=true&stdout=true")
    with sock:
        assert head.startswith("HTTP/1.1 403 ")
        assert (
            "server accepts [v5.channel.k8s.io v4.channel.k8s.io v3.channel.k8s.io "
            "v2.channel.k8s.io channel.k8s.io]"
        ) in sock.recv(4096).decode()
