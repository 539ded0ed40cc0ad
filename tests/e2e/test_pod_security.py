"""Pod Security on a cluster started by ``tinykube up``: the ``default`` namespace is ``baseline``,
a namespace labelled ``privileged`` admits what baseline refuses, and without --allow-privileged
the cluster still refuses privileged containers there."""

from __future__ import annotations

from tests.e2e.conftest import Cluster, wait_for

NAMESPACE = "psa-e2e"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: app
    image: tinykube/sleeper:1
    securityContext: {security_context}
"""
ADDS_SYS_ADMIN = POD.format(name="sys-admin", security_context="{capabilities: {add: [SYS_ADMIN]}}")
PRIVILEGED = POD.format(name="privileged", security_context="{privileged: true}")


def test_default_is_baseline_and_a_namespace_opts_into_privileged(cluster: Cluster) -> None:
    out = cluster.tkctl("apply", "-f", "-", stdin=ADDS_SYS_ADMIN, check=False)
    assert out.returncode == 1
    assert (
        'pods "sys-admin" is forbidden: violates PodSecurity "baseline:latest": non-default '
        'capabilities (container "app" must not include "SYS_ADMIN" in '
        "securityContext.capabilities.add)"
    ) in out.stderr
    out = cluster.tkctl("apply", "-f", "-", stdin=PRIVILEGED, check=False)
    assert out.returncode == 1
    assert "securityContext.privileged: Forbidden: disallowed by cluster policy" in out.stderr

    cluster.tkctl("create", "namespace", NAMESPACE)
    out = cluster.tkctl(
        "label", "ns", NAMESPACE,
        "pod-security.kubernetes.io/enforce=privileged", "pod-security.kubernetes.io/warn=baseline",
    )  # fmt: skip
    assert out.stdout == f"namespace/{NAMESPACE} labeled\n"
    ns = ("-n", NAMESPACE)
    out = cluster.tkctl("apply", *ns, "-f", "-", stdin=ADDS_SYS_ADMIN)
    assert out.stdout == "pod/sys-admin created\n"
    assert out.stderr == (
        'Warning: would violate PodSecurity "baseline:latest": non-default capabilities '
        '(container "app" must not include "SYS_ADMIN" in securityContext.capabilities.add)\n'
    )
    wait_for(
        "sys-admin Running",
        lambda: cluster.json("get", "pod", "sys-admin", *ns)["status"].get("phase") == "Running",
    )
    # The namespace allows it, the cluster (started without --allow-privileged) does not.
    out = cluster.tkctl("apply", *ns, "-f", "-", stdin=PRIVILEGED, check=False)
    assert out.returncode == 1
    assert "disallowed by cluster policy" in out.stderr
    assert cluster.tkctl("get", "pods", *ns, "-o", "name").stdout == "pod/sys-admin\n"
    cluster.tkctl("delete", "namespace", NAMESPACE, timeout=180)
