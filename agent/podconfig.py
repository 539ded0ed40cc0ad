"""What a pod's containers get from the API beyond their spec: its volumes set up (``volumes``)
from the ConfigMaps and Secrets it uses (``configwatch``), and each container's environment
(``envvars``) and binds. The sync asks ``prepare`` before starting anything (a failed volume
keeps the pod ContainerCreating with a FailedMount event) and ``container`` for each container
it creates (a missing object or key is a CreateContainerConfigError). Effectful shell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import credentials, envvars, node, subpath, volumeplan, volumes
from agent import runtime as rt
from agent.config import AgentConfig
from agent.configrefs import Lookup, MissingObjectError
from agent.configwatch import ConfigObjects
from agent.node import HostFacts
from agent.runtime import Mount
from agent.serviceenv import ServiceEnv
from agent.serviceview import ServiceInformers
from agent.tokenrequests import TokenManager
from agent.volumes import VolumeManager
from common import errors
from common.client import ApiClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContainerConfig:
    env: dict[str, str]
    mounts: tuple[Mount, ...]
    warnings: tuple[tuple[str, str], ...]  # (reason, message) of Warning events


def _no_objects(kind: str, name: str) -> Mapping[str, Any] | None:
    return None


def _needs_pod_ip(container: Mapping[str, Any]) -> bool:
    for var in container.get("env") or []:
        path = ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") or ""
        if str(path).startswith("status.podIP"):
            return True
    return False


@dataclass(frozen=True)
class PullCredentials:
    auth: tuple[dict[str, str], ...]
    warning: str | None  # a FailedToRetrieveImagePullSecret event's message


class PodConfig:
    """Volumes, environment and binds of this node's pods."""

    def __init__(
        self,
        volumes: VolumeManager | None,
        objects: ConfigObjects | None,
        *,
        host_ip: str,
        allocatable: Callable[[], Mapping[str, Any]] = dict,
        tokens: TokenManager | None = None,
        services: ServiceEnv | None = None,
    ) -> None:
        self.volumes = volumes
        self.objects = objects
        self.tokens = tokens
        # The variables of the Services a pod sees (KUBERNETES_SERVICE_HOST, ...).
        self.services = services
        self.host_ip = host_ip
        self.allocatable = allocatable

    def lookup(self, pod: Mapping[str, Any]) -> Lookup:
        if self.objects is None:
            return _no_objects
        return self.objects.lookup(str(pod["metadata"].get("namespace") or ""))

    def prepare(self, pod: Mapping[str, Any]) -> dict[str, str]:
        """Watch what the pod uses and set its volumes up; return the FailedMount messages by
        volume name (none: every volume is ready)."""
        if self.objects is not None:
            self.objects.register(pod)
        if self.volumes is None:
            return {}
        try:
            tokens = self.tokens.fetcher(pod) if self.tokens is not None else None
            failed = self.volumes.setup(pod, self.lookup(pod), tokens)
        except errors.ApiError as e:
            names = [str(v.get("name")) for v in (pod.get("spec") or {}).get("volumes") or []]
            failed = dict.fromkeys(names, str(e))
        claimed = {str(v.get("name")) for v in (pod.get("spec") or {}).get("volumes") or []
                   if v.get("persistentVolumeClaim") is not None}  # fmt: skip
        messages = {}
        for name, why in failed.items():
            formats = volumeplan.unmounted_message if name in claimed else None
            messages[name] = (formats or volumeplan.failed_mount_message)(name, why)
        return messages

    def pull_credentials(self, pod: Mapping[str, Any], image: str) -> PullCredentials:
        """The registry credentials of ``image`` from the pod's ``imagePullSecrets``, and the
        kubelet's warning when some of those Secrets cannot be read."""
        try:
            secrets, missing = credentials.pull_secrets(pod, self.lookup(pod))
        except errors.ApiError as e:
            log.warning("pod %s: image pull secrets not read: %s", pod["metadata"].get("uid"), e)
            secrets, missing = [], []
        auth = credentials.lookup_credentials(credentials.keyring(secrets), image)
        warning = None
        if missing:
            warning = (
                f"Unable to retrieve some image pull secrets ({', '.join(missing)}); "
                "attempting to pull the image may not succeed."
            )
        return PullCredentials(tuple(auth), warning)

    def watching(self, pod: Mapping[str, Any]) -> bool:
        """Whether a change of what the pod uses will queue it (else the sync polls)."""
        return self.objects is None or self.objects.synced(pod)

    def container(
        self,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        pod_ip: Callable[[], str | None],
        attempt: int | None = None,
    ) -> ContainerConfig:
        """The container's environment and binds; raises ``rt.ContainerConfigError`` with the
        kubelet's message."""
        ip = pod_ip() if _needs_pod_ip(container) else None
        ctx = envvars.PodContext(
            pod_ips=[ip] if ip else [],
            host_ips=[self.host_ip] if self.host_ip else [],
            allocatable=self.allocatable(),
        )
        try:
            services = self.services.for_pod(pod) if self.services is not None else None
            env = envvars.make_environment(pod, container, self.lookup(pod), ctx, services)
            mounts: list[Mount] = []
            if self.volumes is not None:
                mounts = self.volumes.mounts(pod, container, env.env)
        except (envvars.EnvError, MissingObjectError, subpath.SubPathError) as e:
            raise rt.ContainerConfigError(str(e)) from e
        except errors.ApiError as e:
            raise rt.ContainerConfigError(str(e)) from e
        if attempt is not None:
            mounts.extend(self._termination_log(pod, container, attempt))
        return ContainerConfig(env.env, tuple(mounts), env.warnings)

    def _termination_log(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], attempt: int
    ) -> list[Mount]:
        """The host file bound at terminationMessagePath (``/dev/termination-log`` is a tmpfs
        in the container, gone once it stops): the agent reads it after the container ended."""
        target = str(container.get("terminationMessagePath") or "")
        if self.volumes is None or not target:
            return []
        uid = str(pod["metadata"]["uid"])
        try:
            path = self.volumes.termination_log(uid, str(container["name"]), attempt)
        except OSError as e:
            log.warning("pod %s: no termination log for %s: %s", uid, container["name"], e)
            return []
        return [Mount(str(path), target)]

    def forget(self, uid: str) -> None:
        """The pod's containers are gone: stop watching for it and remove its volumes."""
        if self.objects is not None:
            self.objects.unregister(uid)
        if self.tokens is not None:
            self.tokens.forget(uid)
        if self.volumes is not None:
            try:
                self.volumes.teardown(uid)
            except OSError as e:
                log.warning("pod %s: volumes not removed: %s", uid, e)

    def pod_uids(self) -> list[str]:
        """Pods that still have volume directories here."""
        return self.volumes.pod_uids() if self.volumes is not None else []

    def stop(self) -> None:
        if self.objects is not None:
            self.objects.stop()
        if self.services is not None:
            self.services.stop()


