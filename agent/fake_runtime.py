"""An in-memory ``Runtime`` for pure-logic tests and simulated nodes: no Docker involved.

It keeps containers in a dict and is scriptable: ``add_image``/``fail_pulls`` shape image
behaviour and ``set_image_user`` an image's USER, ``exit_container`` makes a container exit with a
code, ``exit_on_start`` makes every container of an image exit at once, ``kill_externally`` mimics
``docker rm -f``, ``exec_handler`` answers execs; ``specs`` keeps what each container was
created from. Lifecycle events go to every ``events`` iterator, as Docker's would, and to each of
``listeners`` in the thread that caused them (simulated nodes, which keep no thread to read
``events``). Effectful only in memory; thread-safe.
"""

from __future__ import annotations

import itertools
import queue
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from agent import runtime as rt
from agent.runtime import ContainerInfo, CreateSpec, EngineInfo, ImageResult, RuntimeEvent


def _utcnow() -> datetime:
    return datetime.now(UTC)


# (container, command, stdin) -> (exit code, stdout, stderr); may sleep to mimic a slow command.
ExecHandler = Callable[[ContainerInfo, list[str], bytes], tuple[int, bytes, bytes]]


def default_exec(
    container: ContainerInfo, command: list[str], stdin: bytes
) -> tuple[int, bytes, bytes]:
    """A few commands: ``echo ARGS``, ``cat`` (copies stdin), ``true``, ``false``."""
    name, args = (command[0], command[1:]) if command else ("", [])
    if name == "echo":
        return 0, (" ".join(args) + "\n").encode(), b""
    if name == "cat":
        return 0, stdin, b""
    if name in ("true", "false"):
        return (0 if name == "true" else 1), b"", b""
    return 127, b"", f"exec: {name}: not found\n".encode()


class FakeExecSession:
    """An exec whose command runs (in a thread) once stdin is closed, or at once without stdin."""

    def __init__(
        self, handler: ExecHandler, info: ContainerInfo, command: list[str], *, stdin: bool,
        tty: bool, timeout: float | None,
    ) -> None:  # fmt: skip
        self.tty = tty
        self.sizes: list[tuple[int, int]] = []
        self._handler, self._info, self._command = handler, info, command
        self._stdin = bytearray()
        self._out: queue.Queue[tuple[int, bytes] | None] = queue.Queue()
        self._timeout = timeout
        self._code: int | None = None
        self._started = False
        if not stdin:
            self.close_stdin()

    def _run(self) -> None:
        try:
            code, out, err = self._handler(self._info, self._command, bytes(self._stdin))
        except Exception as e:  # a broken script must end the session, not hang it
            code, out, err = 126, b"", f"exec handler failed: {e!r}\n".encode()
        if out:
            self._out.put((1, out))
        if err:
            self._out.put((1 if self.tty else 2, err))
        self._code = code
        self._out.put(None)

    def read(self) -> tuple[int, bytes] | None:
        try:
            item = self._out.get(timeout=self._timeout)
        except queue.Empty:
            raise TimeoutError("exec: no output in time") from None
        if item is None:
            self._out.put(None)  # stay at the end for later reads
        return item

    def write(self, data: bytes) -> None:
        self._stdin += data

    def close_stdin(self) -> None:
        if not self._started:
            self._started = True
            threading.Thread(target=self._run, daemon=True).start()

    def resize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))

    def exit_code(self, wait: float = 5.0) -> int | None:
        return self._code

    def close(self) -> None:
        self._out.put(None)


