"""A container's environment as the kubelet's ``makeEnvironmentVariables`` builds it: ``envFrom``
first (``prefix``, ``optional``, invalid names skipped and reported), then ``env`` in order, each
``value`` with ``$(VAR)`` expanded, each ``valueFrom`` resolved; command and args expanded with
the result. A missing required object or key raises ``EnvError`` with the kubelet's words. Pure:
no I/O (ConfigMaps and Secrets come through a lookup function).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent import fieldpath
from agent.configrefs import CONFIGMAP, SECRET, Lookup, data_of, fetch
from common import names


class EnvError(ValueError):
    """The environment cannot be made (CreateContainerConfigError, with this message)."""


@dataclass(frozen=True)
class PodContext:
    """What a container's environment may read beyond its spec: the pod's and node's IPs and the
    node's allocatable resources (the default of an unset limit)."""

    pod_ips: Sequence[str] = ()
    host_ips: Sequence[str] = ()
    allocatable: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    env: dict[str, str]
    # (reason, message) of Warning events about the pod, e.g. InvalidEnvironmentVariableNames
    warnings: tuple[tuple[str, str], ...] = ()


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """The kubelet's ``expansion.Expand``: ``$(NAME)`` is replaced, ``$$`` is a ``$``, anything
    else (an unclosed ``$(``, an unknown name) stays as written."""
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1 :]
            if rest[0] == "$":
                read, advance = "$", 1
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close >= 0:
                    read, advance = mapping(rest[1:close]), close + 1
                else:
                    read, advance = "$(", 1
            else:
                read, advance = "$" + rest[0], 1
            out.append(read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    def mapping(name: str) -> str:
        for values in contexts:
            if name in values:
                return values[name]
        return f"$({name})"

    return mapping


def _env_from(
    pod: Mapping[str, Any], container: Mapping[str, Any], lookup: Lookup
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    env: dict[str, str] = {}
    warnings: list[tuple[str, str]] = []
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        if source.get("configMapRef") is not None:
            kind, ref, label = CONFIGMAP, source["configMapRef"], "configMap"
        elif source.get("secretRef") is not None:
            kind, ref, label = SECRET, source["secretRef"], "secret"
        else:
            continue
        name = str(ref.get("name") or "")
        obj = fetch(lookup, kind, name, bool(ref.get("optional")))
        invalid: list[str] = []
        for key, value in data_of(kind, obj).items():
            key = prefix + key
            if names.is_env_var_name(key):
                invalid.append(key)
                continue
            env[key] = value.decode(errors="replace")
        if invalid:
            warnings.append((
                "InvalidEnvironmentVariableNames",
                f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {label} {namespace}/{name} "
                "were skipped since they are considered invalid environment variable names.",
            ))  # fmt: skip
    return env, warnings


def _key_ref(
    pod: Mapping[str, Any], kind: str, ref: Mapping[str, Any], lookup: Lookup
) -> str | None:
    """A configMapKeyRef's or secretKeyRef's value; None when optional and absent."""
    name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
    optional = bool(ref.get("optional"))
    obj = fetch(lookup, kind, name, optional)
    data = data_of(kind, obj)
    if key not in data:
        if optional:
            return None
        namespace = (pod.get("metadata") or {}).get("namespace", "")
        label = "ConfigMap" if kind == CONFIGMAP else "Secret"
        raise EnvError(f"couldn't find key {key} in {label} {namespace}/{name}")
    return data[key].decode(errors="replace")


def _value_from(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    source: Mapping[str, Any],
    lookup: Lookup,
    ctx: PodContext,
) -> str | None:
    try:
        if source.get("fieldRef") is not None:
            path = str(source["fieldRef"].get("fieldPath") or "")
            return fieldpath.pod_field(pod, path, ctx.pod_ips, ctx.host_ips)
        if source.get("resourceFieldRef") is not None:
            return fieldpath.resource_value(
                pod, container, source["resourceFieldRef"], ctx.allocatable
            )
    except fieldpath.FieldPathError as e:
        raise EnvError(str(e)) from e
    if source.get("configMapKeyRef") is not None:
        return _key_ref(pod, CONFIGMAP, source["configMapKeyRef"], lookup)
    if source.get("secretKeyRef") is not None:
        return _key_ref(pod, SECRET, source["secretKeyRef"], lookup)
    return ""


def make_environment(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    lookup: Lookup,
    ctx: PodContext,
    service_env: Mapping[str, str] | None = None,
) -> Environment:
    """The container's variables in the kubelet's order (see the module docstring); raises
    ``EnvError`` or ``configrefs.MissingObjectError``."""
    service_env = service_env or {}
    env, warnings = _env_from(pod, container, lookup)
    mapping = mapping_for(env, service_env)
    for var in container.get("env") or []:
        value = str(var.get("value") or "")
        if value:
            value = expand(value, mapping)
        elif var.get("valueFrom") is not None:
            resolved = _value_from(pod, container, var["valueFrom"], lookup, ctx)
            if resolved is None:
                continue  # optional and absent: the variable is not set at all
            value = resolved
        env[str(var.get("name"))] = value
    for key, value in service_env.items():
        env.setdefault(key, value)
    return Environment(env, tuple(warnings))


def expand_command(
    container: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[list[str] | None, list[str] | None]:
    """``ExpandContainerCommandAndArgs``: command and args with ``$(VAR)`` from the final env."""
    mapping = mapping_for(env)
    command = container.get("command")
    args = container.get("args")
    return (
        [expand(str(c), mapping) for c in command] if command else None,
        [expand(str(a), mapping) for a in args] if args else None,
    )


def expand_sub_path(expr: str, env: Mapping[str, str]) -> str:
    """``ExpandContainerVolumeMounts``: a ``subPathExpr`` whose every variable is set."""
    missing: set[str] = set()

    def mapping(name: str) -> str:
        value = env.get(name, "")
        if not value:
            missing.add(name)
        return value

    expanded = expand(expr, mapping)
    if missing:
        raise EnvError(f"missing value for {', '.join(sorted(missing))}")
    return expanded
