"""``tkctl port-forward (POD | TYPE/NAME) [LOCAL:]REMOTE... [--address A]``: listen locally and
carry each accepted connection to the pod's port (for ``svc/NAME``, a ready endpoint pod's target
port) over its own ``pods/NAME/portforward`` WebSocket (``?ports=REMOTE``; channel 0 data, 1
error, each opened by the port as u16 LE).

Prints kubectl's ``Forwarding from 127.0.0.1:8080 -> 80`` and ``Handling connection for 8080``
lines; a refused pod port reads ``an error occurred forwarding 8080 -> 80: ...`` and closes that
connection only. Ctrl-C or SIGTERM stop forwarding (exit 0). ``parse_port`` and
``service_port`` are pure.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any

import click

from common import channels
from control.cli.flags import command
from control.cli.output import CliError
from control.cli.podpick import open_stream, resolve_pod
from control.cli.session import Session, global_options
from control.cli.targets import resource_type

_OUTPUT = threading.Lock()


def say(message: str, err: bool = False) -> None:
    """One line, flushed; a lock keeps lines from several threads whole (a text stream written
    from two threads at once can lose data)."""
    with _OUTPUT:
        click.echo(message, err=err)
        (sys.stderr if err else sys.stdout).flush()


@dataclass(frozen=True)
class PortPair:
    local: int  # 0: any free port
    remote: int


def _number(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise CliError(f"Error parsing {what} port '{text}': invalid port")
    return value


def parse_port(spec: str, pod: dict[str, Any]) -> PortPair:
    """``8080:80``, ``80`` (same both sides), ``:80`` (any local port), ``8080:http`` (a named
    container port)."""
    local, sep, remote = spec.partition(":")
    if not sep:
        local, remote = spec, spec
    if not remote.isdigit():
        remote = str(_named_port(pod, remote))
    if not sep and not local.isdigit():
        local = remote
    pair = PortPair(_number(local, "local") if local else 0, _number(remote, "remote"))
    if pair.remote == 0:
        raise CliError(f"Error parsing remote port '{remote}': port 0 cannot be forwarded")
    return pair


def service_port(spec: str, svc: dict[str, Any], pod: dict[str, Any]) -> PortPair:
    """A port of ``port-forward svc/NAME``: the Service's port (by number or name) turned into
    the pod's port as kubectl's translateServicePortToTargetPort does (targetPort by number,
    by container port name, or the port itself when unset or the Service is headless)."""
    local, sep, remote = spec.partition(":")
    if not sep:
        local = remote = spec
    if remote.isdigit():
        number = _number(remote, "remote")
    else:
        number = _service_port_by_name(svc, remote)
        if local == remote:
            local = str(number)
    target = _target_port(svc, pod, number)
    return PortPair(_number(local, "local") if local else 0, target)


def _service_port_by_name(svc: dict[str, Any], name: str) -> int:
    for port in (svc.get("spec") or {}).get("ports") or []:
        if port.get("name") == name:
            return int(port["port"])
    svc_name = (svc.get("metadata") or {}).get("name")
    raise CliError(f"Service '{svc_name}' does not have a named port '{name}'")


def _target_port(svc: dict[str, Any], pod: dict[str, Any], number: int) -> int:
    spec = svc.get("spec") or {}
    for port in spec.get("ports") or []:
        if port.get("port") != number:
            continue
        target = port.get("targetPort")
        if spec.get("clusterIP") == "None" or target in (None, 0, ""):
            return number
        if isinstance(target, int):
            return target
        return _named_port(pod, str(target))
    name = (svc.get("metadata") or {}).get("name")
    raise CliError(f"Service {name} does not have a service port {number}")


def _named_port(pod: dict[str, Any], name: str) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
    pod_name = (pod.get("metadata") or {}).get("name")
    raise CliError(f"Pod '{pod_name}' does not have a named port '{name}'")


def _bind_addresses(addresses: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for item in addresses:
        for address in item.split(","):
            address = address.strip()
            found = ["127.0.0.1", "::1"] if address == "localhost" else [address]
            out.extend(a for a in found if a and a not in out)
    return out


def _listen(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


def _show(address: str) -> str:
    return f"[{address}]" if ":" in address else address


class Forwarder:
    """Listeners for every port pair and address, and one stream per accepted connection."""

    def __init__(self, session: Session, pod: dict[str, Any]) -> None:
        self.session = session
        self.pod = pod
        self.listeners: list[socket.socket] = []

    def listen(self, pair: PortPair, addresses: list[str]) -> PortPair:
        """Bind ``pair`` on every address (at least one must work); return it with its port."""
        failures = []
        for address in addresses:
            try:
                sock = _listen(address, pair.local)
            except OSError as e:
                failures.append(
                    f"unable to create listener: Error listen {address}:{pair.local}: {e}"
                )
                continue
            pair = PortPair(sock.getsockname()[1], pair.remote)
            self.listeners.append(sock)
            say(f"Forwarding from {_show(address)}:{pair.local} -> {pair.remote}")
            threading.Thread(target=self._accept, args=(sock, pair), daemon=True).start()
        if len(failures) == len(addresses):
            say(f"Unable to listen on port {pair.local}: {'; '.join(failures)}", err=True)
            raise CliError(
                f"unable to listen on any of the requested ports: [{{{pair.local} {pair.remote}}}]"
            )
        return pair

    def _accept(self, listener: socket.socket, pair: PortPair) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed at exit
            say(f"Handling connection for {pair.local}")
            threading.Thread(target=self.forward, args=(conn, pair), daemon=True).start()

    def forward(self, conn: socket.socket, pair: PortPair) -> None:
        """Carry one local connection to the pod's port until either side ends."""
        try:
            stream = open_stream(self.session, self.pod, "portforward", {"ports": pair.remote})
        except Exception as e:  # one connection's failure must not stop the others
            say(f"an error occurred forwarding {pair.local} -> {pair.remote}: {e}", err=True)
            conn.close()
            return
        pump = threading.Thread(target=_local_to_pod, args=(conn, stream), daemon=True)
        pump.start()
        error = b""
        seen: set[int] = set()
        try:
            while (frame := stream.recv()) is not None:
                channel, payload = frame
                if channel not in seen:  # each channel opens with the port number
                    seen.add(channel)
                    payload = payload[2:]
                if channel == channels.DATA and payload:
                    conn.sendall(payload)
                elif channel == channels.PORT_ERROR:
                    error += payload
        except OSError:
            pass  # the local client went away
        finally:
            stream.close()
            # Said before the local connection closes: whoever sees it close can read why.
            if error:
                text = error.decode(errors="replace").strip()
                say(f"an error occurred forwarding {pair.local} -> {pair.remote}: {text}", err=True)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def close(self) -> None:
        for sock in self.listeners:
            sock.close()


