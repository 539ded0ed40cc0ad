"""The Deployment planner and its arithmetic: fenceposts, NewRSNewReplicas, the 3-replica rolling
update of k8s_behavior.md, Recreate, proportional scaling, revisions, conditions, cleanup."""

from __future__ import annotations

from typing import Any

import pytest

from common.wellknown import DESIRED_REPLICAS, MAX_REPLICAS, REVISION, REVISION_HISTORY
from common.workloads import resolve_fenceposts, scaled_value
from control.controllers import deployment_status as ds
from control.controllers import rollout as ro
from control.controllers.deployment_plan import plan_deployment
from tests.unit.workloadsim import World, deployment

Obj = dict[str, Any]


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        # The examples of ResolveFenceposts' comment in deployment_util.go.
        ("0%", "1%", 2, (0, 1)),
        ("0%", "1%", 1, (0, 1)),
        ("1%", "25%", 2, (1, 0)),
        ("1%", "25%", 1, (1, 0)),
        ("1%", "0%", 2, (1, 0)),
        ("25%", "25%", 3, (1, 0)),
        ("25%", "25%", 10, (3, 2)),
        (2, 0, 10, (2, 0)),
        (0, 0, 5, (0, 1)),  # both zero after rounding: one may be unavailable
    ],
)
def test_fenceposts(surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == expected


def test_scaled_values_round_surge_up_and_unavailable_down() -> None:
    assert scaled_value("30%", 10, True) == 3
    assert scaled_value("33%", 10, True) == 4
    assert scaled_value("33%", 10, False) == 3
    assert scaled_value(7, 10, False) == 7
    with pytest.raises(ValueError):
        scaled_value("7", 10, True)


def _rs(name: str, replicas: int, available: int = 0, created: str = "2024-05-01T10:00:00Z") -> Obj:
    return {
        "metadata": {"name": name, "creationTimestamp": created, "annotations": {}},
        "spec": {"replicas": replicas},
        "status": {"availableReplicas": available, "replicas": replicas},
    }


@pytest.mark.parametrize(
    ("replicas", "olds", "new", "expected"),
    [
        (3, [3], 0, 1),  # surge 1: one new pod
        (3, [2], 1, 2),
        (3, [3], 1, 1),  # already at replicas + surge
        (10, [10], 0, 3),  # surge 3
        (10, [8], 3, 5),
        (10, [0], 8, 10),  # never beyond replicas
    ],
)
def test_new_rs_new_replicas(replicas: int, olds: list[int], new: int, expected: int) -> None:
    d = deployment(replicas)
    rss = [_rs(f"old{i}", n) for i, n in enumerate(olds)]
    new_rs = _rs("new", new)
    assert ro.new_rs_new_replicas(d, [*rss, new_rs], new_rs) == expected
    recreate = deployment(replicas, strategy={"type": "Recreate"})
    assert ro.new_rs_new_replicas(recreate, [*rss, new_rs], new_rs) == replicas


def sizes(world: World) -> tuple[int, int]:
    """(new, old) spec.replicas by revision: the highest revision is the new one."""
    ordered = sorted(world.rss.values(), key=ro.revision)
    return (int(ordered[-1]["spec"]["replicas"]),
            sum(int(rs["spec"]["replicas"]) for rs in ordered[:-1]))  # fmt: skip


def test_rolling_update_of_three_replicas_follows_kubernetes_steps() -> None:
    world = World(deployment(3))
    world.settle()
    world.set_template_image("web:2")
    seen = []
    for _ in range(30):
        if world.converged() and len(world.rss) == 2 and sizes(world)[1] == 0:
            break
        world.deployment_step()
        if not seen or seen[-1] != sizes(world):
            seen.append(sizes(world))
        world.replicaset_step()
        world.kubelet_step()
        world.replicaset_step()
        world.tick()
    assert seen == [(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]


def test_recreate_scales_old_to_zero_waits_for_its_pods_then_scales_up() -> None:
    world = World(deployment(3, strategy={"type": "Recreate"}))
    world.settle()
    world.set_template_image("web:2")
    world.deployment_step()
    assert len(world.rss) == 1 and sizes(world) == (0, 0)  # the old one, scaled to 0
    world.replicaset_step()  # pods marked for deletion, still there
    world.deployment_step()
    assert len(world.rss) == 1, "no new ReplicaSet while old pods remain"
    world.kubelet_step()  # the old pods are gone
    world.replicaset_step()
    world.deployment_step()
    assert len(world.rss) == 2 and sizes(world) == (3, 0)
    world.settle()
    assert {p["spec"]["containers"][0]["image"] for p in world.pods.values()} == {"web:2"}


def test_proportional_scaling_during_a_stuck_rollout() -> None:
    """Kubernetes' documented example: 10 replicas, maxSurge 3, maxUnavailable 2; the new
    template never becomes ready; scaling to 15 adds 3 to the old and 2 to the new."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    world = World(deployment(10, strategy=strategy))
    world.settle()
    world.set_template_image("web:broken")
    for _ in range(10):
        world.round(ready=lambda pod: pod["spec"]["containers"][0]["image"] != "web:broken")
    assert sizes(world) == (5, 8)
    world.scale(15)
    world.deployment_step()
    assert sizes(world) == (7, 11)
    assert world.spec_total() == 15 + 3


def test_proportional_shares_round_and_give_leftovers_to_the_largest() -> None:
    rolling = {"maxSurge": 3, "maxUnavailable": 2}
    d = deployment(15, strategy={"type": "RollingUpdate", "rollingUpdate": rolling})
    old = _rs("old", 8, created="2024-05-01T10:00:00Z")
    new = _rs("new", 5, created="2024-05-01T10:05:00Z")
    for rs in (old, new):
        rs["metadata"]["annotations"] = {DESIRED_REPLICAS: "10", MAX_REPLICAS: "13"}
    ordered, shares, operation = ro.proportional_sizes(d, [old, new])
    assert operation == "up" and [r["metadata"]["name"] for r in ordered] == ["old", "new"]
    assert shares == {"old": 11, "new": 7}
    d["spec"]["replicas"] = 5  # down: 13 -> 8, older first
    _, shares, operation = ro.proportional_sizes(d, [old, new])
    assert operation == "down" and shares == {"old": 5, "new": 3}


def test_revisions_and_rollback_reuse_the_old_replicaset() -> None:
    world = World(deployment(2))
    world.settle()
    [first] = world.rss
    world.set_template_image("web:2")
    world.settle()
    world.set_template_image("web:1")
    world.settle()
    assert len(world.rss) == 2
    reused = world.rss[first]
    assert reused["metadata"]["annotations"][REVISION] == "3"
    assert reused["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert world.d["metadata"]["annotations"][REVISION] == "3"


def test_hash_collision_bumps_the_collision_count() -> None:
    world = World(deployment(1))
    plan = plan_deployment(world.d, [], [], world.now)
    assert plan.create is not None
    squatter = {**plan.create, "spec": {**plan.create["spec"], "template": {"spec": {}}}}
    squatter["metadata"] = {**plan.create["metadata"], "uid": "other", "ownerReferences": []}
    squatter["metadata"]["labels"] = {"app": "nope"}
    plan = plan_deployment(world.d, [squatter], [], world.now)
    assert plan.create is None
    assert plan.deployment is not None and plan.deployment["status"]["collisionCount"] == 1
    retry = plan_deployment(plan.deployment, [squatter], [], world.now)
    assert retry.create is not None
    assert retry.create["metadata"]["name"] != squatter["metadata"]["name"]


def test_conditions_and_status_of_a_finished_rollout() -> None:
    world = World(deployment(2))
    world.settle()
    world.round()
    status = world.d["status"]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    assert world.events[0].startswith("Scaled up replica set web-") and world.events[0].endswith(
        " to 2"
    )


def test_progress_deadline_exceeded_when_nothing_becomes_ready() -> None:
    world = World(deployment(2, progressDeadlineSeconds=30))
    for _ in range(5):
        world.round(ready=lambda pod: False)
    progressing = ds.condition(world.d["status"], "Progressing")
    assert progressing is not None and progressing["reason"] != "ProgressDeadlineExceeded"
    world.tick(60)
    world.round(ready=lambda pod: False)
    progressing = ds.condition(world.d["status"], "Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    available = ds.condition(world.d["status"], "Available")
    assert available is not None and available["reason"] == "MinimumReplicasUnavailable"


def test_paused_deployment_scales_but_does_not_roll_out() -> None:
    world = World(deployment(2))
    world.settle()
    world.d["spec"]["paused"] = True
    world.set_template_image("web:2")
    world.scale(4)
    for _ in range(5):
        world.round()
    assert len(world.rss) == 1 and world.spec_total() == 4
    progressing = ds.condition(world.d["status"], "Progressing")
    assert progressing is not None and progressing["reason"] == "DeploymentPaused"


def test_old_revisions_beyond_the_limit_are_deleted() -> None:
    world = World(deployment(1, revisionHistoryLimit=1))
    world.settle()
    for image in ("web:2", "web:3", "web:4"):
        world.set_template_image(image)
        world.settle()
    for _ in range(3):
        world.round()
    assert sorted(rs["metadata"]["annotations"][REVISION] for rs in world.rss.values()) == [
        "3",
        "4",
    ]


def test_selecting_everything_is_refused_with_an_event() -> None:
    d = deployment(1)
    d["spec"]["selector"] = {}
    plan = plan_deployment(d, [], [], World(d).now)
    assert plan.create is None
    assert [(e[2], e[1]) for e in plan.events] == [("SelectingAll", "Warning")]
