"""The node's sysctl admission: the kubelet's safe set, unsafe patterns, its messages."""

from __future__ import annotations

from typing import Any

import pytest

from agent import securitycontext, sysctls
from common import sysctls as common_sysctls


def pod(*names: str, **spec: Any) -> dict[str, Any]:
    items = [{"name": n, "value": "1"} for n in names]
    return {"spec": {"securityContext": {"sysctls": items}, "containers": [], **spec}}


@pytest.mark.parametrize(
    ("names", "unsafe", "spec", "message"),
    [
        ((), (), {}, None),
        (("net.ipv4.ip_unprivileged_port_start", "kernel.shm_rmid_forced"), (), {}, None),
        (("net/ipv4/tcp_syncookies",), (), {}, None),  # the slash form of a safe one
        (("kernel.msgmax",), (), {}, 'forbidden sysctl: "kernel.msgmax" not allowlisted'),
        (("net.core.somaxconn",), (), {}, 'forbidden sysctl: "net.core.somaxconn" not allowlisted'),
        (("kernel.msgmax",), ("kernel.msg*",), {}, None),
        (("net.core.somaxconn",), ("net.core.somaxconn",), {}, None),
        (
            ("net.ipv4.tcp_syncookies",),
            (),
            {"hostNetwork": True},
            'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled',
        ),
        (
            ("kernel.shm_rmid_forced",),
            (),
            {"hostIPC": True},
            'forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host ipc enabled',
        ),
        (("kernel.shm_rmid_forced",), (), {"hostNetwork": True}, None),
    ],
)
def test_admission(names: Any, unsafe: Any, spec: Any, message: str | None) -> None:
    assert sysctls.Allowlist.of(unsafe).admit(pod(*names, **spec)) == message


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("kernel.panic", 'the sysctl "kernel.panic" are not known to be namespaced'),
        ("vm.*", 'the sysctls "vm.*" are not known to be namespaced'),
    ],
)
def test_unsafe_entries_must_be_namespaced(pattern: str, error: str) -> None:
    with pytest.raises(ValueError) as e:
        sysctls.Allowlist.of([pattern])
    assert str(e.value) == error


@pytest.mark.parametrize(
    ("name", "dots"),
    [
        ("net.ipv4.tcp_syncookies", "net.ipv4.tcp_syncookies"),
        ("net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
        ("net.ipv4.conf.eth0/100.rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
        ("kernel", "kernel"),
    ],
)
def test_names_in_dot_form(name: str, dots: str) -> None:
    assert common_sysctls.to_dots(name) == dots


@pytest.mark.parametrize(
    ("name", "ns"),
    [
        ("kernel.sem", "ipc"),
        ("kernel.shmmax", "ipc"),
        ("fs.mqueue.msg_max", "ipc"),
        ("kernel.hostname", "uts"),
        ("net.core.somaxconn", "net"),
        ("kernel.panic", ""),
        ("vm.swappiness", ""),
    ],
)
def test_namespaces(name: str, ns: str) -> None:
    assert common_sysctls.namespaced_by(name) == ns


def test_the_sandbox_gets_dot_form_names() -> None:
    assert securitycontext.pod_sysctls(pod("net/ipv4/ip_local_port_range")) == (
        ("net.ipv4.ip_local_port_range", "1"),
    )
