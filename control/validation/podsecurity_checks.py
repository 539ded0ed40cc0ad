"""The Pod Security Standards' checks, one function per check of k8s.io/pod-security-admission's
policy package, with its reasons and details word for word. Each takes the pod's (or the pod
template's) metadata and spec as JSON-shaped dicts and returns ``(reason, detail)`` when the pod
breaks it, ``None`` when it passes. ``CHECKS`` lists them with their level and versions. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Meta = Mapping[str, Any]
Spec = Mapping[str, Any]
Result = tuple[str, str] | None
CheckFn = Callable[[Meta, Spec], Result]

BASELINE, RESTRICTED = "baseline", "restricted"
# Capabilities a baseline container may add: the container runtimes' default set.
BASELINE_CAPABILITIES = frozenset(
    [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ]
)
SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}
# Volume types the restricted level allows, and the others in the order they are reported.
RESTRICTED_VOLUME_TYPES = frozenset(
    [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ]
)
OTHER_VOLUME_TYPES = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
]
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
GOOD_PROFILE_TYPES = ("RuntimeDefault", "Localhost")


def dict_of(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def containers(spec: Spec) -> Iterator[Mapping[str, Any]]:
    """Init containers, containers, then ephemeral containers, as the policy visits them."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in list_of(spec.get(key)):
            yield dict_of(c)


def security_context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict_of(obj.get("securityContext"))


def name_of(c: Mapping[str, Any]) -> str:
    return str(c.get("name") or "")


def quote(items: list[str]) -> str:
    """Go's joinQuote: ``"a", "b"``."""
    return '"' + '", "'.join(items) + '"' if items else ""


def plural(one: str, many: str, count: int) -> str:
    return one if count == 1 else many


def named(one: str, many: str, names: list[str]) -> str:
    return f"{plural(one, many, len(names))} {quote(names)}"


def is_windows(spec: Spec) -> bool:
    return dict_of(spec.get("os")).get("name") == "windows"


def user_namespaced(spec: Spec) -> bool:
    return spec.get("hostUsers") is False


def setters(pod_bad: bool, containers: list[str]) -> list[str]:
    out = ["pod"] if pod_bad else []
    if containers:
        out.append(named("container", "containers", containers))
    return out


# -- baseline ----------------------------------------------------------------------------------


def app_armor_profile(meta: Meta, spec: Spec) -> Result:
    bad_values: set[str] = set()
    pod_profile = security_context(spec).get("appArmorProfile")
    pod_bad = pod_profile is not None and dict_of(pod_profile).get("type") not in GOOD_PROFILE_TYPES
    if pod_bad:
        bad_values.add(str(dict_of(pod_profile).get("type") or ""))
    bad: list[str] = []
    for c in containers(spec):
        profile = security_context(c).get("appArmorProfile")
        if profile is not None and dict_of(profile).get("type") not in GOOD_PROFILE_TYPES:
            bad.append(name_of(c))
            bad_values.add(str(dict_of(profile).get("type") or ""))
    who = setters(pod_bad, bad)
    annotations = sorted(
        f"{k}={json.dumps(v)}"
        for k, v in dict_of(meta.get("annotations")).items()
        if str(k).startswith(APPARMOR_ANNOTATION_PREFIX)
        and not (not v or v == "runtime/default" or str(v).startswith("localhost/"))
    )
    values = sorted(bad_values) + annotations
    if annotations:
        who.append(plural("annotation", "annotations", len(annotations)))
    if not who:
        return None
    return (
        plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
        f"{' and '.join(who)} must not set AppArmor profile type to {quote(values)}",
    )


def capabilities_baseline(meta: Meta, spec: Spec) -> Result:
    bad: list[str] = []
    caps: set[str] = set()
    for c in containers(spec):
        added = [
            str(a) for a in list_of(dict_of(security_context(c).get("capabilities")).get("add"))
        ]
        extra = [a for a in added if a not in BASELINE_CAPABILITIES]
        if extra:
            bad.append(name_of(c))
            caps.update(extra)
    if not bad:
        return None
    return (
        "non-default capabilities",
        f"{named('container', 'containers', bad)} must not include {quote(sorted(caps))} "
        "in securityContext.capabilities.add",
    )


def host_namespaces(meta: Meta, spec: Spec) -> Result:
    used = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    return ("host namespaces", ", ".join(used)) if used else None


def host_path_volumes(meta: Meta, spec: Spec) -> Result:
    names = [
        str(dict_of(v).get("name") or "")
        for v in list_of(spec.get("volumes"))
        if dict_of(v).get("hostPath") is not None
    ]
    return ("hostPath volumes", named("volume", "volumes", names)) if names else None


def host_ports(meta: Meta, spec: Spec) -> Result:
    bad: list[str] = []
    ports: set[str] = set()
    for c in containers(spec):
        used = [
            str(dict_of(p)["hostPort"])
            for p in list_of(c.get("ports"))
            if dict_of(p).get("hostPort")
        ]
        if used:
            bad.append(name_of(c))
            ports.update(used)
    if not bad:
        return None
    return (
        "hostPort",
        f"{named('container', 'containers', bad)} {plural('uses', 'use', len(bad))} "
        f"{plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
    )


def _handler_hosts(handler: Any) -> list[str]:
    handler = dict_of(handler)
    hosts = [dict_of(handler.get(k)).get("host") for k in ("httpGet", "tcpSocket")]
    return [str(h) for h in hosts if h]


