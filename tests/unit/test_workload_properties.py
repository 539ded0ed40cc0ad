"""Properties of the Deployment and ReplicaSet planners over the pure simulation
(tests/unit/workloadsim.py): replicas converge whatever happens on the way, and a rolling update
never runs more than replicas + maxSurge pods nor fewer than replicas - maxUnavailable Ready."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.workloadsim import World, deployment

fence = st.one_of(st.integers(0, 4), st.integers(0, 100).map(lambda n: f"{n}%"))


def rolling(surge: Any, unavailable: Any) -> dict[str, Any]:
    return {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}  # fmt: skip


def valid(surge: Any, unavailable: Any) -> bool:
    def value(v: Any) -> int:
        return int(str(v).rstrip("%"))

    return not (value(surge) == 0 and value(unavailable) == 0)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("scale"), st.integers(0, 8)),
        st.tuples(st.just("image"), st.sampled_from(["web:1", "web:2", "web:3"])),
        st.tuples(st.just("rounds"), st.integers(1, 4)),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(
    replicas=st.integers(0, 8),
    surge=fence,
    unavailable=fence,
    ops=operations,
    rng=st.randoms(use_true_random=False),
)
def test_replicas_converge(
    replicas: int, surge: Any, unavailable: Any, ops: list[tuple[str, Any]], rng: random.Random
) -> None:
    if not valid(surge, unavailable):
        surge = 1
    world = World(deployment(replicas, strategy=rolling(surge, unavailable)))
    for op, arg in ops:
        if op == "scale":
            world.scale(arg)
        elif op == "image":
            world.set_template_image(arg)
        else:
            for _ in range(arg):
                world.round(ready=lambda pod: rng.random() < 0.5)
    world.settle(rounds=80)
    want = world.d["spec"]["replicas"]
    image = world.d["spec"]["template"]["spec"]["containers"][0]["image"]
    assert len(world.pods) == want
    assert {p["spec"]["containers"][0]["image"] for p in world.pods.values()} <= {image}
    assert world.spec_total() == want
    assert all(p["status"]["phase"] == "Running" for p in world.pods.values())


@settings(max_examples=60, deadline=None)
@given(
    replicas=st.integers(1, 10),
    surge=fence,
    unavailable=fence,
    rng=st.randoms(use_true_random=False),
)
def test_rolling_update_stays_within_surge_and_unavailability(
    replicas: int, surge: Any, unavailable: Any, rng: random.Random
) -> None:
    if not valid(surge, unavailable):
        unavailable = 1
    world = World(deployment(replicas, strategy=rolling(surge, unavailable)))
    world.settle()
    world.set_template_image("web:2")
    ceiling, floor = replicas + world.surge(), replicas - world.unavailable()

    def check() -> None:
        assert world.spec_total() <= ceiling
        assert len(world.ready_pods()) >= floor

    for _ in range(200):
        images = {p["spec"]["containers"][0]["image"] for p in world.pods.values()}
        if world.converged() and world.spec_total() == replicas and images <= {"web:2"}:
            break
        world.deployment_step()
        check()
        world.replicaset_step()
        check()
        assert len(world.live_pods()) <= ceiling
        world.kubelet_step(ready=lambda pod: rng.random() < 0.4)
        check()
        world.replicaset_step()
        check()
        world.tick()
    else:
        raise AssertionError(f"the rollout did not finish: {world.d['status']}")
