"""Security context validation: Kubernetes' field errors for pod and container contexts."""

from __future__ import annotations

from typing import Any

import pytest

from control.validation.securitycontext import (
    validate_pod_security_context,
    validate_security_context,
)

PATH = "spec.containers[0].securityContext"


def errs(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


@pytest.mark.parametrize(
    ("ctx", "expected"),
    [
        ({"runAsUser": 1000, "runAsGroup": 0, "procMount": "Default"}, []),
        (
            {"runAsUser": -5},
            [f"{PATH}.runAsUser: Invalid value: -5: must be between 0 and 2147483647, inclusive"],
        ),
        (
            {"procMount": "Masked"},
            [
                f'{PATH}.procMount: Unsupported value: "Masked": supported values: "Default", '
                '"Unmasked"'
            ],
        ),
        (
            {"seccompProfile": {}},
            [
                f"{PATH}.seccompProfile.type: Required value: type is required when "
                "seccompProfile is set"
            ],
        ),
        (
            {"seccompProfile": {"type": "Localhost", "localhostProfile": "../x.json"}},
            [
                f'{PATH}.seccompProfile.localhostProfile: Invalid value: "../x.json": '
                "must not contain '..'"
            ],
        ),
        (
            {"appArmorProfile": {"type": "Localhost"}},
            [
                f"{PATH}.appArmorProfile.localhostProfile: Required value: must be set when "
                "AppArmor type is Localhost"
            ],
        ),
        (
            {"windowsOptions": {"runAsUserName": "a\\b\\c"}},
            [
                f'{PATH}.windowsOptions.runAsUserName: Invalid value: "a\\\\b\\\\c": '
                "runAsUserName cannot contain more than one backslash"
            ],
        ),
    ],
)
def test_container_security_context(ctx: dict[str, Any], expected: list[str]) -> None:
    assert errs(validate_security_context(ctx, PATH)) == expected


def test_unmasked_proc_mount_needs_a_user_namespace() -> None:
    ctx = {"procMount": "Unmasked"}
    assert errs(validate_security_context(ctx, PATH, host_users=False)) == []
    assert errs(validate_security_context(ctx, PATH)) == [
        f'{PATH}.procMount: Invalid value: "Unmasked": `hostUsers` must be false to use `Unmasked`'
    ]


def test_pod_security_context() -> None:
    ctx = {
        "fsGroup": -1,
        "supplementalGroups": [1, 2**31],
        "sysctls": [{"name": "net.core.somaxconn"}, {"name": ""}, {"name": "kernel.shmmax"}],
        "fsGroupChangePolicy": "Sometimes",
        "supplementalGroupsPolicy": "Loose",
    }
    spec = {"hostNetwork": True, "hostIPC": True, "shareProcessNamespace": True, "hostPID": True}
    path = "spec.securityContext"
    assert errs(validate_pod_security_context(ctx, spec, path)) == [
        f"{path}.fsGroup: Invalid value: -1: must be between 0 and 2147483647, inclusive",
        f"{path}.supplementalGroups[1]: Invalid value: 2147483648: must be between 0 and "
        "2147483647, inclusive",
        f"{path}.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID "
        "cannot both be enabled",
        f'{path}.sysctls[0].name: Invalid value: "net.core.somaxconn": may not be specified '
        "when 'hostNetwork' is true",
        f"{path}.sysctls[1].name: Required value",
        f'{path}.sysctls[2].name: Invalid value: "kernel.shmmax": may not be specified when '
        "'hostIPC' is true",
        f'{path}.fsGroupChangePolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "OnRootMismatch"',
        f'{path}.supplementalGroupsPolicy: Unsupported value: "Loose": supported values: '
        '"Merge", "Strict"',
    ]


@pytest.mark.parametrize(
    ("name", "host", "refused"),
    [
        ("kernel.shm_next_id", "hostIPC", True),  # an ipc sysctl by prefix, as NamespacedBy says
        ("fs.mqueue.msg_max", "hostIPC", True),
        ("kernel/sem", "hostIPC", True),
        ("net/ipv4/conf/eth0.100/rp_filter", "hostNetwork", True),
        ("kernel.shm_next_id", "hostNetwork", False),
        ("net.core.somaxconn", "hostIPC", False),
    ],
)
def test_sysctls_of_a_shared_host_namespace(name: str, host: str, refused: bool) -> None:
    ctx = {"sysctls": [{"name": name, "value": "1"}]}
    found = errs(validate_pod_security_context(ctx, {host: True}, "spec.securityContext"))
    assert bool(found) is refused, found
