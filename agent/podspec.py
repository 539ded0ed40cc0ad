"""Translate a pod and its containers into runtime create specs: names, labels and arguments.

Names and labels follow the kubelet's Docker integration (k8s_behavior.md §6) so that
``docker ps --filter label=io.kubernetes.container.name=web`` works as on a kubelet node.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agent import envvars, securitycontext
from agent import runtime as rt
from agent.resolvconf import ResolvConf
from agent.runtime import CreateSpec, Mount, SecurityArgs
from common.quantity import parse_bytes, parse_cpu_millis

SANDBOX_IMAGE = "tinykube/pause:1"
DEFAULT_GRACE_SECONDS = 30


def default_pull_policy(image: str) -> str:
    """Always for ``:latest`` or an untagged image, else IfNotPresent (Kubernetes' defaulting)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def pull_policy(container: dict[str, Any]) -> str:
    return str(container.get("imagePullPolicy") or default_pull_policy(container.get("image", "")))


def container_hash(container: dict[str, Any]) -> str:
    """A short hash of the container spec: a change (an image update) means a new container."""
    blob = json.dumps(container, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


def label_grace(c: rt.ContainerInfo) -> float:
    """The grace period a container was created with (its label), for a pod no longer known."""
    try:
        return float(c.labels.get(rt.GRACE_PERIOD, DEFAULT_GRACE_SECONDS))
    except ValueError:
        return float(DEFAULT_GRACE_SECONDS)


def sandbox_name(pod: dict[str, Any], attempt: int) -> str:
    meta = pod["metadata"]
    return f"k8s_POD_{meta['name']}_{meta['namespace']}_{meta['uid']}_{attempt}"


def container_name(pod: dict[str, Any], container: dict[str, Any], restart_count: int) -> str:
    meta = pod["metadata"]
    return (
        f"k8s_{container['name']}_{meta['name']}_{meta['namespace']}_{meta['uid']}_{restart_count}"
    )


def grace_seconds(pod: dict[str, Any]) -> int:
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE_SECONDS if value is None else int(value)


def _common_labels(pod: dict[str, Any], name: str, node: str, cluster: str) -> dict[str, str]:
    meta = pod["metadata"]
    return {
        rt.POD_NAME: meta["name"],
        rt.POD_NAMESPACE: meta["namespace"],
        rt.POD_UID: meta["uid"],
        rt.CONTAINER_NAME: name,
        rt.GRACE_PERIOD: str(grace_seconds(pod)),
        rt.NODE_LABEL: node,
        rt.CLUSTER_LABEL: cluster,
    }


def sandbox_labels(pod: dict[str, Any], attempt: int, node: str, cluster: str) -> dict[str, str]:
    """The sandbox's labels: the pod's own labels first, so ours win on a clash."""
    labels = {str(k): str(v) for k, v in (pod["metadata"].get("labels") or {}).items()}
    labels |= _common_labels(pod, rt.SANDBOX_CONTAINER_NAME, node, cluster)
    labels[rt.DOCKER_TYPE] = "podsandbox"
    labels[rt.RESTART_COUNT] = str(attempt)
    return labels


def container_labels(
    pod: dict[str, Any],
    container: dict[str, Any],
    restart_count: int,
    sandbox_id: str,
    node: str,
    cluster: str,
) -> dict[str, str]:
    labels = _common_labels(pod, container["name"], node, cluster)
    labels[rt.DOCKER_TYPE] = "container"
    labels[rt.SANDBOX_ID] = sandbox_id
    labels[rt.RESTART_COUNT] = str(restart_count)
    labels[rt.CONTAINER_HASH] = container_hash(container)
    return labels


def port_bindings(pod: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """The ``hostPort``s of every app container and native sidecar (an init container with
    ``restartPolicy: Always``, running as long as the pod), published on the sandbox that owns
    the network; a run-to-completion init container's are not."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    bindings: dict[str, list[tuple[str, int]]] = {}
    for container in [*sidecars, *(spec.get("containers") or [])]:
        for port in container.get("ports") or []:
            host_port = port.get("hostPort")
            if not host_port:
                continue
            key = f"{int(port['containerPort'])}/{str(port.get('protocol') or 'TCP').lower()}"
            bindings.setdefault(key, []).append((str(port.get("hostIP") or ""), int(host_port)))
    return bindings


def sandbox_spec(
    pod: dict[str, Any],
    attempt: int,
    node: str,
    cluster: str,
    image: str = SANDBOX_IMAGE,
    dns: ResolvConf | None = None,
) -> CreateSpec:
    """The pause container that holds the pod's network namespace, published ports and
    resolv.conf (``dns``; None leaves the engine's copy of the host's); with ``hostNetwork``
    the node's network, its name and resolv.conf (Docker refuses the others with it)."""
    spec = pod.get("spec") or {}
    host_network = spec.get("hostNetwork") is True
    isolated: dict[str, Any] = {}
    if not host_network:
        isolated = {"hostname": _hostname(pod), "port_bindings": port_bindings(pod)}
        isolated |= _dns_fields(dns)
    return CreateSpec(
        name=sandbox_name(pod, attempt),
        image=image,
        labels=sandbox_labels(pod, attempt, node, cluster),
        role="sandbox",
        network_mode="host" if host_network else None,
        ipc_mode="host" if spec.get("hostIPC") is True else "shareable",
        stop_signal="SIGKILL",
        security=securitycontext.sandbox_args(pod),
        **isolated,
    )


def _dns_fields(dns: ResolvConf | None) -> dict[str, Any]:
    """Docker writes the sandbox's resolv.conf from these and the app containers, joining its
    network namespace, share that file. An empty search list would let Docker copy the host's:
    ``.`` means none."""
    if dns is None:
        return {}
    return {
        "dns_servers": dns.nameservers,
        "dns_search": dns.searches or (".",),
        "dns_options": dns.options,
    }


def _hostname(pod: dict[str, Any]) -> str:
    spec = pod.get("spec") or {}
    # Linux limits a hostname to 63 characters, as the kubelet truncates it.
    return str(spec.get("hostname") or pod["metadata"]["name"])[:63].rstrip("-.")


def _env(container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "name" in item and "valueFrom" not in item:
            env[str(item["name"])] = str(item.get("value") or "")
    return env


def _limits(container: dict[str, Any]) -> tuple[int | None, int | None]:
    limits = (container.get("resources") or {}).get("limits") or {}
    mem = parse_bytes(limits["memory"]) if limits.get("memory") is not None else None
    cpu = limits.get("cpu")
    nano = parse_cpu_millis(cpu) * 1_000_000 if cpu is not None else None
    return mem, nano


def app_spec(
    pod: dict[str, Any],
    container: dict[str, Any],
    restart_count: int,
    sandbox_id: str,
    node: str,
    cluster: str,
    security: SecurityArgs | None = None,
    *,
    env: dict[str, str] | None = None,
    mounts: tuple[Mount, ...] = (),
    target_id: str | None = None,
) -> CreateSpec:
    """An app container joined to the sandbox's network and IPC namespaces; ``security``
    defaults to what its securityContext says without the image's USER or a seccomp file;
    ``env`` is the resolved environment (``envvars``; default: the literal ``value``s), whose
    variables ``$(VAR)`` in command and args refer to; ``target_id``: the container whose PID
    namespace an ephemeral container joins."""
    mem, nano = _limits(container)
    env = _env(container) if env is None else env
    command, args = envvars.expand_command(container, env)
    return CreateSpec(
        name=container_name(pod, container, restart_count),
        image=str(container["image"]),
        labels=container_labels(pod, container, restart_count, sandbox_id, node, cluster),
        role="app",
        entrypoint=command,
        command=args,
        env=env,
        working_dir=container.get("workingDir") or None,
        network_mode=f"container:{sandbox_id}",
        ipc_mode=_app_ipc_mode(pod, sandbox_id),
        pid_mode=_app_pid_mode(pod, target_id),
        mem_limit=mem,
        nano_cpus=nano,
        tty=bool(container.get("tty")),
        stdin_open=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdin")) and bool(container.get("stdinOnce")),
        security=securitycontext.container_args(pod, container) if security is None else security,
        mounts=mounts,
    )


def _app_ipc_mode(pod: dict[str, Any], sandbox_id: str) -> str:
    """The node's IPC namespace with ``hostIPC`` (Docker shares no host namespace through a
    joined container), else the sandbox's."""
    host = (pod.get("spec") or {}).get("hostIPC") is True
    return "host" if host else f"container:{sandbox_id}"


def _app_pid_mode(pod: dict[str, Any], target_id: str | None) -> str | None:
    """The node's PID namespace with ``hostPID``; an ephemeral container's target's; else its
    own."""
    if (pod.get("spec") or {}).get("hostPID") is True:
        return "host"
    return f"container:{target_id}" if target_id else None


def docker_create_kwargs(spec: CreateSpec) -> dict[str, Any]:
    """Keyword arguments of docker SDK ``containers.create`` for a spec."""
    kwargs: dict[str, Any] = {
        "image": spec.image,
        "name": spec.name,
        "labels": dict(spec.labels),
        # docker-py sets StdinOnce only for a container that is not detached; create never
        # starts it, so "not detached" changes nothing else.
        "detach": not spec.stdin_once,
        "tty": spec.tty,
        "stdin_open": spec.stdin_open,
    }
    if spec.entrypoint is not None:
        kwargs["entrypoint"] = list(spec.entrypoint)
    if spec.command is not None:
        kwargs["command"] = list(spec.command)
    if spec.env:
        kwargs["environment"] = dict(spec.env)
    optional = {
        "working_dir": spec.working_dir,
        "hostname": spec.hostname,
        "network_mode": spec.network_mode,
        "ipc_mode": spec.ipc_mode,
        "pid_mode": spec.pid_mode,
        "mem_limit": spec.mem_limit,
        "nano_cpus": spec.nano_cpus,
        "stop_signal": spec.stop_signal,
    }
    kwargs |= {k: v for k, v in optional.items() if v is not None}
    if spec.mounts:
        kwargs["mounts"] = [
            {"Type": "bind", "Source": m.source, "Target": m.target, "ReadOnly": m.read_only}
            for m in spec.mounts
        ]
    dns = {"dns": spec.dns_servers, "dns_search": spec.dns_search, "dns_opt": spec.dns_options}
    kwargs |= {k: list(v) for k, v in dns.items() if v}
    if spec.port_bindings:
        kwargs["ports"] = {
            port: [(ip, hp) if ip else hp for ip, hp in binds]
            for port, binds in spec.port_bindings.items()
        }
    return kwargs | _security_kwargs(spec.security)


def _security_kwargs(sec: SecurityArgs) -> dict[str, Any]:
    """The docker SDK arguments of a securityContext; unset ones are left to Docker's defaults."""
    kwargs: dict[str, Any] = {}
    if sec.user is not None:
        kwargs["user"] = sec.user
    lists = {
        "group_add": sec.group_add,
        "cap_add": sec.cap_add,
        "cap_drop": sec.cap_drop,
        "security_opt": sec.security_opt,
    }
    kwargs |= {k: list(v) for k, v in lists.items() if v}
    if sec.privileged:
        kwargs["privileged"] = True
    if sec.read_only:
        kwargs["read_only"] = True
    if sec.sysctls:
        kwargs["sysctls"] = dict(sec.sysctls)
    return kwargs


def docker_host_config_extra(spec: CreateSpec) -> dict[str, Any]:
    """HostConfig fields the docker SDK has no argument for: procMount Unmasked empties the
    masked and read-only /proc paths, as ``docker run --security-opt systempaths=unconfined``."""
    if spec.security.unmasked_paths:
        return {"MaskedPaths": [], "ReadonlyPaths": []}
    return {}
