"""A pod's and its containers' securityContext as the engine's arguments, and runAsNonRoot.

As the kubelet: a container's own fields override the pod's (``effective``), the image's USER
counts when no ``runAsUser`` is set, and ``run_as_non_root_error`` refuses a container that would
run as root with the kubelet's messages (waiting reason CreateContainerConfigError). The sandbox
gets fixed hardened settings plus the pod's sysctls. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from agent.runtime import SecurityArgs
from common.sysctls import to_dots

# Pod-level fields a container inherits unless it sets its own (DetermineEffectiveSecurityContext).
INHERITED = (
    "seLinuxOptions",
    "windowsOptions",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "seccompProfile",
    "appArmorProfile",
)
# Kubernetes' pause image runs as 65535 (nobody); the sandbox only holds namespaces, so it needs
# no capability, no writable root and no privilege gain.
SANDBOX = SecurityArgs(
    user="65535:65535",
    cap_drop=("ALL",),
    read_only=True,
    security_opt=("no-new-privileges",),
)
MAX_USER_ID = 2147483647
# strconv.ParseInt's syntax for a base-10 int64: the image's USER is numeric only if it matches.
_NUMERIC = re.compile(r"[+-]?[0-9]+")


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def pod_security(pod: Mapping[str, Any]) -> dict[str, Any]:
    return _dict(_dict(pod.get("spec")).get("securityContext"))


def effective(pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    """The container's securityContext with the pod's inheritable fields filled in."""
    out = _dict(container.get("securityContext"))
    pod_sc = pod_security(pod)
    for key in INHERITED:
        if out.get(key) is None and pod_sc.get(key) is not None:
            out[key] = pod_sc[key]
    return out


def image_uid(image_user: str) -> tuple[int | None, str]:
    """The image's USER as the runtime reports it: ``(uid, "")`` when numeric, ``(None, name)``
    for a name, ``(0, "")`` when it sets none (the kubelet treats that as root)."""
    user = image_user.split(":", 1)[0]
    if not user:
        return 0, ""
    if _NUMERIC.fullmatch(user) and -(2**63) <= int(user) < 2**63:
        return int(user), ""
    return None, user  # a name, or a number ParseInt refuses (past int64)


def needs_image_user(pod: Mapping[str, Any], container: Mapping[str, Any]) -> bool:
    """Whether the image's USER matters: runAsNonRoot to verify, or a group to join it with."""
    sc = effective(pod, container)
    if sc.get("runAsUser") is not None:
        return False
    return sc.get("runAsNonRoot") is True or sc.get("runAsGroup") is not None


def pod_ref(pod: Mapping[str, Any]) -> str:
    """The kubelet's ``format.Pod``: ``name_namespace(uid)``."""
    meta = _dict(pod.get("metadata"))
    return f"{meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"


def run_as_non_root_error(
    pod: Mapping[str, Any], container: Mapping[str, Any], image_user: str
) -> str | None:
    """verifyRunAsNonRoot: why the container may not start, or None when it may."""
    sc = effective(pod, container)
    if sc.get("runAsNonRoot") is not True:
        return None
    where = f'(pod: "{pod_ref(pod)}", container: {container.get("name")})'
    run_as = sc.get("runAsUser")
    if run_as is not None:
        return f"container's runAsUser breaks non-root policy {where}" if run_as == 0 else None
    uid, name = image_uid(image_user)
    if uid is None:
        return (
            f"container has runAsNonRoot and image has non-numeric user ({name}), "
            f"cannot verify user is non-root {where}"
        )
    if uid == 0:
        return f"container has runAsNonRoot and image will run as root {where}"
    if not 0 <= uid <= MAX_USER_ID:
        return (
            f"container has runAsNonRoot and image has an invalid user id ({uid}). "
            f"(Must be 1-({MAX_USER_ID})): must be between 0 and {MAX_USER_ID}, inclusive {where}"
        )
    return None


def docker_user(sc: Mapping[str, Any], image_user: str) -> str | None:
    """Docker's ``user``: runAsUser (else the image's user) joined with runAsGroup if set."""
    uid, gid = sc.get("runAsUser"), sc.get("runAsGroup")
    if uid is None and gid is None:
        return None  # the image's own USER, group included
    if uid is not None:
        user = str(uid)
    else:
        image_id, name = image_uid(image_user)
        user = name or str(image_id)
    return user if gid is None else f"{user}:{gid}"


def supplemental_groups(pod: Mapping[str, Any]) -> tuple[str, ...]:
    """fsGroup first, then supplementalGroups, as the kubelet lists them."""
    pod_sc = pod_security(pod)
    groups = [pod_sc["fsGroup"]] if pod_sc.get("fsGroup") is not None else []
    groups += [g for g in pod_sc.get("supplementalGroups") or [] if g is not None]
    return tuple(dict.fromkeys(str(g) for g in groups))


def seccomp_type(sc: Mapping[str, Any]) -> str:
    return str(_dict(sc.get("seccompProfile")).get("type") or "")


def localhost_profile(pod: Mapping[str, Any], container: Mapping[str, Any]) -> str | None:
    """The Localhost seccomp profile a container needs, relative to the node's profile root."""
    sc = effective(pod, container)
    if seccomp_type(sc) != "Localhost":
        return None
    return str(_dict(sc.get("seccompProfile")).get("localhostProfile") or "")


def profile_path(root: str, relative: str) -> str | None:
    """The profile's file under ``root``; None when ``relative`` is empty or leaves ``root``."""
    if not relative or posixpath.isabs(relative) or ".." in relative.split("/"):
        return None
    return posixpath.join(root, relative)


def _capabilities(sc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(c) for c in _dict(sc.get("capabilities")).get(key) or [])


def _security_opt(sc: Mapping[str, Any], seccomp_json: str | None) -> tuple[str, ...]:
    opts = []
    if sc.get("allowPrivilegeEscalation") is False:
        opts.append("no-new-privileges")
    kind = seccomp_type(sc)
    if kind == "Unconfined":
        opts.append("seccomp=unconfined")
    elif kind == "Localhost" and seccomp_json is not None:
        opts.append(f"seccomp={seccomp_json}")
    # RuntimeDefault, or no profile at all: Docker's default profile.
    return tuple(opts)


def container_args(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    image_user: str = "",
    seccomp_json: str | None = None,
) -> SecurityArgs:
    """An app container's securityContext (with the pod's) as engine arguments."""
    sc = effective(pod, container)
    return SecurityArgs(
        user=docker_user(sc, image_user),
        group_add=supplemental_groups(pod),
        cap_add=_capabilities(sc, "add"),
        cap_drop=_capabilities(sc, "drop"),
        privileged=sc.get("privileged") is True,
        read_only=sc.get("readOnlyRootFilesystem") is True,
        security_opt=_security_opt(sc, seccomp_json),
        unmasked_paths=sc.get("procMount") == "Unmasked",
    )


def pod_sysctls(pod: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The pod's sysctls, set on the sandbox whose network and IPC namespaces its containers
    share (Docker refuses them on a container that joins another's namespaces)."""
    items = pod_security(pod).get("sysctls") or []
    return tuple(
        (to_dots(str(item["name"])), str(item.get("value") or ""))
        for item in items
        if isinstance(item, Mapping) and item.get("name")
    )


def sandbox_args(pod: Mapping[str, Any]) -> SecurityArgs:
    """The sandbox's hardened settings, with the pod's sysctls."""
    return dataclasses.replace(SANDBOX, sysctls=pod_sysctls(pod))
