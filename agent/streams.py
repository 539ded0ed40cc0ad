"""The node API's streams: exec into a container and port-forward to a pod, for the API server.

The API server sends ``POST /exec/NS/POD/CONTAINER?command=..&stdin=&tty=`` or
``POST /portForward/NS/POD?port=P`` with ``Upgrade: tinykube-channels``. Anything wrong is
answered before the upgrade with a plain-text error; otherwise ``101`` and then
``common.channels`` frames both ways: exec runs through the runtime (``docker exec``) and ends
with one Status frame on channel 3; port-forward dials the pod IP (this host holds the pod's
network) and reports a refused port as text on channel 1. Effectful (sockets, runtime).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler

from agent.runtime import ContainerInfo, ContainerRuntimeError, ExecSession, Runtime
from common import channels
from common.channelsock import ChannelSocket

log = logging.getLogger(__name__)

# How long dialing a pod's port may take before the forward is reported failed.
DIAL_TIMEOUT = 5.0
# How long an exec that lost its client may take to report an exit code.
GONE_EXIT_WAIT = 0.5
# How long a TTY exec waits for the client's first message (its terminal size) before starting.
FIRST_RESIZE_WAIT = 1.0


class Refused(Exception):
    """A stream request answered with an HTTP error before any upgrade."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def running_container(
    containers: list[ContainerInfo], namespace: str, pod: str, name: str
) -> ContainerInfo:
    """The running container ``name`` of the pod (the newest attempt)."""
    mine = [
        c
        for c in containers
        if c.role == "app"
        and c.state == "running"
        and c.pod_namespace == namespace
        and c.pod_name == pod
        and c.container_name == name
    ]
    if not mine:
        raise Refused(404, f'container not found ("{name}")')
    return max(mine, key=lambda c: c.attempt)


def pod_sandbox(containers: list[ContainerInfo], namespace: str, pod: str) -> ContainerInfo:
    """The running sandbox (network namespace) of the pod, which must have an IP."""
    mine = [
        c
        for c in containers
        if c.role == "sandbox"
        and c.state == "running"
        and c.pod_namespace == namespace
        and c.pod_name == pod
        and c.ip
    ]
    if not mine:
        raise Refused(404, f'pod "{pod}" has no running sandbox on this node')
    return max(mine, key=lambda c: c.attempt)


def upgrade(handler: BaseHTTPRequestHandler) -> ChannelSocket:
    """Answer 101 and take the connection over for frames."""
    handler.send_response(101)
    handler.send_header("Upgrade", channels.UPGRADE)
    handler.send_header("Connection", "Upgrade")
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True
    return ChannelSocket(handler.connection, handler.rfile)  # type: ignore[arg-type]


# -- exec -----------------------------------------------------------------------------------


def serve_exec(
    handler: BaseHTTPRequestHandler,
    runtime: Runtime,
    target: ContainerInfo,
    command: list[str],
    *,
    stdin: bool,
    tty: bool,
) -> None:
    """Upgrade, then start the command: with a TTY, once the client's first message (kubectl
    and tkctl send the terminal's size first) has come, so the TTY is sized as the command starts
    (Docker before API 1.42 cannot size it at creation: a command that asks at once may still
    see 0x0)."""
    if not command:
        raise Refused(400, "you must specify at least one command for the container")
    conn = upgrade(handler)
    size, pending = _first_resize(conn, tty)
    try:
        session = runtime.exec_open(target.id, command, stdin=stdin, tty=tty, size=size)
    except ContainerRuntimeError as e:
        conn.send(channels.ERROR, json.dumps(channels.exec_status(command, None, str(e))).encode())
        conn.close()
        return
    log.info("exec: %s in %s/%s/%s", command[0], target.pod_namespace, target.pod_name,
             target.container_name)  # fmt: skip
    run_exec(conn, session, command, pending)


def _first_resize(
    conn: ChannelSocket, tty: bool
) -> tuple[tuple[int, int] | None, tuple[int, bytes] | None]:
    """The terminal size the client sends first (or None), and a first frame that was not it."""
    if not tty or not conn.wait_readable(FIRST_RESIZE_WAIT):
        return None, None
    pending = conn.recv()
    if pending is not None and pending[0] == channels.RESIZE:
        return channels.parse_resize(pending[1]), None
    return None, pending


def serve_attach(
    handler: BaseHTTPRequestHandler, runtime: Runtime, target: ContainerInfo, *, stdin: bool
) -> None:
    """Upgrade, then attach to the container's main process: its output from now on, the
    client's stdin (if the container keeps one open) and terminal sizes; the kubelet ends an
    attach with a Success Status, whatever the container does."""
    conn = upgrade(handler)
    try:
        session = runtime.attach_open(target.id, stdin=stdin)
    except ContainerRuntimeError as e:
        conn.send(channels.ERROR, json.dumps(channels.exec_status([], None, str(e))).encode())
        conn.close()
        return
    size, pending = _first_resize(conn, session.tty)
    if size is not None:
        session.resize(*size)
    log.info("attach: %s/%s/%s", target.pod_namespace, target.pod_name, target.container_name)
    run_exec(conn, session, None, pending)


