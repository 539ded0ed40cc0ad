"""tkctl cordon, uncordon, drain and describe node against the FAKE API client: kubectl's
messages, exit codes and requests; the drain filters table-driven over plain pods."""

from __future__ import annotations

import time
from typing import Any

import pytest

from common import errors
from control.cli.drainplan import DrainOptions, plan_drain
from tests.unit.cli_fake import NOW, FakeApi, tk, ts


@pytest.fixture
def api() -> FakeApi:
    api = FakeApi()
    for name in ("node-1", "node-2"):
        ready = {"conditions": [{"type": "Ready", "status": "True"}]}
        api.add("nodes", {"metadata": {"name": name, "labels": {"pool": "a"}}, "spec": {},
                          "status": ready})  # fmt: skip
    return api


def pod(name: str, node: str = "node-1", owner: str | None = "ReplicaSet", **extra: Any) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}"}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "o", "uid": "o1", "controller": True}]
    meta.update(extra.pop("meta", {}))
    return {"metadata": meta, "spec": {"nodeName": node, "containers": [{"name": "c"}], **extra},
            "status": {"phase": extra.pop("phase", "Running")}}  # fmt: skip


def test_cordon_and_uncordon_patch_only_when_needed(api: FakeApi) -> None:
    r = tk(api, "cordon", "node-1")
    assert (r.exit_code, r.stdout) == (0, "node/node-1 cordoned\n")
    assert ("patch", "nodes", "node-1", {"spec": {"unschedulable": True}},
            "application/strategic-merge-patch+json") in api.calls  # fmt: skip
    r = tk(api, "cordon", "node-1")
    assert r.stdout == "node/node-1 already cordoned\n"
    assert tk(api, "get", "nodes").stdout.splitlines()[1].split()[1] == "Ready,SchedulingDisabled"
    r = tk(api, "uncordon", "node-1")
    assert r.stdout == "node/node-1 uncordoned\n"
    assert "unschedulable" not in api.objects[("nodes", None, "node-1")]["spec"]
    assert tk(api, "uncordon", "node-1").stdout == "node/node-1 already uncordoned\n"
    r = tk(api, "cordon", "-l", "pool=a", "--dry-run=client")
    assert r.stdout == "node/node-1 cordoned (dry run)\nnode/node-2 cordoned (dry run)\n"


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (("cordon",), "error: USAGE: cordon NODE [flags]\nSee 'tkctl cordon -h' for help and "
                      "examples.\n"),
        (("cordon", "nope"), 'Error from server (NotFound): nodes "nope" not found\n'),
        (("drain", "node-1", "-l", "a=b"),
         "error: cannot specify both a node name and a --selector option\n"),
        (("drain", "node-1", "--timeout", "5x"), None),
    ],
)  # fmt: skip
def test_usage_and_server_errors_exit_1(api: FakeApi, args: tuple[str, ...], stderr: str) -> None:
    r = tk(api, *args)
    assert r.exit_code == 1
    if stderr is not None:
        assert r.stderr == stderr
    assert not [c for c in api.calls if c[0] in ("patch", "delete")]


def test_drain_deletes_controlled_pods_waits_and_reports(api: FakeApi) -> None:
    api.add("pods", pod("web-1"))
    api.add("pods", pod("web-2"))
    api.add("pods", pod("elsewhere", node="node-2"))
    api.linger["web-2"] = 2  # still there on the first two reads after the DELETE
    r = tk(api, "drain", "node-1", "--grace-period=5")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "node/node-1 cordoned", "evicting pod default/web-1", "evicting pod default/web-2",
        "pod/web-1 evicted", "pod/web-2 evicted", "node/node-1 drained",
    ]  # fmt: skip
    evictions = [c for c in api.calls if c[0] == "evict"]
    assert [(c[2], c[4]) for c in evictions] == [("web-1", 5), ("web-2", 5)]
    assert ("pods", "default", "elsewhere") in api.objects


def test_drain_evicts_again_every_5s_while_a_budget_refuses(api: FakeApi) -> None:
    api.add("pods", pod("web-1"))
    api.add("pods", pod("web-2"))
    api.budget_refusals["web-2"] = 2
    slept: list[float] = []
    r = tk(api, "drain", "node-1", sleep=slept.append)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "node/node-1 cordoned", "evicting pod default/web-1", "evicting pod default/web-2",
        "evicting pod default/web-2", "evicting pod default/web-2", "pod/web-1 evicted",
        "pod/web-2 evicted", "node/node-1 drained",
    ]  # fmt: skip
    retry = ('error when evicting pods/"web-2" -n "default" (will retry after 5s): Cannot evict '
             "pod as it would violate the pod's disruption budget.")  # fmt: skip
    assert r.stderr.splitlines() == [retry, retry]
    assert slept == [5, 5]