class FakeRuntime:
    """A container engine in a dict; see the module docstring for the scripting hooks."""

    def __init__(
        self,
        images: tuple[str, ...] = (),
        clock: Callable[[], datetime] = _utcnow,
        *,
        offline: bool = True,
        offline_fallback: bool = True,
    ) -> None:
        self.clock = clock
        self.offline = offline  # pulls of unknown images fail as if no registry answered
        self.offline_fallback = offline_fallback
        self._lock = threading.RLock()
        self._images: dict[str, str] = {}
        self._image_users: dict[str, str] = {}
        self.specs: dict[str, CreateSpec] = {}  # what each container was created from
        self._pullable: set[str] = set()
        self._pull_errors: dict[str, str] = {}
        # The registry credentials each image was last asked for with (what a pull would send).
        self.pull_auth: dict[str, list[dict[str, str]]] = {}
        self._exit_on_start: dict[str, int] = {}
        self._containers: dict[str, ContainerInfo] = {}
        self._logs: dict[str, list[bytes]] = {}
        self._subscribers: list[queue.Queue[RuntimeEvent | None]] = []
        self.listeners: list[Callable[[RuntimeEvent], None]] = []
        self._ips = itertools.count(2)
        self.calls: list[tuple[str, str]] = []
        self.exec_handler: ExecHandler = default_exec
        self.pod_ip: str | None = None  # set: every sandbox gets this IP (e.g. 127.0.0.1)
        self.execs: list[FakeExecSession] = []
        # (container id, path) -> the file's content, for ``read_file`` (termination messages)
        self.files: dict[tuple[str, str], bytes] = {}
        # (cumulative CPU seconds, working set bytes) reported by ``usage``, per container id.
        self.usages: dict[str, tuple[float, int]] = {}
        for image in images:
            self.add_image(image)

    # -- scripting --------------------------------------------------------------------------

    def add_image(self, image: str) -> str:
        with self._lock:
            image_id = "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, image).hex * 2
            self._images[image] = image_id
            return image_id

    def tag_image(self, source: str, target: str) -> None:
        """Give an image a second name, as ``docker tag`` does."""
        with self._lock:
            self._images[target] = self._images[source]

    def set_image_user(self, image: str, user: str) -> None:
        """The USER the image's config names ("" by default: root)."""
        with self._lock:
            self._image_users[image] = user

    def allow_pull(self, image: str) -> None:
        """Make ``image`` pullable from a pretend registry."""
        with self._lock:
            self._pullable.add(image)

    def fail_pulls(self, image: str, message: str) -> None:
        with self._lock:
            self._pull_errors[image] = message

    def exit_on_start(self, image_or_name: str, code: int) -> None:
        """Containers of that image (or with that name) exit with ``code`` once started."""
        with self._lock:
            self._exit_on_start[image_or_name] = code

    def write_log(self, container_id: str, data: bytes) -> None:
        with self._lock:
            self._logs.setdefault(container_id, []).append(data)

    def exit_container(self, container_id: str, code: int, oom: bool = False) -> None:
        with self._lock:
            info = self._containers[container_id]
            if info.state != "running":
                return
            self._containers[container_id] = replace(
                info, state="exited", exit_code=code, finished_at=self.clock(), oom_killed=oom
            )
            self._emit(container_id, "oom" if oom else "die")

    def kill_externally(self, container_id: str) -> None:
        """What ``docker rm -f`` does: the container is gone, with die and destroy events."""
        with self._lock:
            info = self._containers.pop(container_id, None)
            self.specs.pop(container_id, None)
            if info is None:
                return
            self._publish(RuntimeEvent(container_id, "die", dict(info.labels)))
            self._publish(RuntimeEvent(container_id, "destroy", dict(info.labels)))

    def containers(self) -> list[ContainerInfo]:
        with self._lock:
            return list(self._containers.values())

    # -- Runtime ----------------------------------------------------------------------------

    def list_containers(
        self, cluster: str, node: str | None, pod_uid: str | None = None
    ) -> list[ContainerInfo]:
        with self._lock:
            return [
                c
                for c in self._containers.values()
                if c.labels.get(rt.CLUSTER_LABEL) == cluster
                and (node is None or c.labels.get(rt.NODE_LABEL) == node)
                and (pod_uid is None or c.pod_uid == pod_uid)
            ]

    def ensure_image(
        self, image: str, pull_policy: str, auth: Sequence[Mapping[str, str]] = ()
    ) -> ImageResult:
        with self._lock:
            self.pull_auth[image] = [dict(a) for a in auth]
            local = self._images.get(image)
            if pull_policy == "Never":
                if local is None:
                    raise rt.ImageNeverPullError(
                        f'Container image "{image}" is not present with pull policy of Never'
                    )
                return ImageResult(local)
            if pull_policy != "Always" and local is not None:
                return ImageResult(local)
            error = self._pull_errors.get(image)
            if error is None and image in self._pullable:
                return ImageResult(self.add_image(image), pulled=True, size=1024)
            if error is None:
                error = f'Get "https://{image.split("/")[0]}/v2/": dial tcp: connection refused'
            unreachable = "dial tcp" in error or "no such host" in error
            if local is not None and self.offline_fallback and unreachable:
                return ImageResult(local, offline_fallback_error=error)
            raise rt.ImagePullError(error)

    def ensure_sandbox_image(self) -> str:
        self.add_image("tinykube/pause:1")
        return "tinykube/pause:1"

    def image_user(self, image: str) -> str:
        with self._lock:
            if image not in self._images:
                raise rt.ContainerRuntimeError(f"inspect image {image}: No such image: {image}")
            return self._image_users.get(image, "")

    def create_container(self, spec: CreateSpec) -> str:
        with self._lock:
            if spec.image not in self._images:
                raise rt.ImagePullError(f"No such image: {spec.image}")
            if any(c.name == spec.name for c in self._containers.values()):
                raise rt.CreateContainerError(
                    f'Conflict. The container name "/{spec.name}" is already in use'
                )
            if spec.network_mode and spec.network_mode.startswith("container:"):
                target = self._containers.get(spec.network_mode.split(":", 1)[1])
                if target is None:
                    raise rt.CreateContainerError(f"No such container: {spec.network_mode}")
            cid = uuid.uuid4().hex + uuid.uuid4().hex
            labels = dict(spec.labels)
            self._containers[cid] = ContainerInfo(
                id=cid,
                name=spec.name,
                pod_uid=labels.get(rt.POD_UID, ""),
                pod_name=labels.get(rt.POD_NAME, ""),
                pod_namespace=labels.get(rt.POD_NAMESPACE, ""),
                container_name=labels.get(rt.CONTAINER_NAME, ""),
                attempt=int(labels.get(rt.RESTART_COUNT, "0")),
                role=spec.role,
                state="created",
                created_at=self.clock(),
                image=spec.image,
                image_id=self._images[spec.image],
                labels=labels,
            )
            self.specs[cid] = spec
            self.calls.append(("create", cid))
            return cid

    def start(self, container_id: str) -> None:
        with self._lock:
            info = self._get(container_id)
            if info.role == "app":
                sandbox = self._containers.get(info.sandbox_id)
                if sandbox is None or sandbox.state != "running":
                    raise rt.StartContainerError(
                        f"cannot join network of a non running container: {info.sandbox_id}"
                    )
            ip = None
            if info.role == "sandbox":
                ip = self.pod_ip or f"10.88.0.{next(self._ips)}"
            self._containers[container_id] = replace(
                info, state="running", started_at=self.clock(), finished_at=None, ip=ip
            )
            self.calls.append(("start", container_id))
            self._emit(container_id, "start")
            code = self._exit_on_start.get(info.name, self._exit_on_start.get(info.image))
            if code is not None:
                self.exit_container(container_id, code)

    def stop(self, container_id: str, grace_seconds: float) -> None:
        with self._lock:
            info = self._containers.get(container_id)
            if info is None or info.state != "running":
                return
            self.calls.append(("stop", container_id))
            # The images tinykube runs trap SIGTERM; the sandbox dies of SIGKILL.
            self.exit_container(container_id, 137 if info.role == "sandbox" else 143)

    def remove(self, container_id: str) -> None:
        with self._lock:
            info = self._containers.get(container_id)
            if info is None:
                return
            self.calls.append(("remove", container_id))
            if info.state == "running":
                self.exit_container(container_id, 137)
            del self._containers[container_id]
            self.specs.pop(container_id, None)
            self._emit_labels(container_id, "destroy", info.labels)

    def inspect(self, container_id: str) -> ContainerInfo:
        with self._lock:
            return self._get(container_id)

    def read_file(self, container_id: str, path: str, limit: int) -> bytes | None:
        with self._lock:
            self._get(container_id)
            data = self.files.get((container_id, path))
        return None if data is None else data[:limit]

    def usage(self, container_id: str) -> tuple[float, int] | None:
        """What a test set in ``usages`` for the container (a pretend engine measures nothing):
        (0 CPU seconds, 0 bytes) for a running one by default."""
        with self._lock:
            info = self._containers.get(container_id)
            if info is None or info.state != "running":
                return None
            return self.usages.get(container_id, (0.0, 0))

    def logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        follow: bool = False,
        timestamps: bool = False,
        since: float | None = None,
    ) -> Iterator[bytes]:
        with self._lock:
            self._get(container_id)
            lines = b"".join(self._logs.get(container_id, [])).splitlines(keepends=True)
        if tail is not None and tail >= 0:
            lines = lines[len(lines) - tail :] if tail else []
        return iter(lines)

    def exec_open(
        self,
        container_id: str,
        command: list[str],
        *,
        stdin: bool = False,
        tty: bool = False,
        timeout: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> FakeExecSession:
        with self._lock:
            info = self._get(container_id)
            if info.state != "running":
                raise rt.ContainerRuntimeError(f"Container {container_id} is not running")
            session = FakeExecSession(
                self.exec_handler, info, command, stdin=stdin, tty=tty, timeout=timeout
            )
            if tty and size is not None:
                session.resize(*size)
            self.execs.append(session)
            return session

    def attach_open(self, container_id: str, *, stdin: bool = False) -> FakeExecSession:
        """An attach is scripted like an exec (``exec_handler``) of the command ``["attach"]``."""
        with self._lock:
            info = self._get(container_id)
            if info.state != "running":
                raise rt.ContainerRuntimeError(f"Container {container_id} is not running")
            session = FakeExecSession(
                self.exec_handler, info, ["attach"], stdin=stdin, tty=False, timeout=None
            )
            self.execs.append(session)
            return session

    def events(self, stop: threading.Event) -> Iterator[RuntimeEvent]:
        q: queue.Queue[RuntimeEvent | None] = queue.Queue()
        with self._lock:
            self._subscribers.append(q)
        try:
            while not stop.is_set():
                try:
                    event = q.get(timeout=0.1)
                except queue.Empty:
                    continue
                if event is None:
                    return
                yield event
        finally:
            with self._lock:
                self._subscribers.remove(q)

    def engine_info(self) -> EngineInfo:
        return EngineInfo(2, 4 * 2**30, "20.10.24", "Fake OS", "6.1.0-fake", "x86_64")

    # -- internals --------------------------------------------------------------------------

    def _get(self, container_id: str) -> ContainerInfo:
        info = self._containers.get(container_id)
        if info is None:
            raise rt.ContainerNotFoundError(f"No such container: {container_id}")
        return info

    def _emit(self, container_id: str, action: str) -> None:
        self._emit_labels(container_id, action, self._containers[container_id].labels)

    def _emit_labels(self, container_id: str, action: str, labels: dict[str, str]) -> None:
        self._publish(RuntimeEvent(container_id, action, dict(labels)))

    def _publish(self, event: RuntimeEvent) -> None:
        for q in list(self._subscribers):
            q.put(event)
        for listener in list(self.listeners):
            listener(event)
