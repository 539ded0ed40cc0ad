"""The eviction subresource honouring PodDisruptionBudgets over the real Flask app and Redis
(kube-apiserver's EvictionREST): the budget's check and decrement in one compare-and-set, its
refusals, dry run, the pods that go without it, and ``tkctl drain`` waiting on a budget."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from click.testing import CliRunner

from common import errors
from control.cli.main import cli
from control.cli.session import Session
from control.registry import eviction
from control.registry.registry import Registry
from tests.integration.appsfake import NODES, ready_node
from tests.integration.budgetfake import (
    DEPLOYS,
    PDB_PATH,
    PDBS,
    POD_PATH,
    PODS,
    VIOLATION,
    BudgetCluster,
    Obj,
    budget,
    evict,
    running,
    status,
)
from tests.integration.conftest import ADMIN_TOKEN, Api, serve
from tests.integration.test_workloads import deployment


@pytest.fixture
def cluster(app: Any) -> BudgetCluster:
    return BudgetCluster(app.extensions["tinykube"]["registry"])


def concurrent_evictions(app: Any, pods: list[str]) -> list[int]:
    start, codes = threading.Barrier(len(pods)), []

    def one(pod: str) -> None:
        client = Api(app.test_client(), "admin-token")
        start.wait()
        codes.append(evict(client, pod)[0])

    threads = [threading.Thread(target=one, args=(p,)) for p in pods]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(codes)


def test_an_eviction_takes_a_disruption_then_the_budget_refuses(
    cluster: BudgetCluster, api: Api
) -> None:
    pods = running(cluster, 3, budget(maxUnavailable=1))
    assert status(cluster)["disruptionsAllowed"] == 1
    code, body = evict(api, pods[0])
    assert (code, body["status"]) == (201, "Success")
    gone = cluster.get(PODS, pods[0])
    assert gone is not None and gone["metadata"].get("deletionTimestamp")
    target = [c for c in gone["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert [(c["status"], c["reason"], c["message"]) for c in target] == [
        ("True", "EvictionByEvictionAPI", "Eviction API: evicting")]  # fmt: skip
    s = status(cluster)
    assert s["disruptionsAllowed"] == 0 and list(s["disruptedPods"]) == [pods[0]]
    assert s["conditions"][0]["reason"] == "InsufficientPods"
    # The budget is spent: the next eviction is refused with kube-apiserver's 429.
    code, body = evict(api, pods[1])
    assert (code, body["reason"], body["message"]) == (429, "TooManyRequests", VIOLATION)
    assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
    assert body["details"]["causes"][0]["message"] == (
        "The disruption budget web needs 2 healthy pods and has 3 currently"
    )
    still = cluster.get(PODS, pods[1])
    assert still is not None and not still["metadata"].get("deletionTimestamp")


def test_two_concurrent_evictions_against_one_allowed_disruption(
    cluster: BudgetCluster, app: Any
) -> None:
    pods = running(cluster, 3, budget(minAvailable=2))
    assert status(cluster)["disruptionsAllowed"] == 1
    assert concurrent_evictions(app, pods[:2]) == [201, 429]
    assert len(status(cluster)["disruptedPods"]) == 1


def test_five_concurrent_evictions_against_two_allowed_disruptions(
    cluster: BudgetCluster, app: Any
) -> None:
    pods = running(cluster, 5, budget(maxUnavailable=2))
    assert status(cluster)["disruptionsAllowed"] == 2
    assert concurrent_evictions(app, pods) == [201, 201, 429, 429, 429]
    s = status(cluster)
    assert (s["disruptionsAllowed"], len(s["disruptedPods"])) == (0, 2)
    deleting = [p for p in cluster.items(PODS) if p["metadata"].get("deletionTimestamp")]
    assert sorted(p["metadata"]["name"] for p in deleting) == sorted(s["disruptedPods"])


def test_a_stale_budget_is_read_again_after_a_conflict(cluster: BudgetCluster, api: Api) -> None:
    pods = running(cluster, 3, budget(minAvailable=2))
    stale = cluster.get(PDBS, "web")
    assert evict(api, pods[0])[0] == 201
    # Checked against the budget as read before that eviction: the write conflicts, the
    # budget is read again and now allows nothing.
    with pytest.raises(errors.TooManyRequestsError):
        eviction._take_disruption(cluster.registry, stale, pods[1], False)  # type: ignore[arg-type]


def test_two_budgets_covering_a_pod_are_a_500(cluster: BudgetCluster, api: Api) -> None:
    pods = running(cluster, 2, budget("a", maxUnavailable=1), budget("b", maxUnavailable=1))
    code, body = evict(api, pods[0])
    assert (code, body) == (500, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "This pod has more than one PodDisruptionBudget, which the eviction "
                   "subresource does not support.",
        "code": 500})  # fmt: skip
    pod = cluster.get(PODS, pods[0])
    assert pod is not None and not pod["metadata"].get("deletionTimestamp")


def test_a_budget_not_yet_observed_asks_to_come_back(cluster: BudgetCluster, api: Api) -> None:
    pods = running(cluster, 2)
    cluster.registry.create(PDBS, "default", budget(maxUnavailable=1))
    resp = api.client.open(f"{POD_PATH}/{pods[0]}/eviction", method="POST", headers=api.headers,
                           json={"apiVersion": "policy/v1", "kind": "Eviction",
                                 "metadata": {"name": pods[0]}})  # fmt: skip
    body = resp.get_json()
    assert (resp.status_code, body["message"], resp.headers["Retry-After"]) == (429, VIOLATION,
                                                                                "10")  # fmt: skip
    assert body["details"]["causes"][0]["message"] == (
        "The disruption budget web is still being processed by the server."
    )


def test_a_dry_run_eviction_stores_nothing(cluster: BudgetCluster, api: Api) -> None:
    pods = running(cluster, 2, budget(maxUnavailable=1))
    before = cluster.get(PDBS, "web")
    assert evict(api, pods[0], dryRun=["All"])[0] == 201
    code, _ = api.call("POST", f"{POD_PATH}/{pods[0]}/eviction",
                       {"apiVersion": "policy/v1", "kind": "Eviction",
                        "metadata": {"name": pods[0]}}, dryRun="All")  # fmt: skip
    assert code == 201
    assert cluster.get(PDBS, "web") == before
    pod = cluster.get(PODS, pods[0])
    assert pod is not None and not pod["metadata"].get("deletionTimestamp")
    assert all(c["type"] != "DisruptionTarget" for c in pod["status"]["conditions"])


def test_pods_not_running_go_without_the_budget(cluster: BudgetCluster, api: Api) -> None:
    cluster.kubelet.ready_filter = lambda pod: False
    cluster.registry.create(DEPLOYS, "default", deployment(replicas=1))
    cluster.registry.create(PDBS, "default", budget(minAvailable=1))
    cluster.settle(lambda: len(cluster.items(PODS)) == 1)
    (pending,) = [p["metadata"]["name"] for p in cluster.items(PODS)]
    assert evict(api, pending)[0] == 201
    gone = cluster.get(PODS, pending)
    assert gone is None or gone["metadata"].get("deletionTimestamp")
    assert "disruptedPods" not in status(cluster)


def test_unready_pods_and_the_unhealthy_pod_eviction_policy(
    cluster: BudgetCluster, api: Api
) -> None:
    pods = running(cluster, 2, budget(minAvailable=2))
    unready = cluster.get(PODS, pods[0])
    assert unready is not None
    unready["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    cluster.registry.replace(PODS, "default", pods[0], unready, sub="status")
    cluster.settle(lambda: status(cluster)["currentHealthy"] == 1)
    # IfHealthyBudget (the default): the budget is not met, the unready pod stays.
    assert evict(api, pods[0])[0] == 429
    cluster.registry.patch(PDBS, "default", "web",
                           {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}},
                           "application/merge-patch+json")  # fmt: skip
    assert evict(api, pods[0])[0] == 201
    assert status(cluster)["disruptionsAllowed"] == 0  # nothing taken from the budget


def test_budget_refusals(cluster: BudgetCluster, api: Api, monkeypatch: Any) -> None:
    code, body = api.call("POST", PDB_PATH, budget(minAvailable=1, maxUnavailable="10%"))
    assert code == 422 and body["message"].startswith('PodDisruptionBudget.policy "web" is invalid')
    assert body["message"].endswith("minAvailable and maxUnavailable cannot be both set")
    assert cluster.get(PDBS, "web") is None
    pods = running(cluster, 2, budget(maxUnavailable=1))
    pdb = cluster.get(PDBS, "web")
    assert pdb is not None
    # Bad delete options are refused before the budget is touched.
    code, body = evict(api, pods[0], propagationPolicy="Sometimes")
    assert (code, body["reason"]) == (422, "Invalid")
    assert cluster.get(PDBS, "web") == pdb
    pdb["status"]["disruptionsAllowed"] = -1
    code, body = api.call("PUT", f"{PDB_PATH}/web/status", pdb)
    assert (code, body["details"]["causes"][0]["field"]) == (422, "status.disruptionsAllowed")
    # Too many approved evictions the controller has not confirmed: 403.
    monkeypatch.setattr(eviction, "MAX_DISRUPTED_PODS", -1)
    code, body = evict(api, pods[0])
    assert code == 403
    assert body["message"] == (
        'poddisruptionbudget.policy "web" is forbidden: DisruptedPods map too big - too many '
        "evictions not confirmed by PDB controller"
    )
    # A budget that never stops conflicting: the last conflict once the attempts are spent.
    monkeypatch.setattr(eviction, "MAX_DISRUPTED_PODS", 2000)
    attempts = []

    def conflict(*args: Any) -> None:
        attempts.append(args)
        raise errors.ConflictError("modified")

    monkeypatch.setattr(eviction, "_check_and_decrement", conflict)
    code, body = evict(api, pods[0])
    assert (code, body["message"], len(attempts)) == (409, "modified", eviction.ATTEMPTS)


def test_drain_waits_for_the_budget_then_completes(cluster: BudgetCluster, app: Any) -> None:
    pods = running(cluster, 2, budget(minAvailable=1))
    cluster.registry.create(NODES, "", ready_node("node-2"))
    rounds = []

    def replacements_ready(pod: Obj) -> bool:
        return len(rounds) > 3  # the replacement takes a few passes to become Ready

    cluster.kubelet.ready_filter = replacements_ready

    def sleep(seconds: float) -> None:  # drain's waits are where the cluster moves on
        rounds.append(seconds)
        cluster.round()

    with serve(app) as server:
        session = Session(server=server, token=ADMIN_TOKEN, env={}, home="/nonexistent",
                          sleep=sleep)  # fmt: skip
        r = CliRunner().invoke(cli, ["drain", "node-1", "--timeout=60s"], obj=session)
    assert r.exit_code == 0, r.output
    retry = (f'error when evicting pods/"{pods[1]}" -n "default" (will retry after 5s): '
             f"{VIOLATION}")  # fmt: skip
    assert retry in r.stderr.splitlines()
    assert 5 in rounds
    out = r.stdout.splitlines()
    assert out[0] == "node/node-1 cordoned" and out[-1] == "node/node-1 drained"
    assert {f"pod/{p} evicted" for p in pods} <= set(out)
    on_node_2 = [p for p in cluster.items(PODS) if p["spec"].get("nodeName") == "node-2"]
    assert len(on_node_2) == 2


def test_an_unready_pod_goes_while_the_budget_is_met_unless_it_changes(
    cluster: BudgetCluster, api: Api, monkeypatch: Any
) -> None:
    pods = running(cluster, 3, budget(minAvailable=1))
    for name in pods[:2]:
        pod = cluster.get(PODS, name)
        assert pod is not None
        pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
        cluster.registry.replace(PODS, "default", name, pod, sub="status")
    cluster.settle(lambda: status(cluster)["currentHealthy"] == 1)
    # IfHealthyBudget: 1 healthy >= 1 desired, so an unready pod goes, taking no disruption.
    assert evict(api, pods[0])[0] == 201
    assert "disruptedPods" not in status(cluster)
    # The pod is deleted only as it was read: one that changed meanwhile (it may have become
    # ready) is a 429 to try again.
    delete = eviction._delete

    def changed_meanwhile(reg: Registry, pod: Obj, options: Obj) -> None:
        cluster.registry.patch(PODS, "default", pod["metadata"]["name"],
                               {"metadata": {"labels": {"touched": "yes"}}},
                               "application/merge-patch+json")  # fmt: skip
        delete(reg, pod, options)

    monkeypatch.setattr(eviction, "_delete", changed_meanwhile)
    code, body = evict(api, pods[1])
    assert (code, body["message"]) == (429, VIOLATION)
    pod = cluster.get(PODS, pods[1])
    assert pod is not None and not pod["metadata"].get("deletionTimestamp")


def test_a_status_write_meanwhile_does_not_fail_an_approved_eviction(
    cluster: BudgetCluster, api: Api, monkeypatch: Any
) -> None:
    pods = running(cluster, 2, budget(maxUnavailable=1))
    reg = cluster.registry
    replace, raced = reg.replace, []

    def agent_writes_first(rt: Any, namespace: str, name: str, body: Any, **kw: Any) -> Obj:
        if rt.plural == "pods" and kw.get("sub") == "status" and not raced:
            raced.append(name)  # the agent's status write lands between read and write
            current = reg.get(PODS, namespace, name)
            current["status"]["podIP"] = "10.0.0.2"
            replace(PODS, namespace, name, current, sub="status")
        return replace(rt, namespace, name, body, **kw)

    monkeypatch.setattr(reg, "replace", agent_writes_first)
    assert evict(api, pods[0])[0] == 201
    assert raced == [pods[0]]
    gone = cluster.get(PODS, pods[0])
    assert gone is not None and gone["metadata"].get("deletionTimestamp")
    assert gone["status"]["podIP"] == "10.0.0.2"
    assert any(c["type"] == "DisruptionTarget" for c in gone["status"]["conditions"])