def test_drain_gives_up_on_a_refused_eviction_at_the_timeout(api: FakeApi) -> None:
    api.add("pods", pod("web"))
    api.budget_refusals["web"] = 10_000
    r = tk(api, "drain", "node-1", "--timeout=0.01s", sleep=lambda s: time.sleep(0.02))
    assert r.exit_code == 1
    timeout = 'error when evicting pods/"web" -n "default": global timeout reached: 0.01s'
    assert r.stderr.splitlines()[-1] == timeout
    assert ("pods", "default", "web") in api.objects


def test_drain_disable_eviction_deletes(api: FakeApi) -> None:
    api.add("pods", pod("web"))
    api.budget_refusals["web"] = 1
    r = tk(api, "drain", "node-1", "--disable-eviction", "--grace-period=3")
    assert r.exit_code == 0, r.output
    assert [(c[0], c[2], c[4]) for c in api.calls if c[0] in ("evict", "delete")] == [
        ("delete", "web", 3)
    ]


def test_drain_stops_on_another_eviction_error(api: FakeApi) -> None:
    api.add("pods", pod("web"))

    def refuse(*args: Any, **kw: Any) -> Any:
        raise errors.InternalError(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support."
        )

    api.request_json = refuse  # type: ignore[method-assign]
    r = tk(api, "drain", "node-1")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-1] == (
        'error when evicting pods/"web" -n "default": This pod has more than one '
        "PodDisruptionBudget, which the eviction subresource does not support."
    )


def test_drain_refuses_unmanaged_pods_without_force(api: FakeApi) -> None:
    api.add("pods", pod("bare", owner=None))
    api.add("pods", pod("web"))
    r = tk(api, "drain", "node-1", "--ignore-daemonsets")
    assert r.exit_code == 1
    assert r.stdout == "node/node-1 cordoned\n"
    assert r.stderr.splitlines() == [
        'error: unable to drain node "node-1" due to error: cannot delete cannot delete Pods '
        "that declare no controller (use --force to override): default/bare, continuing "
        "command...",
        "There are pending nodes to be drained:",
        " node-1",
        "cannot delete cannot delete Pods that declare no controller (use --force to override): "
        "default/bare",
    ]
    assert not [c for c in api.calls if c[0] == "delete"]
    r = tk(api, "drain", "node-1", "--force")
    assert r.exit_code == 0, r.output
    assert r.stderr == "Warning: deleting Pods that declare no controller: default/bare\n"
    assert r.stdout.splitlines()[0] == "node/node-1 already cordoned"
    assert r.stdout.splitlines()[-1] == "node/node-1 drained"


def test_drain_times_out_with_kubectls_report(api: FakeApi) -> None:
    api.add("pods", pod("slow"))
    api.linger["slow"] = 10_000
    r = tk(api, "drain", "node-1", "--timeout=0.01s")
    assert r.exit_code == 1
    err = r.stderr.splitlines()
    timeout = 'error when waiting for pod "slow" terminating: global timeout reached: 0.01s'
    assert err[0] == f'There are pending pods in node "node-1" when an error occurred: {timeout}'
    assert err[1] == "pod/slow"
    assert err[2] == f'error: unable to drain node "node-1" due to error: {timeout}, continuing ' \
                     "command..."  # fmt: skip
    assert err[-1] == timeout


def test_drain_dry_run_changes_nothing(api: FakeApi) -> None:
    api.add("pods", pod("web"))
    r = tk(api, "drain", "node-1", "--dry-run=client")
    assert r.stdout.splitlines() == ["node/node-1 cordoned (dry run)",
                                     "evicting pod default/web (dry run)",
                                     "node/node-1 drained (dry run)"]  # fmt: skip
    assert not [c for c in api.calls if c[0] in ("patch", "delete")]


@pytest.mark.parametrize(
    ("p", "options", "deleted", "warning", "error"),
    [
        (pod("rs"), DrainOptions(), True, "", ""),
        (pod("bare", owner=None), DrainOptions(), False, "",
         "cannot delete cannot delete Pods that declare no controller (use --force to override)"),
        (pod("bare", owner=None), DrainOptions(force=True), True,
         "deleting Pods that declare no controller", ""),
        (pod("done", owner=None, phase="Succeeded"), DrainOptions(), True, "", ""),
        (pod("ds", owner="DaemonSet"), DrainOptions(), False, "",
         "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"),
        (pod("ds", owner="DaemonSet"), DrainOptions(ignore_daemonsets=True), False,
         "ignoring DaemonSet-managed Pods", ""),
        (pod("ds", owner="DaemonSet", phase="Failed"), DrainOptions(), True, "", ""),
        (pod("ds", owner="DaemonSet"), DrainOptions(daemonsets=frozenset({"default/o"})),
         False, "", "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"),
        (pod("ds", owner="DaemonSet"), DrainOptions(ignore_daemonsets=True,
                                                    daemonsets=frozenset()), False, "",
         'cannot delete daemonsets.apps "o" not found'),
        # With --force the orphan goes; as in kubectl, a later filter's verdict drops the warning.
        (pod("ds", owner="DaemonSet"), DrainOptions(force=True, daemonsets=frozenset()), True,
         "", ""),
        (pod("mirror", owner=None, meta={"annotations": {"kubernetes.io/config.mirror": "x"}}),
         DrainOptions(), False, "", ""),
        (pod("cache", volumes=[{"name": "v", "emptyDir": {}}]), DrainOptions(), False, "",
         "cannot delete Pods with local storage (use --delete-emptydir-data to override)"),
        # kubectl's own TODO: a later filter's verdict drops the local-storage warning.
        (pod("cache", volumes=[{"name": "v", "emptyDir": {}}]),
         DrainOptions(delete_emptydir_data=True), True, "", ""),
        (pod("cache", owner=None, volumes=[{"name": "v", "emptyDir": {}}]),
         DrainOptions(delete_emptydir_data=True, force=True), True,
         "deleting Pods that declare no controller", ""),
        (pod("old", meta={"deletionTimestamp": ts(100)}),
         DrainOptions(skip_wait_for_delete_timeout=30), False, "", ""),
        (pod("new", meta={"deletionTimestamp": ts(10)}),
         DrainOptions(skip_wait_for_delete_timeout=30), True, "", ""),
    ],
)  # fmt: skip
def test_drain_filters(
    p: dict[str, Any], options: DrainOptions, deleted: bool, warning: str, error: str
) -> None:
    plan = plan_drain([p], options, NOW)
    ref = f"default/{p['metadata']['name']}"
    assert (bool(plan.pods), plan.warnings, plan.errors) == (
        deleted, f"{warning}: {ref}" if warning else "", [f"{error}: {ref}"] if error else []
    )  # fmt: skip


