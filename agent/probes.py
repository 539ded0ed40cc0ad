"""The probe workers of one node: timers and the probes themselves around the pure ``prober``.

``Prober.update(pod, containers)`` (called after every pod sync) keeps one worker per running
container and probe kind. A scheduler thread (started with the first probe) keeps the workers'
due times in a heap and hands due probes to a small thread pool: httpGet and tcpSocket go from
this host to the pod IP (the agent runs where the pod's bridge network is), exec goes through
the runtime (``docker exec``), grpc is checked as a TCP connect to its port. Failed probes
record ``Unhealthy`` events; a changed result calls ``on_change(uid)`` so the pod is synced at
once (status, or a restart).
Effectful (threads, sockets, runtime).
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent import initplan, prober
from agent import runtime as rt
from agent.events import WARNING, EventRecorder
from agent.prober import ContainerProbes, Kind, ProbeSpec, Result, WorkerState
from agent.runtime import ContainerInfo, Runtime

log = logging.getLogger(__name__)

# The kubelet reads at most this much of an HTTP probe's body or an exec probe's output.
MAX_OUTPUT = 10 * 1024
USER_AGENT = "kube-probe/1.35"
POOL_SIZE = 4


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Worker:
    uid: str
    container: dict[str, Any]
    spec: ProbeSpec
    info: ContainerInfo
    pod_ip: str
    pod: dict[str, Any]
    state: WorkerState
    gen: int
    busy: bool = False

    @property
    def key(self) -> tuple[str, str, Kind]:
        return (self.uid, self.info.container_name, self.spec.kind)


class Prober:
    """Probe workers for every pod of a node; thread-safe."""

    def __init__(
        self,
        runtime: Runtime,
        recorder: EventRecorder,
        on_change: Callable[[str], None],
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.on_change = on_change
        self.clock = clock
        self._lock = threading.Condition()
        self._workers: dict[tuple[str, str, Kind], _Worker] = {}
        self._heap: list[tuple[float, int, tuple[str, str, Kind], int]] = []
        self._seq = itertools.count()
        self._gens = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="probe")
        self._stopping = False
        self._started = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Probe from now on: the scheduler thread starts with the first probe to run (a node
        whose pods have no probes keeps no thread for them)."""
        with self._lock:
            self._started = True
            if self._heap:
                self._start_thread()

    def _start_thread(self) -> None:
        """Called with the lock held."""
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._run, name="prober", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- what the syncer calls ----------------------------------------------------------------

    def update(self, pod: dict[str, Any], containers: list[ContainerInfo]) -> None:
        """Keep one worker per running container and probe; drop the others of this pod."""
        uid = pod["metadata"]["uid"]
        mine = [c for c in containers if c.pod_uid == uid and c.state == "running"]
        sandbox = next((c for c in mine if c.role == "sandbox" and c.ip), None)
        wanted: dict[tuple[str, str, Kind], tuple[dict[str, Any], ProbeSpec, ContainerInfo]] = {}
        if sandbox is not None and not pod["metadata"].get("deletionTimestamp"):
            spec = pod.get("spec") or {}
            for container in [*initplan.sidecars(pod), *(spec.get("containers") or [])]:
                name = container["name"]
                running = [c for c in mine if c.role == "app" and c.container_name == name]
                if not running:
                    continue
                info = max(running, key=lambda c: c.attempt)
                for spec in prober.probe_specs(container):
                    wanted[(uid, info.container_name, spec.kind)] = (container, spec, info)
        with self._lock:
            for key in [k for k in self._workers if k[0] == uid and k not in wanted]:
                del self._workers[key]
            for key, (container, spec, info) in wanted.items():
                worker = self._workers.get(key)
                if worker is not None and worker.info.id == info.id and worker.spec == spec:
                    worker.pod = pod
                    continue
                assert sandbox is not None and sandbox.ip
                worker = _Worker(uid, container, spec, info, sandbox.ip, pod,
                                 prober.initial_state(spec.kind), next(self._gens))  # fmt: skip
                self._workers[key] = worker
                self._schedule(worker, self._first_delay(worker))

    def forget(self, uid: str) -> None:
        with self._lock:
            for key in [k for k in self._workers if k[0] == uid]:
                del self._workers[key]

    def view(self, uid: str) -> dict[str, ContainerProbes]:
        """Container id → what its probes say, for the pod's status and the planner."""
        with self._lock:
            by_id: dict[str, dict[Kind, tuple[ProbeSpec, WorkerState]]] = {}
            for key, w in self._workers.items():
                if key[0] == uid:
                    by_id.setdefault(w.info.id, {})[w.spec.kind] = (w.spec, w.state)
        return {cid: prober.container_probes(results) for cid, results in by_id.items()}

    # -- scheduling -------------------------------------------------------------------------------

    def _first_delay(self, worker: _Worker) -> float:
        started = worker.info.started_at
        running = (self.clock() - started).total_seconds() if started else 0.0
        return max(0.0, worker.spec.initial_delay - running)

    def _schedule(self, worker: _Worker, delay: float) -> None:
        """Called with the lock held."""
        due = time.monotonic() + delay
        heapq.heappush(self._heap, (due, next(self._seq), worker.key, worker.gen))
        if self._started:
            self._start_thread()
        self._lock.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopping:
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._lock.wait(wait)
                if self._stopping:
                    return
                _, _, key, gen = heapq.heappop(self._heap)
                worker = self._workers.get(key)
                if worker is None or worker.gen != gen or worker.busy:
                    continue
                if not self._due(worker):
                    self._schedule(worker, worker.spec.period)
                    continue
                worker.busy = True
            try:
                self._pool.submit(self._probe, worker)
            except RuntimeError:
                return  # the pool is shut down: the agent is stopping

    def _due(self, worker: _Worker) -> bool:
        """Called with the lock held."""
        started = worker.info.started_at
        running = (self.clock() - started).total_seconds() if started else 0.0
        startup = self._workers.get((worker.uid, worker.info.container_name, "startup"))
        is_started = startup is None or startup.state.result == "Success"
        return prober.should_probe(
            worker.spec, worker.state, seconds_running=running, started=is_started
        )

    def _probe(self, worker: _Worker) -> None:
        try:
            outcome, output = self.run_probe(worker.spec, worker.container, worker.info,
                                             worker.pod_ip)  # fmt: skip
        except Exception as e:  # a probe must never kill the prober
            outcome, output = "Unknown", str(e)
        if outcome != "Success":
            message = prober.event_message(worker.spec.kind, outcome, output)
            self.recorder.record(worker.pod, "Unhealthy", message, WARNING,
                                 worker.info.container_name)  # fmt: skip
        with self._lock:
            worker.busy = False
            current = self._workers.get(worker.key)
            if current is not worker:
                return
            before = worker.state.result
            worker.state = prober.observe(worker.spec, worker.state, outcome)
            changed = worker.state.result != before
            self._schedule(worker, worker.spec.period)
            if changed and worker.spec.kind == "startup" and worker.state.result == "Success":
                for kind in ("liveness", "readiness"):
                    other = self._workers.get((worker.uid, worker.info.container_name, kind))
                    if other is not None:
                        other.gen = next(self._gens)
                        self._schedule(other, self._first_delay(other))
        if changed:
            log.info("pod uid %s: %s probe of %s: %s", worker.uid, worker.spec.kind,
                     worker.info.container_name, worker.state.result)  # fmt: skip
            self.on_change(worker.uid)

    # -- the probes -------------------------------------------------------------------------------

    def run_probe(
        self, spec: ProbeSpec, container: dict[str, Any], info: ContainerInfo, pod_ip: str
    ) -> tuple[Result, str]:
        """One probe: ``(Success|Failure|Unknown, output)``."""
        if spec.handler == "exec":
            return self._exec(spec, info)
        if spec.handler == "httpGet":
            return http_probe(prober.http_target(spec.action, pod_ip, container), spec.timeout)
        host, port = prober.tcp_target(spec.action, pod_ip, container)
        return tcp_probe(host, port, spec.timeout)

    def _exec(self, spec: ProbeSpec, info: ContainerInfo) -> tuple[Result, str]:
        command = [str(a) for a in spec.action.get("command") or []]
        if not command:
            return "Unknown", "no command given"
        try:
            session = self.runtime.exec_open(info.id, command, timeout=spec.timeout)
        except rt.ContainerRuntimeError as e:
            return "Unknown", str(e)
        deadline = time.monotonic() + spec.timeout
        output = b""
        try:
            while (item := session.read()) is not None:
                output = (output + item[1])[:MAX_OUTPUT]
                if time.monotonic() > deadline:
                    raise TimeoutError
            code = session.exit_code(wait=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            return "Failure", f"command {' '.join(command)!r} timed out"
        except rt.ContainerRuntimeError as e:
            return "Unknown", str(e)
        finally:
            session.close()
        text = output.decode(errors="replace")
        if code is None:
            return "Failure", f"command {' '.join(command)!r} timed out"
        return ("Success" if code == 0 else "Failure"), text


def _go_error(e: OSError) -> str:
    if isinstance(e, TimeoutError):
        return "i/o timeout"
    if isinstance(e, ConnectionRefusedError):
        return "connect: connection refused"
    return f"connect: {(e.strerror or str(e)).lower()}"


def http_probe(target: prober.HttpTarget, timeout: float) -> tuple[Result, str]:
    """GET the target: 200-399 is Success (the kubelet's rule), anything else Failure."""
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", **target.headers}
    conn: http.client.HTTPConnection
    if target.scheme.upper() == "HTTPS":  # the kubelet does not verify probe certificates
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        conn.request("GET", target.path, headers=headers)
        resp = conn.getresponse()
        resp.read(MAX_OUTPUT)
        code = resp.status
    except TimeoutError:
        return "Failure", (
            f'Get "{target.url}": context deadline exceeded '
            "(Client.Timeout exceeded while awaiting headers)"
        )
    except (OSError, http.client.HTTPException) as e:
        why = _go_error(e) if isinstance(e, OSError) else str(e)
        return "Failure", f'Get "{target.url}": dial tcp {target.host}:{target.port}: {why}'
    finally:
        conn.close()
    if 200 <= code < 400:
        return "Success", ""
    return "Failure", f"HTTP probe failed with statuscode: {code}"


def tcp_probe(host: str, port: int, timeout: float) -> tuple[Result, str]:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        return "Failure", f"dial tcp {host}:{port}: {_go_error(e)}"
    return "Success", ""