def host_probes_and_lifecycle(meta: Meta, spec: Spec) -> Result:
    bad: set[str] = set()
    hosts: set[str] = set()
    for c in containers(spec):
        lifecycle = dict_of(c.get("lifecycle"))
        handlers = [c.get(k) for k in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
        found = [h for handler in handlers for h in _handler_hosts(handler)]
        if found:
            bad.add(name_of(c))
            hosts.update(found)
    if not bad:
        return None
    return (
        "probe or lifecycle host",
        f"{named('container', 'containers', sorted(bad))} {plural('uses', 'use', len(bad))} "
        f"{plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{quote(sorted(hosts))}",
    )


def privileged(meta: Meta, spec: Spec) -> Result:
    bad = [name_of(c) for c in containers(spec) if security_context(c).get("privileged") is True]
    if not bad:
        return None
    detail = f"{named('container', 'containers', bad)} must not set securityContext.privileged=true"
    return "privileged", detail


def proc_mount(meta: Meta, spec: Spec, relax_for_user_namespaces: bool = False) -> Result:
    if relax_for_user_namespaces and user_namespaced(spec):
        return None
    bad: list[str] = []
    kinds: set[str] = set()
    for c in containers(spec):
        mount = security_context(c).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(name_of(c))
            kinds.add(str(mount))
    if not bad:
        return None
    return (
        "procMount",
        f"{named('container', 'containers', bad)} must not set securityContext.procMount to "
        f"{quote(sorted(kinds))}",
    )


def se_linux_options(meta: Meta, spec: Spec, allowed_types: frozenset[str]) -> Result:
    bad_types: set[str] = set()
    set_user = set_role = False

    def valid(opts: Mapping[str, Any]) -> bool:
        nonlocal set_user, set_role
        ok = True
        if str(opts.get("type") or "") not in allowed_types:
            ok = False
            bad_types.add(str(opts.get("type") or ""))
        if opts.get("user"):
            ok, set_user = False, True
        if opts.get("role"):
            ok, set_role = False, True
        return ok

    pod_opts = security_context(spec).get("seLinuxOptions")
    pod_bad = pod_opts is not None and not valid(dict_of(pod_opts))
    bad = [
        name_of(c)
        for c in containers(spec)
        if security_context(c).get("seLinuxOptions") is not None
        and not valid(dict_of(security_context(c)["seLinuxOptions"]))
    ]
    who = setters(pod_bad, bad)
    if not who:
        return None
    data = [named("type", "types", sorted(bad_types))] if bad_types else []
    data += ["user may not be set"] if set_user else []
    data += ["role may not be set"] if set_role else []
    return (
        "seLinuxOptions",
        f"{' and '.join(who)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
    )


def seccomp_profile_annotations(meta: Meta, spec: Spec) -> Result:
    annotations = dict_of(meta.get("annotations"))

    def ok(v: Any) -> bool:
        v = str(v)
        return v in ("runtime/default", "docker/default") or v.startswith("localhost/")

    keys = [SECCOMP_POD_ANNOTATION]
    keys += [SECCOMP_CONTAINER_ANNOTATION_PREFIX + name_of(c) for c in containers(spec)]
    bad = sorted(
        {
            f"{k}={json.dumps(annotations[k])}"
            for k in keys
            if k in annotations and not ok(annotations[k])
        }
    )
    if not bad:
        return None
    what = plural("annotation", "annotations", len(bad))
    return "seccompProfile", f"forbidden {what} {', '.join(bad)}"


def _seccomp_type(obj: Mapping[str, Any]) -> tuple[bool, str]:
    """(set, type) of an object's securityContext.seccompProfile."""
    profile = security_context(obj).get("seccompProfile")
    return profile is not None, str(dict_of(profile).get("type") or "")


def seccomp_profile(meta: Meta, spec: Spec, required: bool = False) -> Result:
    bad_values: set[str] = set()
    pod_set, pod_type = _seccomp_type(spec)
    pod_bad = pod_set and pod_type not in GOOD_PROFILE_TYPES
    if pod_bad:
        bad_values.add(pod_type)
    pod_good = pod_set and not pod_bad
    explicit: list[str] = []
    implicit: list[str] = []
    for c in containers(spec):
        is_set, kind = _seccomp_type(c)
        if is_set and kind not in GOOD_PROFILE_TYPES:
            explicit.append(name_of(c))
            bad_values.add(kind)
        elif not is_set and not pod_good:
            implicit.append(name_of(c))
    who = setters(pod_bad, explicit)
    if who:
        return (
            "seccompProfile",
            f"{' and '.join(who)} must not set securityContext.seccompProfile.type to "
            f"{quote(sorted(bad_values))}",
        )
    if required and implicit:
        return (
            "seccompProfile",
            f"pod or {named('container', 'containers', implicit)} must set "
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
        )
    return None


def sysctls(meta: Meta, spec: Spec, allowed: frozenset[str]) -> Result:
    names = [
        str(dict_of(s).get("name") or "") for s in list_of(security_context(spec).get("sysctls"))
    ]
    bad = [n for n in names if n not in allowed]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


def windows_host_process(meta: Meta, spec: Spec) -> Result:
    def host_process(obj: Mapping[str, Any]) -> bool:
        return dict_of(security_context(obj).get("windowsOptions")).get("hostProcess") is True

    who = setters(host_process(spec), [name_of(c) for c in containers(spec) if host_process(c)])
    if not who:
        return None
    return (
        "hostProcess",
        f"{' and '.join(who)} must not set securityContext.windowsOptions.hostProcess=true",
    )