def run_exec(
    conn: ChannelSocket,
    session: ExecSession,
    command: list[str] | None,
    pending: tuple[int, bytes] | None = None,
) -> None:
    """Pump one exec session until its output ends, then send its Status and close (an attach,
    ``command`` None, ends with Success)."""
    gone = threading.Event()
    pump = threading.Thread(
        target=_exec_input, args=(conn, session, gone, pending), name="exec-stdin", daemon=True
    )
    pump.start()
    try:
        while (item := session.read()) is not None:
            if not conn.send(*item):
                break
        status = (
            channels.exec_status([], 0)
            if command is None
            else _exit_status(session, command, gone.is_set())
        )
        conn.send(channels.ERROR, json.dumps(status).encode())
    except OSError as e:
        log.info("exec: session ended: %s", e)
    finally:
        session.close()
        conn.close()


def _exit_status(session: ExecSession, command: list[str], gone: bool) -> dict[str, object]:
    try:
        code = session.exit_code(GONE_EXIT_WAIT if gone else 5.0)
    except ContainerRuntimeError as e:
        log.info("exec: no exit code: %s", e)
        code = None
    error = "" if code is not None else "the command's exit code could not be read"
    return channels.exec_status(command, code, error)


def _exec_input(
    conn: ChannelSocket,
    session: ExecSession,
    gone: threading.Event,
    pending: tuple[int, bytes] | None,
) -> None:
    """Client → command: stdin data, end of stdin and terminal resizes."""
    try:
        while (frame := pending or conn.recv()) is not None:
            pending = None
            channel, payload = frame
            if channel == channels.STDIN:
                session.write(payload)
            elif channel == channels.RESIZE:
                size = channels.parse_resize(payload)
                if size is not None:
                    session.resize(*size)
            elif channel == channels.CLOSE and payload[:1] == bytes([channels.STDIN]):
                session.close_stdin()
    except OSError as e:
        log.debug("exec: stdin ended: %s", e)
    gone.set()
    session.close()  # the client left (or the session ended): stop reading the command


# -- port-forward ---------------------------------------------------------------------------


def dial_error(pod: str, uid: str, ip: str, port: int, e: OSError) -> str:
    """What a refused or silent port reads as, in the kubelet's and Go's words."""
    if isinstance(e, TimeoutError):
        why = "i/o timeout"
    elif e.errno is not None and e.errno in errno.errorcode:
        why = f"connect: {(e.strerror or str(e)).lower()}"
    else:
        why = str(e)
    return f"error forwarding port {port} to pod {pod}, uid {uid}: dial tcp {ip}:{port}: {why}"


def serve_port_forward(handler: BaseHTTPRequestHandler, sandbox: ContainerInfo, port: int) -> None:
    conn = upgrade(handler)
    ip = str(sandbox.ip)
    try:
        pod = socket.create_connection((ip, port), timeout=DIAL_TIMEOUT)
    except OSError as e:
        message = dial_error(sandbox.pod_name, sandbox.pod_uid, ip, port, e)
        log.info("port-forward: %s", message)
        conn.send(channels.PORT_ERROR, message.encode())
        conn.close()
        return
    pod.settimeout(None)
    log.debug("port-forward: %s/%s port %d open", sandbox.pod_namespace, sandbox.pod_name, port)
    relay_port(conn, pod)


def relay_port(conn: ChannelSocket, pod: socket.socket) -> None:
    """Copy bytes both ways until the pod side closes or the client goes."""
    pump = threading.Thread(target=_port_input, args=(conn, pod), name="pf-in", daemon=True)
    pump.start()
    try:
        while data := pod.recv(channels.CHUNK):
            if not conn.send(channels.DATA, data):
                break
    except OSError as e:
        log.debug("port-forward: pod side ended: %s", e)
    finally:
        conn.close()
        with contextlib.suppress(OSError):
            pod.shutdown(socket.SHUT_RDWR)
        pod.close()


def _port_input(conn: ChannelSocket, pod: socket.socket) -> None:
    try:
        while (frame := conn.recv()) is not None:
            channel, payload = frame
            if channel == channels.DATA:
                pod.sendall(payload)
            elif channel == channels.CLOSE and payload[:1] == bytes([channels.DATA]):
                pod.shutdown(socket.SHUT_WR)  # the client is done sending; read the rest
                continue
        pod.shutdown(socket.SHUT_RDWR)  # the client left
    except OSError as e:
        log.debug("port-forward: client side ended: %s", e)