def test_drain_ignores_pods_of_existing_daemonsets_only(api: FakeApi) -> None:
    api.add("daemonsets", {"metadata": {"name": "o", "namespace": "default"}, "spec": {}})
    api.add("pods", pod("logs-1", owner="DaemonSet"))
    api.add("pods", pod("web-1"))
    r = tk(api, "drain", "node-1", "--ignore-daemonsets")
    assert r.exit_code == 0, r.stderr
    assert "Warning: ignoring DaemonSet-managed Pods: default/logs-1" in r.stderr
    deleted = {c[2] for c in api.calls if c[0] == "delete"}
    assert deleted == {"web-1"}
    del api.objects[("daemonsets", "default", "o")]
    r = tk(api, "drain", "node-1", "--ignore-daemonsets")
    assert r.exit_code == 1
    assert 'cannot delete daemonsets.apps "o" not found: default/logs-1' in r.stderr


def test_describe_node_shows_lease_pods_and_allocated_resources(api: FakeApi) -> None:
    node = api.objects[("nodes", None, "node-1")]
    node["status"]["allocatable"] = {"cpu": "2", "memory": "2Gi", "pods": "110"}
    api.add("leases", {"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
                       "spec": {"holderIdentity": "node-1",
                                "renewTime": "2024-05-01T11:59:58.500000Z"}})  # fmt: skip
    web = pod("web")
    web["metadata"]["creationTimestamp"] = ts(300)
    web["spec"]["containers"] = [
        {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}},
        {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}},
    ]
    api.add("pods", web)
    api.add("pods", pod("finished", phase="Succeeded"))
    lines = tk(api, "describe", "node", "node-1").stdout.splitlines()
    start = lines.index("Lease:")
    assert lines[start : start + 4] == [
        "Lease:", "  HolderIdentity:  node-1", "  AcquireTime:     <unset>",
        "  RenewTime:       Wed, 01 May 2024 11:59:58 +0000",
    ]  # fmt: skip
    start = next(i for i, line in enumerate(lines) if line.startswith("Non-terminated Pods:"))
    assert [line.split() for line in lines[start : start + 12]] == [
        ["Non-terminated", "Pods:", "(1", "in", "total)"],
        ["Namespace", "Name", "CPU", "Requests", "CPU", "Limits", "Memory", "Requests", "Memory",
         "Limits", "Age"],
        ["---------", "----", "------------", "----------", "---------------", "-------------",
         "---"],
        ["default", "web", "1250m", "(62%)", "1", "(50%)", "640Mi", "(31%)", "512Mi", "(25%)",
         "5m"],
        ["Allocated", "resources:"],
        ["(Total", "limits", "may", "be", "over", "100", "percent,", "i.e.,", "overcommitted.)"],
        ["Resource", "Requests", "Limits"],
        ["--------", "--------", "------"],
        ["cpu", "1250m", "(62%)", "1", "(50%)"],
        ["memory", "640Mi", "(31%)", "512Mi", "(25%)"],
        ["ephemeral-storage", "0", "(0%)", "0", "(0%)"],
        ["Events:", "<none>"],
    ]  # fmt: skip


def test_quantities_print_in_their_canonical_form() -> None:
    from control.cli.nodedescribe import format_bytes, format_cpu

    assert [format_cpu(m) for m in (0, 250, 1000, 1500)] == ["0", "250m", "1", "1500m"]
    assert [format_bytes(b) for b in (0, 1000, 1536, 2 << 20, 3 << 30)] == [
        "0", "1000", "1536", "2Mi", "3Gi"]  # fmt: skip
    assert format_bytes(128_000_000, binary=False) == "128M"