def _local_to_pod(conn: socket.socket, stream: Any) -> None:
    try:
        while data := conn.recv(channels.CHUNK):
            if not stream.send(channels.DATA, data):
                return
    except OSError:
        return
    if stream.protocol == channels.V5:
        stream.send(channels.CLOSE, bytes([channels.DATA]))  # half-close: the reply still comes


@command("port-forward")
@click.argument("target")
@click.argument("ports", nargs=-1)
@click.option(
    "--address",
    multiple=True,
    default=("localhost",),
    help="Addresses to listen on (comma-separated); localhost means 127.0.0.1 and ::1.",
)
@global_options
@click.pass_obj
def port_forward(
    session: Session, target: str, ports: tuple[str, ...], address: tuple[str, ...]
) -> None:
    """Forward local ports to a pod: tkctl port-forward (POD | TYPE/NAME) [LOCAL:]REMOTE..."""
    if not ports:
        raise CliError("at least 1 PORT is required for port-forward")
    client = session.client()
    pod = resolve_pod(client, target, session.default_namespace)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise CliError(f"unable to forward port because pod is not running. Current status={phase}")
    kind, _, name = target.rpartition("/")
    if kind and resource_type(kind).plural == "services":
        svc = client.get(resource_type(kind), name, session.default_namespace)
        pairs = [service_port(p, svc, pod) for p in ports]
    else:
        pairs = [parse_port(p, pod) for p in ports]
    forwarder = Forwarder(session, pod)
    addresses = _bind_addresses(address)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    # Ctrl-C or SIGTERM end forwarding with exit 0, as in kubectl (even when started in the
    # background by a shell, which starts it with SIGINT ignored).
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for pair in pairs:
            forwarder.listen(pair, addresses)
        while not stop.wait(0.5):
            pass
    finally:
        forwarder.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
