"""The Docker implementation of ``Runtime``: the only module of tinykube that imports ``docker``.

Uses the docker SDK's high-level client for CRUD and its low-level ``APIClient`` for pulls,
builds, logs and events. Every docker (and requests) exception is turned into a
``runtime.ContainerRuntimeError`` here and never leaves this module. Effectful.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import platform
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import docker
import docker.errors
import requests
from docker.models.containers import _create_container_args  # type: ignore[attr-defined]
from docker.utils import parse_repository_tag

from agent import docker_inspect, pause, podspec, resourcemetrics
from agent import runtime as rt
from agent.docker_exec import DockerExecSession
from agent.docker_inspect import container_info, registry_unreachable
from agent.runtime import (
    ContainerInfo,
    CreateSpec,
    EngineInfo,
    ImageResult,
    RuntimeEvent,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Lifecycle actions that change what a pod's containers look like.
WATCHED_ACTIONS = ("start", "die", "destroy", "oom")


def _message(e: Exception) -> str:
    if isinstance(e, docker.errors.APIError):
        explanation = e.explanation
        if isinstance(explanation, bytes):
            explanation = explanation.decode(errors="replace")
        return str(explanation or e)
    return str(e)


def _call(what: str, fn: Callable[[], T], error: type[rt.ContainerRuntimeError]) -> T:
    """Run one engine call, translating its failures into runtime errors."""
    try:
        return fn()
    except docker.errors.NotFound as e:
        raise rt.ContainerNotFoundError(f"{what}: {_message(e)}") from e
    except (requests.exceptions.ConnectionError, ConnectionError) as e:
        raise rt.RuntimeUnavailableError(f"{what}: the Docker engine does not answer: {e}") from e
    except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
        raise error(f"{what}: {_message(e)}") from e


class DockerRuntime:
    """``Runtime`` over a Docker engine (the local socket, or ``base_url``)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float = 60.0,
        offline_fallback: bool = True,
        sandbox_image: str = podspec.SANDBOX_IMAGE,
    ) -> None:
        try:
            if base_url:
                self.client = docker.DockerClient(base_url=base_url, timeout=int(timeout))
            else:
                self.client = docker.from_env(timeout=int(timeout))
        except docker.errors.DockerException as e:
            raise rt.RuntimeUnavailableError(f"the Docker engine does not answer: {e}") from e
        self.api = self.client.api
        self.offline_fallback = offline_fallback
        self.sandbox_image = sandbox_image
        self._build_lock = threading.Lock()
        self._sandbox_present = False
        self._digests: dict[str, str | None] = {}

    # -- listing -----------------------------------------------------------------------------

    def list_containers(
        self, cluster: str, node: str | None, pod_uid: str | None = None
    ) -> list[ContainerInfo]:
        if not cluster:
            raise ValueError("list_containers needs a cluster id")  # never list foreign ones
        labels = [f"{rt.CLUSTER_LABEL}={cluster}"]
        if node is not None:
            labels.append(f"{rt.NODE_LABEL}={node}")
        if pod_uid:
            labels.append(f"{rt.POD_UID}={pod_uid}")
        summaries = _call(
            "list containers",
            lambda: self.api.containers(all=True, filters={"label": labels}),
            rt.ContainerRuntimeError,
        )
        infos = []
        for summary in summaries:
            try:
                infos.append(self.inspect(summary["Id"]))
            except rt.ContainerNotFoundError:
                continue  # removed between the list and the inspect
        return infos

    def inspect(self, container_id: str) -> ContainerInfo:
        attrs = _call(
            f"inspect {container_id[:12]}",
            lambda: self.api.inspect_container(container_id),
            rt.ContainerRuntimeError,
        )
        return container_info(attrs, self._repo_digest(str(attrs.get("Image") or "")))

    def _inspect_image(self, image: str) -> dict[str, Any]:
        attrs: dict[str, Any] = self.api.inspect_image(image)  # type: ignore[no-untyped-call]
        return attrs

    def _repo_digest(self, image_id: str) -> str | None:
        if not image_id:
            return None
        if image_id not in self._digests:
            try:
                attrs = self._inspect_image(image_id)
                digests = attrs.get("RepoDigests") or []
                self._digests[image_id] = str(digests[0]) if digests else None
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                return None
        return self._digests[image_id]

    # -- images -----------------------------------------------------------------------------

    def _local_image(self, image: str) -> str | None:
        try:
            return str(self._inspect_image(image)["Id"])
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as e:
            if e.status_code == 400:
                raise rt.InvalidImageNameError(
                    f'Failed to apply default image tag "{image}": {_message(e)}'
                ) from e
            raise rt.ImagePullError(_message(e)) from e
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise rt.RuntimeUnavailableError(f"inspect image {image}: {e}") from e

    def ensure_image(
        self, image: str, pull_policy: str, auth: Sequence[Mapping[str, str]] = ()
    ) -> ImageResult:
        local = self._local_image(image)
        if pull_policy == "Never":
            if local is None:
                raise rt.ImageNeverPullError(
                    f'Container image "{image}" is not present with pull policy of Never'
                )
            return ImageResult(local)
        if pull_policy != "Always" and local is not None:
            return ImageResult(local)
        try:
            return self._pull_with(image, auth)
        except rt.ImagePullError as e:
            unreachable = registry_unreachable(str(e))
            if local is not None and self.offline_fallback and unreachable:
                log.warning("image %s: no registry answers, using the local image", image)
                return ImageResult(local, offline_fallback_error=str(e))
            raise

    def _pull_with(self, image: str, auth: Sequence[Mapping[str, str]]) -> ImageResult:
        """The kubelet's pull: with each credential until one works, else the errors."""
        if not auth:
            return self._pull(image, None)
        failures: list[str] = []
        for credential in auth:
            try:
                return self._pull(image, dict(credential))
            except rt.InvalidImageNameError:
                raise
            except rt.ImagePullError as e:
                failures.append(str(e))
        raise rt.ImagePullError(failures[0] if len(failures) == 1 else f"[{', '.join(failures)}]")

    def _pull(self, image: str, auth: dict[str, str] | None) -> ImageResult:
        repo, tag = parse_repository_tag(image)
        started = time.monotonic()
        try:
            pulling = self.api.pull(
                repo, tag=tag or "latest", stream=True, decode=True, auth_config=auth
            )
            for msg in pulling:
                if isinstance(msg, dict) and msg.get("error"):
                    raise rt.ImagePullError(str(msg["error"]))
        except docker.errors.APIError as e:
            if e.status_code == 400 and "invalid reference" in _message(e):
                raise rt.InvalidImageNameError(_message(e)) from e
            raise rt.ImagePullError(_message(e)) from e
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise rt.ImagePullError(str(e)) from e
        elapsed = time.monotonic() - started
        try:
            attrs = self._inspect_image(image)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise rt.ImagePullError(f"pulled {image} but cannot inspect it: {e}") from e
        return ImageResult(str(attrs["Id"]), True, elapsed, int(attrs.get("Size") or 0))

    def ensure_sandbox_image(self) -> str:
        # Known present: skip the inspect (under a lock every pod start would queue on it); a
        # create that finds the image gone clears this (see create_container).
        if self._sandbox_present:
            return self.sandbox_image
        with self._build_lock:
            if self._local_image(self.sandbox_image) is not None:
                self._sandbox_present = True
                return self.sandbox_image
            log.info("sandbox image %s: building it locally", self.sandbox_image)
            context = io.BytesIO(pause.build_context(platform.machine()))

            def build() -> None:
                for msg in self.api.build(
                    fileobj=context,
                    custom_context=True,
                    tag=self.sandbox_image,
                    labels={"tinykube.io/sandbox-image": "true"},
                    rm=True,
                    pull=False,
                    decode=True,
                ):
                    if isinstance(msg, dict) and msg.get("error"):
                        raise rt.CreateContainerError(f"build {self.sandbox_image}: {msg['error']}")

            _call(f"build {self.sandbox_image}", build, rt.CreateContainerError)
            self._sandbox_present = True
            return self.sandbox_image

    def image_user(self, image: str) -> str:
        attrs = _call(f"inspect image {image}", lambda: self._inspect_image(image),
                      rt.ContainerRuntimeError)  # fmt: skip
        return str((attrs.get("Config") or {}).get("User") or "")

    # -- containers -------------------------------------------------------------------------

    def create_container(self, spec: CreateSpec) -> str:
        kwargs = podspec.docker_create_kwargs(spec)
        kwargs.setdefault("command", None)
        try:
            # What ``client.containers.create`` does, minus its inspect of the new container
            # (nothing here needs it): one engine call less per container started.
            args = _create_container_args({**kwargs, "version": self.api.api_version})
            args["host_config"].update(podspec.docker_host_config_extra(spec))
            created = self.api.create_container(**args)
        except docker.errors.ImageNotFound as e:
            if spec.image == self.sandbox_image:
                self._sandbox_present = False  # removed meanwhile: the next sync builds it
            raise rt.ImagePullError(f"create {spec.name}: {_message(e)}") from e
        except docker.errors.NotFound as e:
            raise rt.CreateContainerError(f"create {spec.name}: {_message(e)}") from e
        except (requests.exceptions.ConnectionError, ConnectionError) as e:
            raise rt.RuntimeUnavailableError(f"create {spec.name}: {e}") from e
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise rt.CreateContainerError(f"create {spec.name}: {_message(e)}") from e
        return str(created["Id"])

    def start(self, container_id: str) -> None:
        _call(
            f"start {container_id[:12]}",
            lambda: self.api.start(container_id),
            rt.StartContainerError,
        )

    def stop(self, container_id: str, grace_seconds: float) -> None:
        timeout = max(0, math.ceil(grace_seconds))
        with contextlib.suppress(rt.ContainerNotFoundError):
            _call(
                f"stop {container_id[:12]}",
                lambda: self.api.stop(container_id, timeout=timeout),
                rt.ContainerRuntimeError,
            )

    def remove(self, container_id: str) -> None:
        try:
            _call(
                f"remove {container_id[:12]}",
                lambda: self.api.remove_container(container_id, force=True, v=True),
                rt.ContainerRuntimeError,
            )
        except rt.ContainerNotFoundError:
            pass
        except rt.ContainerRuntimeError as e:
            if "already in progress" not in str(e):
                raise

    def read_file(self, container_id: str, path: str, limit: int) -> bytes | None:
        what = f"archive {container_id[:12]} {path}"
        try:
            stream, _ = _call(what, lambda: self.api.get_archive(container_id, path),
                              rt.ContainerRuntimeError)  # fmt: skip
        except rt.ContainerNotFoundError:
            return None  # no such container, or no such file in it
        data = b""
        for chunk in stream:  # a tar header, then the file: stop once enough has come
            data += chunk
            if len(data) >= limit + 1024:
                break
        return docker_inspect.tar_file(data, limit)

    def usage(self, container_id: str) -> tuple[float, int] | None:
        try:
            stats = _call(f"stats {container_id[:12]}",
                          lambda: self.api.stats(container_id, stream=False, one_shot=True),
                          rt.ContainerRuntimeError)  # fmt: skip
        except rt.ContainerNotFoundError:
            return None
        total = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
        if total is None:
            return None  # not running: Docker sends empty stats
        return int(total) / 1e9, resourcemetrics.working_set(stats.get("memory_stats") or {})

    def logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        follow: bool = False,
        timestamps: bool = False,
        since: float | None = None,
    ) -> Iterator[bytes]:
        kwargs: dict[str, Any] = {"stream": True, "follow": follow, "timestamps": timestamps}
        kwargs["tail"] = "all" if tail is None or tail < 0 else tail
        if since is not None:
            kwargs["since"] = since
        stream = _call(
            f"logs {container_id[:12]}",
            lambda: self.api.logs(container_id, **kwargs),
            rt.ContainerRuntimeError,
        )
        return self._iterate(stream, f"logs {container_id[:12]}")

    def _iterate(self, stream: Any, what: str) -> Iterator[bytes]:
        try:
            while True:
                chunk = _call(what, lambda: next(stream, None), rt.ContainerRuntimeError)
                if chunk is None:
                    return
                yield bytes(chunk)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing a cut stream may fail; nothing is left to do
                    log.debug("%s: closing the stream failed", what)

    def attach_open(self, container_id: str, *, stdin: bool = False) -> DockerExecSession:
        what = f"attach to {container_id[:12]}"

        def inspect_state() -> dict[str, Any]:
            state = _call(what, lambda: self.api.inspect_container(container_id),
                          rt.ContainerRuntimeError)  # fmt: skip
            return dict(state)

        config = inspect_state().get("Config") or {}
        tty, stdin_once = bool(config.get("Tty")), bool(config.get("StdinOnce"))
        params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
        sock = _call(what, lambda: self.api.attach_socket(container_id, params=params),
                     rt.ContainerRuntimeError)  # fmt: skip

        def resize(width: int, height: int) -> None:
            _call(what, lambda: self.api.resize(container_id, height=height, width=width),
                  rt.ContainerRuntimeError)  # fmt: skip

        def inspect() -> dict[str, Any]:
            return dict(inspect_state().get("State") or {})

        return DockerExecSession(
            sock, tty=tty, resize=resize, inspect=inspect, keep_stdin=not stdin_once
        )

    def exec_open(
        self,
        container_id: str,
        command: list[str],
        *,
        stdin: bool = False,
        tty: bool = False,
        timeout: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> DockerExecSession:
        what = f"exec in {container_id[:12]}"
        created = _call(
            what,
            lambda: self.api.exec_create(
                container_id, command, stdout=True, stderr=True, stdin=stdin, tty=tty
            ),
            rt.ContainerRuntimeError,
        )
        exec_id = str(created["Id"])
        sock = _call(
            what,
            lambda: self.api.exec_start(exec_id, tty=tty, socket=True),
            rt.ContainerRuntimeError,
        )

        def resize(width: int, height: int) -> None:
            _call(what, lambda: self.api.exec_resize(exec_id, height=height, width=width),
                  rt.ContainerRuntimeError)  # fmt: skip

        def inspect() -> dict[str, Any]:
            return dict(_call(what, lambda: self.api.exec_inspect(exec_id),
                              rt.ContainerRuntimeError))  # fmt: skip

        session = DockerExecSession(sock, tty=tty, resize=resize, inspect=inspect, timeout=timeout)
        if tty and size is not None:
            session.resize(*size)  # API 1.41 cannot size it at creation: right after start
        return session

    def events(self, stop: threading.Event) -> Iterator[RuntimeEvent]:
        filters = {"type": "container", "event": list(WATCHED_ACTIONS), "label": [rt.CLUSTER_LABEL]}
        stream = _call(
            "events",
            lambda: self.api.events(decode=True, filters=filters),
            rt.RuntimeUnavailableError,
        )
        done = threading.Event()
        closer = threading.Thread(target=_close_when, args=(stop, done, stream), daemon=True)
        closer.start()
        try:
            while not stop.is_set():
                try:
                    event = next(stream, None)
                except Exception as e:
                    if stop.is_set():
                        return
                    raise rt.RuntimeUnavailableError(f"Docker event stream cut: {e}") from e
                if event is None:
                    if stop.is_set():
                        return
                    raise rt.RuntimeUnavailableError("Docker event stream ended")
                actor = event.get("Actor") or {}
                attrs = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
                action = str(event.get("Action") or event.get("status") or "")
                yield RuntimeEvent(str(actor.get("ID") or event.get("id") or ""), action, attrs)
        finally:
            done.set()
            stop_stream(stream)

    def engine_info(self) -> EngineInfo:
        info = _call("info", self.client.info, rt.RuntimeUnavailableError)
        return EngineInfo(
            cpus=int(info.get("NCPU") or 1),
            memory_bytes=int(info.get("MemTotal") or 0),
            version=str(info.get("ServerVersion") or ""),
            os=str(info.get("OperatingSystem") or ""),
            kernel=str(info.get("KernelVersion") or ""),
            architecture=str(info.get("Architecture") or platform.machine()),
        )

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing the HTTP pool is best effort
            log.debug("docker client: close failed")


def stop_stream(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # the stream may already be cut
        log.debug("docker stream: close failed")


def _close_when(stop: threading.Event, done: threading.Event, stream: Any) -> None:
    """Cut a blocking event stream once the caller asks to stop (or has finished with it)."""
    while not stop.wait(0.5):
        if done.is_set():
            return
    stop_stream(stream)
