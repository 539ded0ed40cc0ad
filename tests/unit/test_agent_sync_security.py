"""PodSyncer applies the securityContext: runAsNonRoot refusals, the image's USER, seccomp files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent import runtime as rt
from agent import sysctls
from agent.events import EventRecorder
from agent.fake_runtime import FakeRuntime
from agent.planner import BackoffPolicy
from agent.sync import RETRY_SECONDS, PodSyncer
from tests.unit.test_agent_sync import CLUSTER, NODE, Clock, FakeApi, add_pod, apps, pod_of

IMAGE = "tinykube/web:1"


@pytest.fixture
def env(tmp_path: Path):
    clock = Clock()
    api = FakeApi()
    runtime = FakeRuntime((IMAGE,), clock=clock)
    syncer = PodSyncer(
        api,  # type: ignore[arg-type]
        runtime,
        EventRecorder(api, NODE),  # type: ignore[arg-type]
        node=NODE,
        cluster=CLUSTER,
        host_ip="192.168.1.5",
        policy=BackoffPolicy(base=10, cap=40, reset=600),
        clock=clock,
        seccomp_root=str(tmp_path),
    )
    return api, runtime, syncer, tmp_path


def secure_pod(api: FakeApi, pod_sc: Any = None, sc: Any = None) -> dict[str, Any]:
    pod = add_pod(api, image=IMAGE)
    if pod_sc is not None:
        pod["spec"]["securityContext"] = pod_sc
    if sc is not None:
        pod["spec"]["containers"][0]["securityContext"] = sc
    return api.put("pods", pod)


def waiting(api: FakeApi) -> dict[str, Any]:
    return dict(pod_of(api)["status"]["containerStatuses"][0]["state"]["waiting"])


def test_run_as_non_root_on_a_root_image_starts_nothing(env) -> None:
    api, runtime, syncer, _ = env
    secure_pod(api, {"runAsNonRoot": True})
    result = syncer.sync(pod_of(api))
    message = (
        'container has runAsNonRoot and image will run as root (pod: "web_default(uid-web)", '
        "container: main)"
    )
    assert waiting(api) == {"reason": "CreateContainerConfigError", "message": message}
    assert apps(runtime) == []  # no container created at all
    assert ("Failed", f"Error: {message}") in api.events()
    assert not any(reason == "Created" for reason, _ in api.events())
    assert pod_of(api)["status"]["phase"] == "Pending"
    assert result.requeue_after == RETRY_SECONDS
    # The image changes to a non-root USER: the next sync starts it.
    runtime.set_image_user(IMAGE, "1000")
    syncer.sync(pod_of(api))
    (app,) = apps(runtime)
    assert app.state == "running"
    assert runtime.specs[app.id].security.user is None  # the image's own USER


def test_run_as_non_root_on_a_named_image_user_cannot_be_verified(env) -> None:
    api, runtime, syncer, _ = env
    runtime.set_image_user(IMAGE, "nobody")
    secure_pod(api, None, {"runAsNonRoot": True})
    syncer.sync(pod_of(api))
    assert waiting(api)["message"].startswith(
        "container has runAsNonRoot and image has non-numeric user (nobody), cannot verify"
    )
    assert apps(runtime) == []


def test_run_as_user_zero_breaks_the_policy(env) -> None:
    api, runtime, syncer, _ = env
    runtime.set_image_user(IMAGE, "1000")
    secure_pod(api, {"runAsNonRoot": True, "runAsUser": 1000}, {"runAsUser": 0})
    syncer.sync(pod_of(api))
    assert waiting(api)["message"].startswith("container's runAsUser breaks non-root policy")
    assert apps(runtime) == []


def test_a_secured_container_is_created_with_its_arguments(env) -> None:
    api, runtime, syncer, _ = env
    runtime.set_image_user(IMAGE, "1000:1000")
    secure_pod(
        api,
        {"runAsNonRoot": True, "runAsGroup": 3000, "fsGroup": 2000},
        {"capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True},
    )
    syncer.sync(pod_of(api))
    (app,) = apps(runtime, "running")
    security = runtime.specs[app.id].security
    assert security.user == "1000:3000"  # the image's uid, the pod's group
    assert security.group_add == ("2000",)
    assert security.cap_drop == ("ALL",) and security.read_only


def test_an_unreadable_image_config_is_a_config_error(env) -> None:
    api, runtime, syncer, _ = env
    secure_pod(api, {"runAsNonRoot": True})
    runtime.image_user = _raise_missing  # type: ignore[method-assign]
    syncer.sync(pod_of(api))
    assert waiting(api) == {
        "reason": "CreateContainerConfigError",
        "message": "inspect image tinykube/web:1: No such image: tinykube/web:1",
    }


def _raise_missing(image: str) -> str:
    raise rt.ContainerRuntimeError(f"inspect image {image}: No such image: {image}")


def test_a_localhost_seccomp_profile_is_read_from_the_root(env) -> None:
    api, runtime, syncer, root = env
    (root / "profiles").mkdir()
    (root / "profiles" / "audit.json").write_text('{"defaultAction": "SCMP_ACT_LOG"}')
    secure_pod(
        api, {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/audit.json"}}
    )
    syncer.sync(pod_of(api))
    (app,) = apps(runtime, "running")
    assert runtime.specs[app.id].security.security_opt == (
        'seccomp={"defaultAction": "SCMP_ACT_LOG"}',
    )


def test_a_missing_localhost_profile_refuses_the_container(env) -> None:
    api, runtime, syncer, root = env
    secure_pod(api, None, {"seccompProfile": {"type": "Localhost", "localhostProfile": "x.json"}})
    syncer.sync(pod_of(api))
    path = root / "x.json"
    assert waiting(api) == {
        "reason": "CreateContainerError",
        "message": f'cannot load seccomp profile "{path}": open {path}: no such file or directory',
    }
    assert apps(runtime) == []


def test_a_localhost_profile_outside_the_root_is_refused(env) -> None:
    api, runtime, syncer, root = env
    secure_pod(api, None, {"seccompProfile": {"type": "Localhost", "localhostProfile": "../x"}})
    syncer.sync(pod_of(api))
    assert waiting(api) == {
        "reason": "CreateContainerError",
        "message": f'cannot load seccomp profile "../x": localhostProfile must be a relative '
        f"path under {root}",
    }
    assert apps(runtime) == []


def test_a_forbidden_sysctl_rejects_the_pod_before_anything_starts(env) -> None:
    api, runtime, syncer, _ = env
    secure_pod(api, {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]})
    syncer.sync(pod_of(api))
    status = pod_of(api)["status"]
    message = 'forbidden sysctl: "kernel.msgmax" not allowlisted'
    assert status["phase"] == "Failed"
    assert status["reason"] == "SysctlForbidden"
    assert status["message"] == f"Pod was rejected: {message}"
    assert ("SysctlForbidden", message) in api.events()
    assert runtime.containers() == []  # not even a sandbox
    # Later syncs start nothing and leave the rejection's status as it is.
    writes = len(api.writes)
    syncer.sync(pod_of(api))
    assert pod_of(api)["status"] == status
    assert len(api.writes) == writes
    assert runtime.containers() == []


def test_an_allowed_unsafe_sysctl_reaches_the_sandbox(env) -> None:
    api, runtime, syncer, _ = env
    syncer.status.sysctls = sysctls.Allowlist.of(["kernel.msg*"])
    secure_pod(api, {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]})
    syncer.sync(pod_of(api))
    assert pod_of(api)["status"]["phase"] == "Running"
    (sandbox,) = [c for c in runtime.containers() if c.role == "sandbox"]
    assert runtime.specs[sandbox.id].security.sysctls == (("kernel.msgmax", "65536"),)


def test_a_running_pod_is_not_rejected_afterwards(env) -> None:
    """Admission happens once, before the pod first starts (an agent restarted with a
    narrower allowlist leaves running pods alone)."""
    api, runtime, syncer, _ = env
    syncer.status.sysctls = sysctls.Allowlist.of(["kernel.msg*"])
    secure_pod(api, {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]})
    syncer.sync(pod_of(api))
    syncer.status.sysctls = sysctls.Allowlist.of()
    syncer.sync(pod_of(api))
    assert pod_of(api)["status"]["phase"] == "Running"
    assert len(apps(runtime, "running")) == 1
