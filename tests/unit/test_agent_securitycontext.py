"""securityContext -> engine arguments: pod vs container precedence, every field, runAsNonRoot."""

from __future__ import annotations

from typing import Any

import pytest

from agent import podspec, securitycontext
from agent.runtime import SecurityArgs

POD_REF = '(pod: "web-1_default(1111-2222)", container: web)'


def make_pod(pod_sc: dict[str, Any] | None = None, sc: dict[str, Any] | None = None) -> Any:
    container: dict[str, Any] = {"name": "web", "image": "tinykube/web:1"}
    if sc is not None:
        container["securityContext"] = sc
    spec: dict[str, Any] = {"containers": [container]}
    if pod_sc is not None:
        spec["securityContext"] = pod_sc
    pod = {"metadata": {"name": "web-1", "namespace": "default", "uid": "1111-2222"}, "spec": spec}
    return pod, container


@pytest.mark.parametrize(
    ("pod_sc", "sc", "expected"),
    [
        # Nothing set anywhere: nothing to merge.
        (None, None, {}),
        # The pod's inheritable fields fill in what the container leaves unset.
        ({"runAsUser": 1000, "runAsGroup": 3000}, {}, {"runAsUser": 1000, "runAsGroup": 3000}),
        ({"runAsNonRoot": True}, None, {"runAsNonRoot": True}),
        (
            {"seccompProfile": {"type": "RuntimeDefault"}},
            {},
            {"seccompProfile": {"type": "RuntimeDefault"}},
        ),
        # The container's own value wins, even a falsy one.
        ({"runAsUser": 1000}, {"runAsUser": 0}, {"runAsUser": 0}),
        ({"runAsNonRoot": True}, {"runAsNonRoot": False}, {"runAsNonRoot": False}),
        (
            {"seccompProfile": {"type": "RuntimeDefault"}},
            {"seccompProfile": {"type": "Unconfined"}},
            {"seccompProfile": {"type": "Unconfined"}},
        ),
        # Pod-only fields never reach the container's context.
        ({"fsGroup": 2000, "supplementalGroups": [5], "sysctls": []}, {}, {}),
        # Container-only fields stay as they are.
        (
            {"runAsUser": 7},
            {"readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
            {"readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}, "runAsUser": 7},
        ),
    ],
)
def test_effective_context_merges_as_the_kubelet(
    pod_sc: Any, sc: Any, expected: dict[str, Any]
) -> None:
    pod, container = make_pod(pod_sc, sc)
    assert securitycontext.effective(pod, container) == expected


@pytest.mark.parametrize(
    ("image_user", "expected"),
    [
        ("", (0, "")),
        ("0", (0, "")),
        ("1000", (1000, "")),
        ("1000:3000", (1000, "")),
        ("root", (None, "root")),
        ("nobody:nogroup", (None, "nobody")),
        ("+5", (5, "")),
        ("-1", (-1, "")),
        ("99999999999999999999", (None, "99999999999999999999")),
    ],
)
def test_image_uid_reads_the_image_user_as_the_runtime_does(
    image_user: str, expected: tuple[int | None, str]
) -> None:
    assert securitycontext.image_uid(image_user) == expected


@pytest.mark.parametrize(
    ("pod_sc", "sc", "image_user", "error"),
    [
        # Not asked: whatever the image does.
        (None, None, "", None),
        ({"runAsNonRoot": False}, None, "", None),
        # runAsUser decides when set, whatever the image says.
        ({"runAsNonRoot": True}, {"runAsUser": 1000}, "", None),
        ({"runAsNonRoot": True, "runAsUser": 1000}, None, "0", None),
        (
            {"runAsNonRoot": True},
            {"runAsUser": 0},
            "1000",
            f"container's runAsUser breaks non-root policy {POD_REF}",
        ),
        # Otherwise the image's USER: empty or 0 is root, a name cannot be verified.
        (
            {"runAsNonRoot": True},
            None,
            "",
            f"container has runAsNonRoot and image will run as root {POD_REF}",
        ),
        (
            None,
            {"runAsNonRoot": True},
            "0:0",
            f"container has runAsNonRoot and image will run as root {POD_REF}",
        ),
        (
            {"runAsNonRoot": True},
            None,
            "root",
            "container has runAsNonRoot and image has non-numeric user (root), "
            f"cannot verify user is non-root {POD_REF}",
        ),
        ({"runAsNonRoot": True}, None, "1000", None),
        ({"runAsNonRoot": True}, None, "65534:65534", None),
        (
            {"runAsNonRoot": True},
            None,
            "-1",
            "container has runAsNonRoot and image has an invalid user id (-1). "
            "(Must be 1-(2147483647)): must be between 0 and 2147483647, inclusive "
            f"{POD_REF}",
        ),
        # The container's runAsNonRoot false overrides the pod's true.
        ({"runAsNonRoot": True}, {"runAsNonRoot": False}, "", None),
    ],
)
def test_run_as_non_root_decisions_and_messages(
    pod_sc: Any, sc: Any, image_user: str, error: str | None
) -> None:
    pod, container = make_pod(pod_sc, sc)
    assert securitycontext.run_as_non_root_error(pod, container, image_user) == error


@pytest.mark.parametrize(
    ("pod_sc", "sc", "needed"),
    [
        (None, None, False),
        ({"runAsNonRoot": True}, None, True),
        ({"runAsNonRoot": True}, {"runAsUser": 1000}, False),
        (None, {"runAsGroup": 3000}, True),
        ({"runAsUser": 1, "runAsGroup": 3000}, None, False),
    ],
)
def test_the_image_user_is_read_only_when_it_matters(pod_sc: Any, sc: Any, needed: bool) -> None:
    pod, container = make_pod(pod_sc, sc)
    assert securitycontext.needs_image_user(pod, container) is needed


@pytest.mark.parametrize(
    ("pod_sc", "sc", "image_user", "user"),
    [
        (None, None, "1000:1000", None),  # the image's own USER, group included
        ({"runAsUser": 1000}, None, "", "1000"),
        ({"runAsUser": 1000, "runAsGroup": 3000}, None, "", "1000:3000"),
        ({"runAsUser": 1000, "runAsGroup": 3000}, {"runAsUser": 2000}, "", "2000:3000"),
        ({"runAsUser": 1000}, {"runAsUser": 0}, "", "0"),
        # A group alone joins the image's user: root when it names none.
        (None, {"runAsGroup": 3000}, "", "0:3000"),
        (None, {"runAsGroup": 3000}, "1000:1000", "1000:3000"),
        (None, {"runAsGroup": 3000}, "nobody", "nobody:3000"),
    ],
)
def test_docker_user(pod_sc: Any, sc: Any, image_user: str, user: str | None) -> None:
    pod, container = make_pod(pod_sc, sc)
    assert securitycontext.container_args(pod, container, image_user).user == user


def test_every_container_field_becomes_an_engine_argument() -> None:
    pod, container = make_pod(
        {"fsGroup": 2000, "supplementalGroups": [4000, 2000, 5000]},
        {
            "runAsUser": 1000,
            "runAsGroup": 3000,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    )
    assert securitycontext.container_args(pod, container) == SecurityArgs(
        user="1000:3000",
        group_add=("2000", "4000", "5000"),  # fsGroup first, each group once
        cap_add=("NET_BIND_SERVICE",),
        cap_drop=("ALL",),
        read_only=True,
        security_opt=("no-new-privileges",),  # RuntimeDefault is Docker's default: no option
    )


def test_nothing_set_leaves_docker_defaults() -> None:
    pod, container = make_pod()
    assert securitycontext.container_args(pod, container) == SecurityArgs()
    assert "user" not in podspec.docker_create_kwargs(
        podspec.app_spec(pod, container, 0, "s", "n", "c")
    )


@pytest.mark.parametrize(
    ("pod_sc", "sc", "profile", "opts"),
    [
        (None, {"allowPrivilegeEscalation": True}, None, ()),
        (None, {"allowPrivilegeEscalation": False}, None, ("no-new-privileges",)),
        ({"seccompProfile": {"type": "Unconfined"}}, None, None, ("seccomp=unconfined",)),
        (
            {"seccompProfile": {"type": "Unconfined"}},
            {"seccompProfile": {"type": "RuntimeDefault"}},
            None,
            (),
        ),
        (
            None,
            {"seccompProfile": {"type": "Localhost", "localhostProfile": "a.json"}},
            '{"defaultAction":"SCMP_ACT_ALLOW"}',
            ('seccomp={"defaultAction":"SCMP_ACT_ALLOW"}',),
        ),
    ],
)
def test_security_options(pod_sc: Any, sc: Any, profile: str | None, opts: tuple[str]) -> None:
    pod, container = make_pod(pod_sc, sc)
    assert securitycontext.container_args(pod, container, "", profile).security_opt == opts


def test_privileged_and_proc_mount() -> None:
    pod, container = make_pod(None, {"privileged": True, "procMount": "Unmasked"})
    args = securitycontext.container_args(pod, container)
    assert args.privileged and args.unmasked_paths
    pod, container = make_pod(None, {"procMount": "Default"})
    assert not securitycontext.container_args(pod, container).unmasked_paths


@pytest.mark.parametrize(
    ("pod_sc", "sc", "relative"),
    [
        (None, None, None),
        ({"seccompProfile": {"type": "RuntimeDefault"}}, None, None),
        (
            {"seccompProfile": {"type": "Localhost", "localhostProfile": "p/a.json"}},
            None,
            "p/a.json",
        ),
        (
            {"seccompProfile": {"type": "Localhost", "localhostProfile": "pod.json"}},
            {"seccompProfile": {"type": "Localhost", "localhostProfile": "own.json"}},
            "own.json",
        ),
        (
            {"seccompProfile": {"type": "Localhost", "localhostProfile": "pod.json"}},
            {"seccompProfile": {"type": "RuntimeDefault"}},
            None,
        ),
    ],
)
def test_localhost_profile(pod_sc: Any, sc: Any, relative: str | None) -> None:
    pod, container = make_pod(pod_sc, sc)
    assert securitycontext.localhost_profile(pod, container) == relative


@pytest.mark.parametrize(
    ("relative", "path"),
    [
        ("audit.json", "/seccomp/audit.json"),
        ("profiles/a.json", "/seccomp/profiles/a.json"),
        ("", None),
        ("/etc/passwd", None),
        ("../x.json", None),
        ("a/../../x.json", None),
    ],
)
def test_profile_paths_stay_under_the_root(relative: str, path: str | None) -> None:
    assert securitycontext.profile_path("/seccomp", relative) == path


def test_sandbox_is_hardened_and_carries_the_pod_sysctls() -> None:
    sysctls = [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
        {"name": "kernel.shm_rmid_forced", "value": "1"},
    ]
    pod, _ = make_pod({"sysctls": sysctls, "runAsUser": 1000, "fsGroup": 2000})
    spec = podspec.sandbox_spec(pod, 0, "n", "c")
    assert spec.security == SecurityArgs(
        user="65535:65535",
        cap_drop=("ALL",),
        read_only=True,
        security_opt=("no-new-privileges",),
        sysctls=(("net.ipv4.ip_unprivileged_port_start", "0"), ("kernel.shm_rmid_forced", "1")),
    )
    kwargs = podspec.docker_create_kwargs(spec)
    assert kwargs["sysctls"] == {
        "net.ipv4.ip_unprivileged_port_start": "0",
        "kernel.shm_rmid_forced": "1",
    }
    assert kwargs["user"] == "65535:65535" and kwargs["read_only"] is True


def test_app_containers_get_no_sysctls_of_their_own() -> None:
    pod, container = make_pod({"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]})
    spec = podspec.app_spec(pod, container, 0, "s", "n", "c")
    assert "sysctls" not in podspec.docker_create_kwargs(spec)


def test_docker_create_kwargs_of_a_secured_container() -> None:
    pod, container = make_pod(
        {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000},
        {
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": True,
        },
    )
    kwargs = podspec.docker_create_kwargs(podspec.app_spec(pod, container, 0, "s", "n", "c"))
    assert kwargs["user"] == "1000:3000"
    assert kwargs["group_add"] == ["2000"]
    assert kwargs["cap_drop"] == ["ALL"] and kwargs["cap_add"] == ["CHOWN"]
    assert kwargs["read_only"] is True and kwargs["privileged"] is True
    assert kwargs["security_opt"] == ["no-new-privileges"]


def test_unmasked_proc_empties_masked_and_readonly_paths() -> None:
    pod, container = make_pod(None, {"procMount": "Unmasked"})
    spec = podspec.app_spec(pod, container, 0, "s", "n", "c")
    assert podspec.docker_host_config_extra(spec) == {"MaskedPaths": [], "ReadonlyPaths": []}
    pod, container = make_pod()
    assert (
        podspec.docker_host_config_extra(podspec.app_spec(pod, container, 0, "s", "n", "c")) == {}
    )
