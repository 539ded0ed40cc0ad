"""The Pod Security Standards' checks, levels, versions and namespace labels: tables of pod specs
and the reasons and details k8s.io/pod-security-admission gives for them."""

from __future__ import annotations

from typing import Any

import pytest

from common import errors
from common.resources import must
from control.memory_store import MemoryStore
from control.registry.registry import Registry
from control.validation.podsecurity import (
    LATEST,
    LevelVersion,
    Policy,
    checks_for,
    describe,
    evaluate,
    parse_defaults,
    policy_from_labels,
)

# A pod spec the restricted level admits; each case below breaks it in one way.
HARDENED_CONTAINER = {
    "name": "c",
    "image": "x",
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
}
HARDENED = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [HARDENED_CONTAINER],
}


def spec(container_sc: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """The hardened spec with container securityContext fields and pod spec fields added."""
    container = {**HARDENED_CONTAINER, "securityContext": {**HARDENED_CONTAINER["securityContext"]}}
    container["securityContext"].update(container_sc or {})
    out: dict[str, Any] = {**HARDENED, "containers": [container]}
    pod_sc = fields.pop("pod_sc", None)
    if pod_sc is not None:
        out["securityContext"] = {**HARDENED["securityContext"], **pod_sc}
    out.update(fields)
    return out


def check(
    level: str, s: dict[str, Any], meta: dict[str, Any] | None = None, v: int = LATEST
) -> str:
    return describe(evaluate(LevelVersion(level, v), meta or {}, s))


BASELINE_CASES = [
    ("nothing", spec(), ""),
    (
        "privileged",
        spec({"privileged": True}),
        'privileged (container "c" must not set securityContext.privileged=true)',
    ),
    (
        "host namespaces",
        spec(hostNetwork=True, hostPID=True, hostIPC=True),
        "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)",
    ),
    (
        "hostPath",
        spec(volumes=[{"name": "a", "hostPath": {"path": "/"}}, {"name": "b", "emptyDir": {}}]),
        'hostPath volumes (volume "a")',
    ),
    (
        "host ports",
        spec(
            containers=[
                {"name": "c", "ports": [{"hostPort": 9000}, {"hostPort": 80}]},
                {"name": "d", "ports": [{"containerPort": 1}]},
            ]
        ),
        'hostPort (container "c" uses hostPorts 80, 9000)',
    ),
    (
        "capabilities",
        spec({"capabilities": {"add": ["SYS_ADMIN", "CHOWN", "NET_RAW"]}}),
        'non-default capabilities (container "c" must not include "NET_RAW", "SYS_ADMIN" in '
        "securityContext.capabilities.add)",
    ),
    ("default capabilities", spec({"capabilities": {"add": ["CHOWN", "KILL"]}}), ""),
    (
        "seccomp unconfined",
        spec(pod_sc={"seccompProfile": {"type": "Unconfined"}}),
        'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    ),
    (
        "sysctls",
        spec(pod_sc={"sysctls": [{"name": "kernel.msgmax"}, {"name": "net.ipv4.tcp_syncookies"}]}),
        "forbidden sysctls (kernel.msgmax)",
    ),
    (
        "procMount",
        spec({"procMount": "Unmasked"}),
        'procMount (container "c" must not set securityContext.procMount to "Unmasked")',
    ),
    ("procMount in a user namespace", spec({"procMount": "Unmasked"}, hostUsers=False), ""),
    (
        "AppArmor",
        spec({"appArmorProfile": {"type": "Unconfined"}}),
        'forbidden AppArmor profile (container "c" must not set AppArmor profile type to '
        '"Unconfined")',
    ),
    (
        "SELinux",
        spec(pod_sc={"seLinuxOptions": {"type": "spc_t", "user": "root"}}),
        'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"; '
        "user may not be set)",
    ),
    (
        "Windows host process",
        spec({"windowsOptions": {"hostProcess": True}}),
        'hostProcess (container "c" must not set securityContext.windowsOptions.hostProcess=true)',
    ),
    (
        "probe host",
        spec(containers=[{"name": "c", "livenessProbe": {"httpGet": {"host": "10.0.0.1"}}}]),
        'probe or lifecycle host (container "c" uses probe or lifecycle host "10.0.0.1")',
    ),
]


@pytest.mark.parametrize(("case", "s", "expected"), BASELINE_CASES)
def test_baseline_checks(case: str, s: dict[str, Any], expected: str) -> None:
    assert check("baseline", s) == expected
    assert check("privileged", s) == ""


RESTRICTED_CASES = [
    ("hardened", spec(), ""),
    (
        "privilege escalation",
        spec({"allowPrivilegeEscalation": True}),
        'allowPrivilegeEscalation != false (container "c" must set '
        "securityContext.allowPrivilegeEscalation=false)",
    ),
    (
        "capabilities",
        spec({"capabilities": {"drop": ["NET_RAW"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}),
        'unrestricted capabilities (container "c" must set securityContext.capabilities.drop='
        '["ALL"]; container "c" must not include "CHOWN" in securityContext.capabilities.add)',
    ),
    (
        "runAsNonRoot false",
        spec({"runAsNonRoot": False}),
        'runAsNonRoot != true (container "c" must not set securityContext.runAsNonRoot=false)',
    ),
    (
        "runAsNonRoot missing",
        {**spec(), "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)',
    ),
    (
        "runAsUser 0",
        spec({"runAsUser": 0}),
        'runAsUser=0 (container "c" must not set runAsUser=0)',
    ),
    (
        "seccomp missing",
        {**spec(), "securityContext": {"runAsNonRoot": True}},
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")',
    ),
    (
        "volumes",
        spec(volumes=[{"name": "g", "gitRepo": {}}, {"name": "n", "nfs": {}}]),
        'restricted volume types (volumes "g", "n" use restricted volume types "gitRepo", "nfs")',
    ),
    (
        "allowed volumes",
        spec(volumes=[{"name": "s", "secret": {}}, {"name": "e", "emptyDir": {}}]),
        "",
    ),
]


@pytest.mark.parametrize(("case", "s", "expected"), RESTRICTED_CASES)
def test_restricted_checks(case: str, s: dict[str, Any], expected: str) -> None:
    assert check("restricted", s) == expected
    assert check("baseline", s) == ""


def test_restricted_includes_baseline_and_reports_in_check_order() -> None:
    s = spec({"privileged": True, "runAsUser": 0}, hostNetwork=True)
    assert check("restricted", s) == (
        'host namespaces (hostNetwork=true), privileged (container "c" must not set '
        'securityContext.privileged=true), runAsUser=0 (container "c" must not set runAsUser=0)'
    )


def test_versions_select_the_checks_of_their_time() -> None:
    s = spec({"runAsUser": 0}, pod_sc={"sysctls": [{"name": "net.ipv4.tcp_keepalive_time"}]})
    assert check("baseline", s, v=28) == "forbidden sysctls (net.ipv4.tcp_keepalive_time)"
    assert check("baseline", s, v=29) == ""
    assert check("restricted", spec(), v=29) == ""
    assert check("restricted", s, v=22).startswith("forbidden sysctls")
    assert check("restricted", s, v=23).endswith(
        'runAsUser=0 (container "c" must not set runAsUser=0)'
    )
    assert len(checks_for(LevelVersion("restricted", 99))) == len(
        checks_for(LevelVersion("restricted", LATEST))
    )
    assert checks_for(LevelVersion("privileged")) == []


def test_annotations_are_checked() -> None:
    meta = {
        "annotations": {
            "container.apparmor.security.beta.kubernetes.io/c": "unconfined",
            "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
        }
    }
    assert check("baseline", spec(), meta) == (
        "forbidden AppArmor profile (annotation must not set AppArmor profile type to "
        '"container.apparmor.security.beta.kubernetes.io/c="unconfined"")'
    )
    assert check("baseline", spec(), meta, v=18).endswith(
        "seccompProfile (forbidden annotation "
        'seccomp.security.alpha.kubernetes.io/pod="unconfined")'
    )
    assert "seccompProfile" not in check("baseline", spec(), meta, v=19)


DEFAULTS = Policy(enforce=LevelVersion("baseline"))


@pytest.mark.parametrize(
    ("labels", "enforce", "warn", "audit", "errors"),
    [
        ({}, "baseline:latest", "privileged:latest", "privileged:latest", []),
        (
            {"pod-security.kubernetes.io/enforce": "restricted"},
            "restricted:latest",
            "restricted:latest",
            "privileged:latest",
            [],
        ),
        (
            {
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/warn": "baseline",
                "pod-security.kubernetes.io/warn-version": "v1.30",
            },
            "privileged:latest",
            "baseline:v1.30",
            "privileged:latest",
            [],
        ),
        (
            {
                "pod-security.kubernetes.io/enforce": "bogus",
                "pod-security.kubernetes.io/audit": "bogus",
                "pod-security.kubernetes.io/enforce-version": "v2.0",
            },
            "restricted:latest",  # an unknown enforce level fails closed
            "privileged:latest",
            "privileged:latest",  # an unknown audit level fails open
            [
                "metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "
                '"bogus": must be one of privileged, baseline, restricted',
                "metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "
                '"v2.0": must be "latest" or "v1.x"',
                "metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "
                '"bogus": must be one of privileged, baseline, restricted',
            ],
        ),
    ],
)
def test_policy_from_labels(
    labels: dict[str, str], enforce: str, warn: str, audit: str, errors: list[str]
) -> None:
    policy, causes = policy_from_labels(labels, DEFAULTS)
    assert (str(policy.enforce), str(policy.warn), str(policy.audit)) == (enforce, warn, audit)
    assert [f"{c.field}: {c.message}" for c in causes] == errors


def test_parse_defaults() -> None:
    policy = parse_defaults("enforce=baseline, audit=restricted,audit-version=v1.29")
    assert (str(policy.enforce), str(policy.audit), str(policy.warn)) == (
        "baseline:latest",
        "restricted:v1.29",
        "privileged:latest",
    )
    assert parse_defaults("") == Policy()
    for bad, message in (
        ("enforce=strict", 'defaults.enforce: Invalid value: "strict": must be one of'),
        ("warn-version=1.2", 'defaults.warn-version: Invalid value: "1.2": must be "latest"'),
        ("level=baseline", 'defaults: Unsupported value: "level"'),
    ):
        with pytest.raises(ValueError, match=message.replace("(", r"\(")):
            parse_defaults(bad)


def test_restricted_volume_types_replace_the_hostpath_check() -> None:
    s = spec(volumes=[{"name": "h", "hostPath": {"path": "/"}}])
    assert check("baseline", s) == 'hostPath volumes (volume "h")'
    assert check("restricted", s) == (
        'restricted volume types (volume "h" uses restricted volume type "hostPath")'
    )


def test_control_plane_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from control.main import parse_args

    assert parse_args([]).pod_security_defaults == "enforce=baseline"
    flag = "enforce=privileged,warn=restricted"
    assert parse_args(["--pod-security-defaults", flag]).pod_security_defaults == flag
    with pytest.raises(SystemExit):
        parse_args(["--pod-security-defaults", "enforce=open"])
    assert (
        'argument --pod-security-defaults: defaults.enforce: Invalid value: "open": must be one of '
        "privileged, baseline, restricted"
    ) in capsys.readouterr().err


def test_a_pod_create_reads_its_namespace_once() -> None:
    """The registry hands the Namespace it checked to Pod Security, which reads its labels."""

    class Counting(MemoryStore):
        namespace_reads = 0

        def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
            if resource == "namespaces":
                self.namespace_reads += 1
            return super().get(resource, namespace, name)

    store = Counting()
    registry = Registry(store)
    registry.ensure_namespaces()
    ns = {
        "metadata": {"name": "apps", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}
    }
    registry.create(must("namespaces"), "", ns)
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    store.namespace_reads = 0
    with pytest.raises(errors.ForbiddenError, match='violates PodSecurity "restricted:latest"'):
        registry.create(must("pods"), "apps", pod)
    assert store.namespace_reads == 1
