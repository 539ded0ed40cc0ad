"""Validation of pod and container security contexts, as pkg/apis/core/validation words it:
user and group ids, procMount, seccomp and AppArmor profiles, sysctls, Windows options and the
policies of the pod's security context. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import duplicate, invalid, not_supported, required, too_long
from common.sysctls import namespaced_by, to_dots

# Kubernetes' bound on user and group ids (libcontainer's: 0 to 1<<31 - 1).
MAX_ID = 2**31 - 1
ID_RANGE = f"must be between 0 and {MAX_ID}, inclusive"
PROC_MOUNT_TYPES = ("Default", "Unmasked")
PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
FS_GROUP_CHANGE_POLICIES = ("Always", "OnRootMismatch")
SUPPLEMENTAL_GROUPS_POLICIES = ("Merge", "Strict")
SE_LINUX_CHANGE_POLICIES = ("MountOption", "Recursive")
SYSCTL_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
SYSCTL_REGEX = f"^({SYSCTL_SEGMENT}[\\./])*{SYSCTL_SEGMENT}$"
SYSCTL_MAX_LENGTH = 253
MAX_LOCALHOST_PROFILE = 4095  # PATH_MAX - 1
MAX_GMSA_SPEC = 64 * 1024
MAX_WINDOWS_USER = 104


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ids(ctx: Mapping[str, Any], keys: tuple[str, ...], path: str) -> list[Cause]:
    return [
        invalid(f"{path}.{key}", ctx[key], ID_RANGE)
        for key in keys
        if isinstance(ctx.get(key), int) and not 0 <= ctx[key] <= MAX_ID
    ]


def _local_descending_path(value: str, path: str) -> list[Cause]:
    causes = [invalid(path, value, "must be a relative path")] if value.startswith("/") else []
    if ".." in value.replace("\\", "/").split("/"):
        causes.append(invalid(path, value, "must not contain '..'"))
    return causes


def validate_seccomp_profile(profile: Any, path: str) -> list[Cause]:
    if profile is None:
        return []
    profile = _dict(profile)
    kind, local = profile.get("type") or "", profile.get("localhostProfile")
    causes: list[Cause] = []
    if not kind:
        causes.append(required(f"{path}.type", "type is required when seccompProfile is set"))
    elif kind not in PROFILE_TYPES:
        causes.append(not_supported(f"{path}.type", kind, PROFILE_TYPES))
    if kind == "Localhost":
        if local is None:
            causes.append(
                required(f"{path}.localhostProfile", "must be set when seccomp type is Localhost")
            )
        else:
            causes += _local_descending_path(str(local), f"{path}.localhostProfile")
    elif local is not None:
        causes.append(
            invalid(
                f"{path}.localhostProfile",
                dict(profile),
                "can only be set when seccomp type is Localhost",
            )
        )
    return causes


def validate_app_armor_profile(profile: Any, path: str) -> list[Cause]:
    if profile is None:
        return []
    profile = _dict(profile)
    kind, local = profile.get("type") or "", profile.get("localhostProfile")
    lpath = f"{path}.localhostProfile"
    if kind == "Localhost":
        if local is None or not str(local).strip():
            return [required(lpath, "must be set when AppArmor type is Localhost")]
        causes = []
        if str(local).strip() != local:
            causes.append(invalid(lpath, local, "must not be padded with whitespace"))
        if len(str(local)) > MAX_LOCALHOST_PROFILE:
            causes.append(too_long(lpath, MAX_LOCALHOST_PROFILE))
        return causes
    if kind in ("RuntimeDefault", "Unconfined"):
        if local is not None:
            return [invalid(lpath, local, "can only be set when AppArmor type is Localhost")]
        return []
    if not kind:
        return [required(f"{path}.type", "type is required when appArmorProfile is set")]
    return [not_supported(f"{path}.type", kind, PROFILE_TYPES)]


def _validate_run_as_user_name(value: str, path: str) -> list[Cause]:
    if not value:
        return [invalid(path, value, "runAsUserName cannot be an empty string")]
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return [invalid(path, value, "runAsUserName cannot contain control characters")]
    parts = value.split("\\")
    if len(parts) > 2:
        return [invalid(path, value, "runAsUserName cannot contain more than one backslash")]
    user = parts[-1]
    if not user:
        return [invalid(path, value, "runAsUserName's User cannot be empty")]
    if len(user) > MAX_WINDOWS_USER:
        message = (
            f"runAsUserName's User length must not be longer than {MAX_WINDOWS_USER} characters"
        )
        return [invalid(path, value, message)]
    return []


def validate_windows_options(options: Any, path: str) -> list[Cause]:
    options = _dict(options)
    causes: list[Cause] = []
    name = options.get("gmsaCredentialSpecName")
    if name is not None:
        causes += [
            invalid(f"{path}.gmsaCredentialSpecName", name, m)
            for m in names.is_dns1123_subdomain(str(name))
        ]
    spec = options.get("gmsaCredentialSpec")
    if spec is not None and not spec:
        message = "gmsaCredentialSpec cannot be an empty string"
        causes.append(invalid(f"{path}.gmsaCredentialSpec", spec, message))
    elif spec is not None and len(str(spec)) > MAX_GMSA_SPEC:
        message = f"gmsaCredentialSpec size must be under {MAX_GMSA_SPEC // 1024} KiB"
        causes.append(invalid(f"{path}.gmsaCredentialSpec", spec, message))
    user = options.get("runAsUserName")
    if user is not None:
        causes += _validate_run_as_user_name(str(user), f"{path}.runAsUserName")
    return causes


def validate_security_context(ctx: Any, path: str, host_users: bool = True) -> list[Cause]:
    """ValidateSecurityContext (a container's), but for the --allow-privileged policy."""
    if ctx is None:
        return []
    ctx = _dict(ctx)
    causes = _ids(ctx, ("runAsUser", "runAsGroup"), path)
    mount = ctx.get("procMount")
    if mount is not None:
        if mount not in PROC_MOUNT_TYPES:
            causes.append(not_supported(f"{path}.procMount", mount, PROC_MOUNT_TYPES))
        if host_users and mount == "Unmasked":
            message = "`hostUsers` must be false to use `Unmasked`"
            causes.append(invalid(f"{path}.procMount", mount, message))
    causes += validate_seccomp_profile(ctx.get("seccompProfile"), f"{path}.seccompProfile")
    if ctx.get("allowPrivilegeEscalation") is False:
        if ctx.get("privileged") is True:
            message = "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"
            causes.append(invalid(path, dict(ctx), message))
        if "CAP_SYS_ADMIN" in _list(_dict(ctx.get("capabilities")).get("add")):
            message = (
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                "CAP_SYS_ADMIN"
            )
            causes.append(invalid(path, dict(ctx), message))
    causes += validate_windows_options(ctx.get("windowsOptions"), f"{path}.windowsOptions")
    causes += validate_app_armor_profile(ctx.get("appArmorProfile"), f"{path}.appArmorProfile")
    return causes


def _host_sysctl(name: str, spec: Mapping[str, Any], path: str) -> list[Cause]:
    ns = namespaced_by(to_dots(name))
    if spec.get("hostNetwork") is True and ns == "net":
        return [invalid(path, name, "may not be specified when 'hostNetwork' is true")]
    if spec.get("hostIPC") is True and ns == "ipc":
        return [invalid(path, name, "may not be specified when 'hostIPC' is true")]
    return []


def validate_sysctls(sysctls: list[Any], spec: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    message = f"must have at most {SYSCTL_MAX_LENGTH} characters and match regex {SYSCTL_REGEX}"
    for i, sysctl in enumerate(sysctls):
        name, npath = str(_dict(sysctl).get("name") or ""), f"{path}[{i}].name"
        if not name:
            causes.append(required(npath))
        elif len(name) > SYSCTL_MAX_LENGTH or not re.fullmatch(SYSCTL_REGEX[1:-1], name):
            causes.append(invalid(npath, name, message))
        elif name in seen:
            causes.append(duplicate(npath, name))
        causes += _host_sysctl(name, spec, npath)
        seen.add(name)
    return causes


def _choice(ctx: Mapping[str, Any], key: str, choices: tuple[str, ...], path: str) -> list[Cause]:
    value = ctx.get(key)
    if value is None or value in choices:
        return []
    return [not_supported(f"{path}.{key}", value, choices)]


def validate_pod_security_context(ctx: Any, spec: Mapping[str, Any], path: str) -> list[Cause]:
    """validatePodSpecSecurityContext (which sees the pod's host namespaces and
    shareProcessNamespace in its security context, as the internal API keeps them)."""
    ctx = _dict(ctx)
    causes = _ids(ctx, ("fsGroup", "runAsUser", "runAsGroup"), path)
    for i, gid in enumerate(_list(ctx.get("supplementalGroups"))):
        if isinstance(gid, int) and not 0 <= gid <= MAX_ID:
            causes.append(invalid(f"{path}.supplementalGroups[{i}]", gid, ID_RANGE))
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID") is True:
        message = "ShareProcessNamespace and HostPID cannot both be enabled"
        causes.append(invalid(f"{path}.shareProcessNamespace", True, message))
    causes += validate_sysctls(_list(ctx.get("sysctls")), spec, f"{path}.sysctls")
    causes += _choice(ctx, "fsGroupChangePolicy", FS_GROUP_CHANGE_POLICIES, path)
    causes += validate_seccomp_profile(ctx.get("seccompProfile"), f"{path}.seccompProfile")
    causes += validate_windows_options(ctx.get("windowsOptions"), f"{path}.windowsOptions")
    causes += validate_app_armor_profile(ctx.get("appArmorProfile"), f"{path}.appArmorProfile")
    causes += _choice(ctx, "supplementalGroupsPolicy", SUPPLEMENTAL_GROUPS_POLICIES, path)
    causes += _choice(ctx, "seLinuxChangePolicy", SE_LINUX_CHANGE_POLICIES, path)
    return causes
