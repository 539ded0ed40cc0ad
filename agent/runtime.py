"""The container runtime interface of the agent: a Protocol, its plain values and its errors.

The Docker implementation (``docker_runtime``) and the in-memory fake (``fake_runtime``) both
satisfy ``Runtime``; the pure planner and status code see only ``ContainerInfo``. Pure: no I/O.

    ContainerRuntimeError      base of every runtime failure
      ImagePullError           the image could not be pulled (reason ErrImagePull)
      ImageNeverPullError      pull policy Never and the image is absent (ErrImageNeverPull)
      InvalidImageNameError    the reference cannot be parsed (InvalidImageName)
      ContainerNotFoundError   no container with that id
      CreateContainerError     the engine refused to create it (CreateContainerError)
      ContainerConfigError     its configuration cannot be made, e.g. runAsNonRoot on a root
                               image (CreateContainerConfigError)
      StartContainerError      the engine refused to start it (RunContainerError)
      RuntimeUnavailableError  the engine does not answer
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Role = Literal["sandbox", "app"]
State = Literal["created", "running", "exited"]

# Label keys, as the kubelet's dockershim wrote them (k8s_behavior.md §6) plus tinykube's own.
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
DOCKER_TYPE = "io.kubernetes.docker.type"
SANDBOX_ID = "io.kubernetes.sandbox.id"
RESTART_COUNT = "annotation.io.kubernetes.container.restartCount"
CONTAINER_HASH = "annotation.io.kubernetes.container.hash"
GRACE_PERIOD = "annotation.io.kubernetes.pod.terminationGracePeriod"
NODE_LABEL = "tinykube.io/node"
CLUSTER_LABEL = "tinykube.io/cluster"
SANDBOX_CONTAINER_NAME = "POD"


@dataclass(frozen=True)
class ContainerInfo:
    """What the runtime knows about one container of a pod (sandbox or app)."""

    id: str
    name: str
    pod_uid: str
    pod_name: str
    pod_namespace: str
    container_name: str
    attempt: int
    role: Role
    state: State
    exit_code: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    image: str = ""
    image_id: str = ""
    repo_digest: str | None = None
    ip: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    oom_killed: bool = False
    error: str = ""

    @property
    def spec_hash(self) -> str:
        return self.labels.get(CONTAINER_HASH, "")

    @property
    def sandbox_id(self) -> str:
        return self.labels.get(SANDBOX_ID, "")


@dataclass(frozen=True)
class SecurityArgs:
    """A container's securityContext as the engine applies it; built by ``securitycontext``."""

    user: str | None = None  # "uid[:gid]"; None keeps the image's own USER
    group_add: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    read_only: bool = False
    # "no-new-privileges", "seccomp=unconfined" or "seccomp=<profile JSON>"
    security_opt: tuple[str, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    # procMount Unmasked: no masked or read-only paths under /proc (Docker has no option of
    # its own for it; its CLI turns ``--security-opt systempaths=unconfined`` into this).
    unmasked_paths: bool = False


@dataclass(frozen=True)
class Mount:
    """A host path bound into a container (a pod volume, or a subPath of one)."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class CreateSpec:
    """Everything needed to create one container; built by ``podspec``, read by runtimes."""

    name: str
    image: str
    labels: dict[str, str]
    role: Role
    entrypoint: list[str] | None = None
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    hostname: str | None = None
    network_mode: str | None = None
    ipc_mode: str | None = None
    # ``container:ID``: an ephemeral container sharing its target's processes (Docker's --pid).
    pid_mode: str | None = None
    mem_limit: int | None = None
    nano_cpus: int | None = None
    # container port "80/tcp" -> list of (host ip, host port) published on the sandbox
    port_bindings: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    tty: bool = False
    stdin_open: bool = False
    # Close the container's stdin when the first attached client closes its own (stdinOnce).
    stdin_once: bool = False
    stop_signal: str | None = None
    security: SecurityArgs = field(default_factory=SecurityArgs)
    mounts: tuple[Mount, ...] = ()
    # The sandbox's resolv.conf (the pod's containers share it); empty: the engine's default.
    dns_servers: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageResult:
    """The outcome of ``ensure_image``: the image id, whether it was pulled, and how."""

    image_id: str
    pulled: bool = False
    pull_seconds: float = 0.0
    size: int = 0
    # set when policy Always could not reach a registry and the local image was used instead
    offline_fallback_error: str | None = None


@dataclass(frozen=True)
class RuntimeEvent:
    """A container lifecycle event: die, destroy, start or oom."""

    container_id: str
    action: str
    labels: dict[str, str]


@dataclass(frozen=True)
class EngineInfo:
    cpus: int
    memory_bytes: int
    version: str
    os: str
    kernel: str
    architecture: str


class ExecSession(Protocol):
    """A command running in a container (``docker exec``), its streams and its exit code.

    ``read`` returns ``(1, data)`` for stdout, ``(2, data)`` for stderr (a TTY has only stdout)
    and ``None`` once the command's output ends; it raises ``TimeoutError`` when the session
    was opened with a timeout and nothing arrived in time.
    """

    tty: bool

    def read(self) -> tuple[int, bytes] | None: ...

    def write(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    def exit_code(self, wait: float = 5.0) -> int | None:
        """The command's exit code once it has ended (``None`` if it still runs after ``wait``)."""
        ...

    def close(self) -> None: ...


class ContainerRuntimeError(Exception):
    """Base of the runtime errors; ``reason`` is the kubelet's waiting reason for it."""

    reason = "RunContainerError"


class ImagePullError(ContainerRuntimeError):
    reason = "ErrImagePull"


class ImageNeverPullError(ContainerRuntimeError):
    reason = "ErrImageNeverPull"


class InvalidImageNameError(ContainerRuntimeError):
    reason = "InvalidImageName"


class ContainerNotFoundError(ContainerRuntimeError):
    reason = "ContainerNotFound"


class CreateContainerError(ContainerRuntimeError):
    reason = "CreateContainerError"


class ContainerConfigError(ContainerRuntimeError):
    reason = "CreateContainerConfigError"


class StartContainerError(ContainerRuntimeError):
    reason = "RunContainerError"


class RuntimeUnavailableError(ContainerRuntimeError):
    reason = "RuntimeUnavailable"


class Runtime(Protocol):
    """A node's container engine, seen through the few operations the kubelet needs."""

    def list_containers(
        self, cluster: str, node: str | None, pod_uid: str | None = None
    ) -> list[ContainerInfo]:
        """Every container (any state) of this cluster on this node (None: on every node)."""
        ...

    def ensure_image(
        self, image: str, pull_policy: str, auth: Sequence[Mapping[str, str]] = ()
    ) -> ImageResult:
        """Make the image present per ``Always|IfNotPresent|Never``; raise an image error. A
        pull tries each registry credential of ``auth`` in turn (none: anonymously)."""
        ...

    def ensure_sandbox_image(self) -> str:
        """Make the pause image present (built locally when absent); return its reference."""
        ...

    def image_user(self, image: str) -> str:
        """The USER a present image runs as (its config's ``User``), "" when it sets none."""
        ...

    def create_container(self, spec: CreateSpec) -> str: ...

    def start(self, container_id: str) -> None: ...

    def stop(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM (or the image's stop signal), then SIGKILL after the grace period."""
        ...

    def remove(self, container_id: str) -> None:
        """Remove the container, killing it if it runs; a missing one is not an error."""
        ...

    def inspect(self, container_id: str) -> ContainerInfo: ...

    def read_file(self, container_id: str, path: str, limit: int) -> bytes | None:
        """At most ``limit`` bytes of a file of a (stopped) container; None when absent."""
        ...

    def usage(self, container_id: str) -> tuple[float, int] | None:
        """The container's cumulative CPU seconds and its memory working set (bytes); None
        when it is gone or not running."""
        ...

    def logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        follow: bool = False,
        timestamps: bool = False,
        since: float | None = None,
    ) -> Iterator[bytes]: ...

    def exec_open(
        self,
        container_id: str,
        command: list[str],
        *,
        stdin: bool = False,
        tty: bool = False,
        timeout: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> ExecSession:
        """Start ``command`` in a running container; ``timeout`` bounds each read; ``size``
        (width, height) is the TTY's size from the start."""
        ...

    def attach_open(self, container_id: str, *, stdin: bool = False) -> ExecSession:
        """Attach to the streams of a running container's main process (its TTY if it has
        one: ``tty`` of the session says so); its ``exit_code`` is the container's."""
        ...

    def events(self, stop: threading.Event) -> Iterator[RuntimeEvent]:
        """Container die/destroy/start/oom events of tinykube containers until ``stop`` is set."""
        ...

    def engine_info(self) -> EngineInfo: ...
