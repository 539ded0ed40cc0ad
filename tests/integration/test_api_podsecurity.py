"""Pod Security admission over HTTP: namespace levels, warn headers, the audit log line, the
cluster defaults, pod templates, namespace labels, and the combination with --allow-privileged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore
from control.validation.podsecurity import parse_defaults
from tests.integration.conftest import ADMIN_TOKEN, Api, pod_manifest

NAMESPACES = "/api/v1/namespaces"
ENFORCE = "pod-security.kubernetes.io/enforce"
DISALLOWED = "Forbidden: disallowed by cluster policy"

Make = Callable[..., Api]


@pytest.fixture
def make(store: RedisStore) -> Make:
    """An API server with the given ServerConfig options, on the test's Redis."""

    def build(**config: Any) -> Api:
        auth = TokenAuthenticator({ADMIN_TOKEN: User("admin", ("system:masters",))})
        app = create_app(store, auth, ServerConfig(watch_poll=0.2, **config))
        app.extensions["tinykube"]["registry"].ensure_namespaces()
        return Api(app.test_client(), ADMIN_TOKEN)

    return build


def write(api: Api, method: str, path: str, body: Any) -> tuple[int, Any, list[str]]:
    ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
    resp = api.client.open(
        path, method=method, json=body, headers={**api.headers, "Content-Type": ctype}
    )
    return resp.status_code, resp.get_json(), resp.headers.getlist("Warning")


def namespace(api: Api, name: str, **labels: str) -> None:
    code, status, _ = write(api, "POST", NAMESPACES, {"metadata": {"name": name, "labels": labels}})
    assert code == 201, status


def pods(ns: str) -> str:
    return f"{NAMESPACES}/{ns}/pods"


def dangerous_specs() -> dict[str, dict[str, Any]]:
    """The audit's dangerous specs, one pod each."""
    out: dict[str, dict[str, Any]] = {}
    for name, container_sc, pod_sc, spec in (
        ("cap-sys-admin", {"capabilities": {"add": ["SYS_ADMIN"]}}, None, {}),
        ("seccomp-unconfined", {"seccompProfile": {"type": "Unconfined"}}, None, {}),
        ("sysctl-kernel", None, {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]}, {}),
        ("privileged", {"privileged": True}, None, {}),
        ("host-network", None, None, {"hostNetwork": True}),
        ("host-path", None, None, {"volumes": [{"name": "s", "hostPath": {"path": "/run"}}]}),
    ):
        pod = pod_manifest(name)
        if container_sc:
            pod["spec"]["containers"][0]["securityContext"] = container_sc
        if pod_sc:
            pod["spec"]["securityContext"] = pod_sc
        pod["spec"].update(spec)
        out[name] = pod
    return out


def test_default_namespace_refuses_every_dangerous_spec(make: Make) -> None:
    api = make(allow_privileged=True)
    refused = {}
    for name, pod in dangerous_specs().items():
        code, status, _ = write(api, "POST", pods("default"), pod)
        refused[name] = (code, status["message"])
    assert {name: code for name, (code, _) in refused.items()} == dict.fromkeys(refused, 403)
    prefix = 'is forbidden: violates PodSecurity "baseline:latest": '
    assert refused["cap-sys-admin"][1] == (
        f'pods "cap-sys-admin" {prefix}non-default capabilities (container "web" must not '
        'include "SYS_ADMIN" in securityContext.capabilities.add)'
    )
    assert refused["seccomp-unconfined"][1].endswith(
        'seccompProfile (container "web" must not set securityContext.seccompProfile.type to '
        '"Unconfined")'
    )
    assert refused["sysctl-kernel"][1].endswith("forbidden sysctls (kernel.msgmax)")
    assert refused["host-network"][1].endswith("host namespaces (hostNetwork=true)")
    assert write(api, "GET", pods("default"), None)[1]["items"] == []


def test_proc_mount_unmasked_is_invalid_without_user_namespaces(api: Api) -> None:
    pod = pod_manifest("unmasked")
    pod["spec"]["containers"][0]["securityContext"] = {"procMount": "Unmasked"}
    code, status = api.call("POST", pods("default"), pod)
    assert code == 422
    assert status["message"] == (
        'Pod "unmasked" is invalid: spec.containers[0].securityContext.procMount: Invalid '
        'value: "Unmasked": `hostUsers` must be false to use `Unmasked`'
    )


