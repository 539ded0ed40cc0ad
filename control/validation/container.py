"""Validation of a pod's containers and init containers, as pkg/apis/core/validation does it.

Names, images, ports, env, volume mounts, pull policy, resources, probes and security
contexts, with Kubernetes' field paths and messages. Expects a defaulted pod. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import (
    duplicate,
    forbidden,
    invalid,
    not_found,
    not_supported,
    required,
    validate_label_name,
)
from common.quantity import parse_quantity
from control.validation.meta import validate_nonnegative
from control.validation.securitycontext import validate_security_context

PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
HTTP_SCHEMES = ("HTTP", "HTTPS")
# Resource names a container may request without a domain prefix.
STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_ports(ports: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port, ppath = _dict(port), f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = names.is_valid_port_name(name)
            causes.extend(invalid(f"{ppath}.name", name, m) for m in msgs)
            if not msgs and name in seen:
                causes.append(duplicate(f"{ppath}.name", name))
            seen.add(name)
        container_port = port.get("containerPort") or 0
        if not container_port:
            causes.append(required(f"{ppath}.containerPort"))
        else:
            causes.extend(
                invalid(f"{ppath}.containerPort", container_port, m)
                for m in names.is_valid_port_num(container_port)
            )
        host_port = port.get("hostPort") or 0
        if host_port:
            causes.extend(
                invalid(f"{ppath}.hostPort", host_port, m)
                for m in names.is_valid_port_num(host_port)
            )
        protocol = port.get("protocol") or ""
        if not protocol:
            causes.append(required(f"{ppath}.protocol"))
        elif protocol not in PROTOCOLS:
            causes.append(not_supported(f"{ppath}.protocol", protocol, PROTOCOLS))
    return causes


def validate_env(env: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in enumerate(env):
        var, vpath = _dict(var), f"{path}[{i}]"
        name = var.get("name") or ""
        if not name:
            causes.append(required(f"{vpath}.name"))
        else:
            causes.extend(invalid(f"{vpath}.name", name, m) for m in names.is_env_var_name(name))
        value_from = var.get("valueFrom")
        if value_from is not None and var.get("value"):
            causes.append(
                invalid(f"{vpath}.valueFrom", "", "may not be specified when `value` is not empty")
            )
    return causes


def validate_volume_mounts(mounts: list[Any], volumes: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    mount_paths: set[str] = set()
    for i, mount in enumerate(mounts):
        mount, mpath = _dict(mount), f"{path}[{i}]"
        name = mount.get("name") or ""
        if not name:
            causes.append(required(f"{mpath}.name"))
        if name not in volumes:
            causes.append(not_found(f"{mpath}.name", name))
        mount_path = mount.get("mountPath") or ""
        if not mount_path:
            causes.append(required(f"{mpath}.mountPath"))
        if mount_path in mount_paths:
            causes.append(invalid(f"{mpath}.mountPath", mount_path, "must be unique"))
        mount_paths.add(mount_path)
        sub_path = mount.get("subPath") or ""
        if sub_path.startswith("/"):
            causes.append(invalid(f"{path}.subPath", sub_path, "must be a relative path"))
        if ".." in sub_path.split("/"):
            causes.append(invalid(f"{path}.subPath", sub_path, "must not contain '..'"))
    return causes


def validate_resources(resources: Any, path: str) -> list[Cause]:
    """Resource names and quantities; requests may not exceed limits."""
    resources = _dict(resources)
    causes: list[Cause] = []
    values: dict[str, dict[str, Any]] = {}
    for part in ("limits", "requests"):
        values[part] = {}
        for name, quantity in _dict(resources.get(part)).items():
            rpath = f"{path}.{part}[{name}]"
            causes.extend(validate_label_name(name, rpath))
            if (
                "/" not in name
                and name not in STANDARD_CONTAINER_RESOURCES
                and not name.startswith("hugepages-")
            ):
                causes.append(invalid(rpath, name, "must be a standard resource for containers"))
            try:
                amount = parse_quantity(quantity)
            except ValueError as e:
                causes.append(invalid(rpath, quantity, str(e)))
                continue
            if amount < 0:
                causes.append(invalid(rpath, str(quantity), "must be greater than or equal to 0"))
            values[part][name] = (amount, quantity)
    for name, (amount, shown) in values["requests"].items():
        limit = values["limits"].get(name)
        if limit is not None and amount > limit[0]:
            causes.append(
                invalid(
                    f"{path}.requests",
                    str(shown),
                    f"must be less than or equal to {name} limit of {limit[1]}",
                )
            )
    return causes


def _validate_handler(handler: Mapping[str, Any], path: str) -> list[Cause]:
    kinds = [k for k in ("exec", "httpGet", "tcpSocket", "grpc") if handler.get(k) is not None]
    if not kinds:
        return [required(path, "must specify a handler type")]
    causes = [
        forbidden(f"{path}.{k}", "may not specify more than 1 handler type") for k in kinds[1:]
    ]
    kind, spec = kinds[0], _dict(handler.get(kinds[0]))
    hpath = f"{path}.{kind}"
    if kind == "exec" and not spec.get("command"):
        causes.append(required(f"{hpath}.command"))
    if kind == "httpGet":
        if not spec.get("path"):
            causes.append(required(f"{hpath}.path"))
        scheme = spec.get("scheme") or ""
        if scheme not in HTTP_SCHEMES:
            causes.append(not_supported(f"{hpath}.scheme", scheme, HTTP_SCHEMES))
    if kind in ("httpGet", "tcpSocket", "grpc"):
        causes.extend(_validate_port_num_or_name(spec.get("port"), f"{hpath}.port"))
    return causes


def _validate_port_num_or_name(port: Any, path: str) -> list[Cause]:
    if isinstance(port, str):
        return [invalid(path, port, m) for m in names.is_valid_port_name(port)]
    return [invalid(path, port or 0, m) for m in names.is_valid_port_num(port or 0)]


def validate_probe(
    probe: Any, path: str, liveness_or_startup: bool, readiness: bool
) -> list[Cause]:
    if probe is None:
        return []
    probe = _dict(probe)
    causes = _validate_handler(probe, path)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        causes.extend(validate_nonnegative(probe.get(key), f"{path}.{key}"))
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        causes.append(
            invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0")
        )
    if liveness_or_startup and probe.get("successThreshold", 1) != 1:
        causes.append(
            invalid(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1")
        )
    if readiness and grace is not None:
        causes.append(
            invalid(
                f"{path}.terminationGracePeriodSeconds",
                grace,
                "must not be set for readinessProbes",
            )
        )
    return causes


def validate_common(
    container: Mapping[str, Any], volumes: set[str], path: str, host_users: bool = True
) -> list[Cause]:
    """validateContainerCommon: what every kind of container must satisfy."""
    causes: list[Cause] = []
    name = container.get("name") or ""
    if not name:
        causes.append(required(f"{path}.name"))
    else:
        causes.extend(invalid(f"{path}.name", name, m) for m in names.is_dns1123_label(name))
    image = container.get("image") or ""
    if not image:
        causes.append(required(f"{path}.image"))
    policy = container.get("terminationMessagePolicy") or ""
    if not policy:
        causes.append(required(f"{path}.terminationMessagePolicy"))
    elif policy not in TERMINATION_MESSAGE_POLICIES:
        causes.append(
            not_supported(f"{path}.terminationMessagePolicy", policy, TERMINATION_MESSAGE_POLICIES)
        )
    causes.extend(validate_ports(_list(container.get("ports")), f"{path}.ports"))
    causes.extend(validate_env(_list(container.get("env")), f"{path}.env"))
    mounts = _list(container.get("volumeMounts"))
    causes.extend(validate_volume_mounts(mounts, volumes, f"{path}.volumeMounts"))
    pull = container.get("imagePullPolicy") or ""
    if not pull:
        causes.append(required(f"{path}.imagePullPolicy"))
    elif pull not in PULL_POLICIES:
        causes.append(not_supported(f"{path}.imagePullPolicy", pull, PULL_POLICIES))
    causes.extend(validate_resources(container.get("resources"), f"{path}.resources"))
    causes.extend(
        validate_security_context(
            container.get("securityContext"), f"{path}.securityContext", host_users
        )
    )
    return causes


def _probes(container: Mapping[str, Any], path: str) -> list[Cause]:
    return (
        validate_probe(container.get("livenessProbe"), f"{path}.livenessProbe", True, False)
        + validate_probe(container.get("readinessProbe"), f"{path}.readinessProbe", False, True)
        + validate_probe(container.get("startupProbe"), f"{path}.startupProbe", True, False)
    )


def _host_port_conflicts(containers: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for ci, container in enumerate(containers):
        for pi, port in enumerate(_list(_dict(container).get("ports"))):
            port = _dict(port)
            if not port.get("hostPort"):
                continue
            key = f"{port.get('protocol') or ''}/{port.get('hostIP') or ''}/{port['hostPort']}"
            if key in seen:
                causes.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return causes


def validate_containers(
    containers: list[Any], volumes: set[str], path: str, host_users: bool = True
) -> list[Cause]:
    if not containers:
        return [required(path)]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        container, cpath = _dict(container), f"{path}[{i}]"
        causes.extend(validate_common(container, volumes, cpath, host_users))
        name = container.get("name") or ""
        if name in seen:
            causes.append(duplicate(f"{cpath}.name", name))
        seen.add(name)
        causes.extend(_probes(container, cpath))
        if container.get("restartPolicy") is not None:
            causes.append(
                forbidden(f"{cpath}.restartPolicy", "may not be set for non-init containers")
            )
    return causes + _host_port_conflicts(containers, path)


def validate_init_containers(
    init: list[Any], regular: list[Any], volumes: set[str], path: str, host_users: bool = True
) -> list[Cause]:
    causes: list[Cause] = []
    seen = {_dict(c).get("name") or "" for c in regular}
    for i, container in enumerate(init):
        container, cpath = _dict(container), f"{path}[{i}]"
        causes.extend(validate_common(container, volumes, cpath, host_users))
        restart = container.get("restartPolicy")
        if restart is not None and restart != "Always":
            causes.append(not_supported(f"{cpath}.restartPolicy", restart, ("Always",)))
        name = container.get("name") or ""
        if name in seen:
            causes.append(duplicate(f"{cpath}.name", name))
        elif name:
            seen.add(name)
        causes.extend(_host_port_conflicts([container], path))
        if restart == "Always":
            causes.extend(_probes(container, cpath))
            continue
        for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(key) is not None:
                causes.append(
                    forbidden(
                        f"{cpath}.{key}",
                        "may not be set for init containers without restartPolicy=Always",
                    )
                )
    return causes