# Under the agent's root dir, where the local-path provisioner's volumes live (k3s keeps them in
# /var/lib/rancher/k3s/storage).
STORAGE_DIR = "storage"


def local_path_dir(cfg: AgentConfig) -> str:
    """The directory of this node's local-path volumes (the Node annotation says it)."""
    return str(Path(cfg.root_dir or cfg.data_dir) / STORAGE_DIR)


def for_node(
    client: ApiClient,
    on_change: Callable[[str], None],
    cfg: AgentConfig,
    facts: HostFacts | None,
    cluster: str,
    informers: ServiceInformers | None = None,
) -> PodConfig:
    """An agent's: volumes under its root dir (tmpfs by default where it is root outside a
    container), the objects they read watched one by one, queueing pods on a change; the
    Service variables read from ``informers``' Services watch when given."""
    assert facts is not None

    def offered() -> Mapping[str, Any]:
        return node.allocatable(facts.engine)

    tmpfs = volumes.default_tmpfs() if cfg.volume_tmpfs is None else cfg.volume_tmpfs
    owner = volumes.owner(cluster, cfg.node_name)
    root = Path(cfg.root_dir or cfg.data_dir)
    manager = VolumeManager(root, owner=owner, tmpfs=tmpfs, allocatable=offered)
    return PodConfig(manager, ConfigObjects(client, on_change), host_ip=facts.ip,
                     allocatable=offered, tokens=TokenManager(client),
                     services=ServiceEnv(client, informers))  # fmt: skip