def test_namespace_levels(make: Make) -> None:
    api = make()
    namespace(api, "open", **{ENFORCE: "privileged"})
    namespace(api, "strict", **{ENFORCE: "restricted"})
    host_port = pod_manifest("hp")
    host_port["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    assert write(api, "POST", pods("open"), host_port)[0] == 201
    code, status, _ = write(api, "POST", pods("default"), host_port)
    assert code == 403
    assert status["message"].endswith('hostPort (container "web" uses hostPort 8080)')
    assert status["details"] == {"name": "hp", "kind": "pods"}
    code, status, _ = write(api, "POST", pods("strict"), pod_manifest("plain"))
    assert code == 403
    assert status["message"] == (
        'pods "plain" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "web" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
        '"web" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "web" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
        'container "web" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost")'
    )
    hardened = pod_manifest("hardened")
    hardened["spec"]["securityContext"] = {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    hardened["spec"]["containers"][0]["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert write(api, "POST", pods("strict"), hardened)[0] == 201


def test_warn_header_and_audit_log(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    api = make()
    labels = {
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.30",
    }
    namespace(api, "watched", **labels)
    with caplog.at_level(logging.WARNING, logger="control.registry.podsecurity"):
        code, _, warnings = write(api, "POST", pods("watched"), pod_manifest("web"))
    assert code == 201
    assert any(
        w.startswith(
            '299 - "would violate PodSecurity \\"restricted:latest\\": '
            "allowPrivilegeEscalation != false"
        )
        for w in warnings
    ), warnings
    (record,) = [r for r in caplog.records if r.name == "control.registry.podsecurity"]
    assert record.getMessage().startswith(
        "pods watched/web: pod-security.kubernetes.io/audit-violations: would violate "
        'PodSecurity "restricted:v1.30": allowPrivilegeEscalation != false'
    )
    # A refused pod is audited too.
    namespace(
        api, "refusing", **{ENFORCE: "baseline", "pod-security.kubernetes.io/audit": "baseline"}
    )
    host_port = pod_manifest("hp")
    host_port["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="control.registry.podsecurity"):
        assert write(api, "POST", pods("refusing"), host_port)[0] == 403
    assert [r.getMessage() for r in caplog.records] == [
        "pods refusing/hp: pod-security.kubernetes.io/audit-violations: would violate "
        'PodSecurity "baseline:latest": hostPort (container "web" uses hostPort 8080)'
    ]


def test_cluster_defaults_flag(make: Make) -> None:
    host_port = pod_manifest("hp")
    host_port["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    open_cluster = make(pod_security=parse_defaults("enforce=privileged"))
    assert write(open_cluster, "POST", pods("default"), host_port)[0] == 201
    strict_cluster = make(pod_security=parse_defaults("enforce=restricted,enforce-version=v1.22"))
    code, status, _ = write(strict_cluster, "POST", pods("default"), pod_manifest("other"))
    assert code == 403
    assert '"restricted:v1.22"' in status["message"]
    # v1.22 predates the runAsUser check, so runAsUser: 0 is not named.
    assert "runAsUser" not in status["message"]


def test_allow_privileged_and_the_namespace_level_are_both_needed(make: Make) -> None:
    privileged = dangerous_specs()["privileged"]
    closed = make()
    namespace(closed, "system", **{ENFORCE: "privileged"})
    code, status, _ = write(closed, "POST", pods("system"), privileged)
    assert code == 422
    assert status["message"] == (
        f'Pod "privileged" is invalid: spec.containers[0].securityContext.privileged: {DISALLOWED}'
    )
    assert (
        status["details"]["causes"][0]["field"] == "spec.containers[0].securityContext.privileged"
    )
    for name in ("host-network", "host-path"):
        code, status, _ = write(closed, "POST", pods("system"), dangerous_specs()[name])
        assert code == 422 and status["message"].endswith(DISALLOWED), status
    allowing = make(allow_privileged=True)
    code, status, _ = write(allowing, "POST", pods("default"), privileged)
    assert code == 403 and "violates PodSecurity" in status["message"]
    for pod in dangerous_specs().values():
        code, status, _ = write(allowing, "POST", pods("system"), pod)
        assert code == 201, status


def test_pod_templates_warn_but_are_admitted(make: Make) -> None:
    api = make()
    namespace(api, "strict", **{ENFORCE: "restricted"})
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]},
            },
        },
    }
    code, _, warnings = write(
        api, "POST", "/apis/apps/v1/namespaces/strict/deployments", deployment
    )
    assert code == 201
    assert any('would violate PodSecurity \\"restricted:latest\\"' in w for w in warnings)
    deployment["spec"]["template"]["spec"]["hostNetwork"] = True
    deployment["metadata"]["name"] = "hostnet"
    code, status, _ = write(api, "POST", "/apis/apps/v1/namespaces/strict/deployments", deployment)
    assert code == 422
    assert status["message"] == (
        'Deployment.apps "hostnet" is invalid: spec.template.spec.hostNetwork: ' + DISALLOWED
    )


def test_namespace_labels_are_validated(api: Api) -> None:
    code, status, _ = write(
        api, "POST", NAMESPACES,
        {"metadata": {"name": "bad", "labels": {ENFORCE: "strict", f"{ENFORCE}-version": "1.30"}}},
    )  # fmt: skip
    assert code == 422
    assert status["message"] == (
        'Namespace "bad" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted, '
        "metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "
        '"1.30": must be "latest" or "v1.x"]'
    )
    code, status, _ = write(
        api, "PATCH", f"{NAMESPACES}/default", {"metadata": {"labels": {ENFORCE: "none"}}}
    )
    assert code == 422 and status["reason"] == "Invalid"
    # Only the label every namespace carries: the refused patch changed nothing.
    labels = write(api, "GET", f"{NAMESPACES}/default", None)[1]["metadata"]["labels"]
    assert labels == {"kubernetes.io/metadata.name": "default"}


def test_tightening_a_namespace_warns_about_its_pods(make: Make) -> None:
    api = make()
    namespace(api, "legacy", **{ENFORCE: "privileged"})
    for name in ("a", "b"):
        pod = pod_manifest(name)
        pod["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 9000}]
        assert write(api, "POST", pods("legacy"), pod)[0] == 201
    code, _, warnings = write(
        api, "PATCH", f"{NAMESPACES}/legacy", {"metadata": {"labels": {ENFORCE: "baseline"}}}
    )
    assert code == 200
    assert warnings == [
        '299 - "existing pods in namespace \\"legacy\\" violate the new PodSecurity enforce '
        'level \\"baseline:latest\\""',
        '299 - "a (and 1 other pod): hostPort"',
    ]
    # The existing pods stay, and updates that change no image are not evaluated again.
    code, _, _ = write(api, "PATCH", f"{pods('legacy')}/a", {"metadata": {"labels": {"x": "y"}}})
    assert code == 200
    pod = write(api, "GET", f"{pods('legacy')}/b", None)[1]
    pod["spec"]["containers"][0]["image"] = "tinykube/web:2"
    code, status, _ = write(api, "PUT", f"{pods('legacy')}/b", pod)
    assert code == 403 and "hostPort" in status["message"]


@pytest.mark.parametrize(
    ("sc", "message"),
    [
        (
            {"runAsUser": -1},
            "spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 "
            "and 2147483647, inclusive",
        ),
        (
            {"seccompProfile": {"type": "Bogus"}},
            'spec.containers[0].securityContext.seccompProfile.type: Unsupported value: "Bogus": '
            'supported values: "Localhost", "RuntimeDefault", "Unconfined"',
        ),
        (
            {"allowPrivilegeEscalation": False, "capabilities": {"add": ["CAP_SYS_ADMIN"]}},
            "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
        ),
    ],
)
def test_security_context_validation(api: Api, sc: dict[str, Any], message: str) -> None:
    pod = pod_manifest("sc")
    pod["spec"]["containers"][0]["securityContext"] = sc
    code, status = api.call("POST", pods("default"), pod)
    assert code == 422, status
    assert message in status["message"]
    assert api.call("GET", pods("default"))[1]["items"] == []


def test_sysctl_names_and_types(api: Api) -> None:
    pod = pod_manifest("sysctl")
    pod["spec"]["securityContext"] = {"sysctls": [{"name": "Kernel/Bad", "value": "1"}]}
    code, status = api.call("POST", pods("default"), pod)
    assert code == 422
    assert status["details"]["causes"][0]["field"] == "spec.securityContext.sysctls[0].name"
    pod["spec"]["securityContext"] = {"sysctls": [{"name": "kernel.shm_rmid_forced", "value": 1}]}
    code, status = api.call("POST", pods("default"), pod)
    assert code == 400
    assert (
        "Go struct field Sysctl.spec.securityContext.sysctls.value of type string"
        in (status["message"])
    )
