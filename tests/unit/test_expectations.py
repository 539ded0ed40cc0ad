"""Controller expectations, as Kubernetes' ControllerExpectations and
UIDTrackingControllerExpectations: a controller that created or deleted pods waits until its
cache has seen them, a graceful deletion counts once, and expectations expire after 5 minutes."""

from __future__ import annotations

from control.controllers.expectations import TIMEOUT_SECONDS, Expectations


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_never_set_is_satisfied() -> None:
    assert Expectations().satisfied("default/web")


def test_creations_are_awaited_until_each_is_observed() -> None:
    e = Expectations()
    e.expect_creations("default/web", 2)
    assert not e.satisfied("default/web")
    e.creation_observed("default/web")
    assert not e.satisfied("default/web") and e.get("default/web") == (1, 0)
    e.creation_observed("default/web")
    assert e.satisfied("default/web")
    assert e.satisfied("default/other")


def test_a_deletion_counts_once_per_pod_even_when_seen_twice() -> None:
    e = Expectations()
    e.expect_deletions("default/web", ["default/web-a", "default/web-b"])
    # The graceful deletion: first the deletionTimestamp, then the delete itself.
    e.deletion_observed("default/web", "default/web-a")
    e.deletion_observed("default/web", "default/web-a")
    assert not e.satisfied("default/web") and e.get("default/web") == (0, 1)
    e.deletion_observed("default/web", "default/web-c")  # not one it deleted
    assert not e.satisfied("default/web")
    e.deletion_observed("default/web", "default/web-b")
    assert e.satisfied("default/web")


def test_new_expectations_replace_the_old_ones() -> None:
    e = Expectations()
    e.expect_creations("default/web", 3)
    e.expect_deletions("default/web", ["default/web-a"])
    assert e.get("default/web") == (0, 1)
    e.delete("default/web")
    assert e.get("default/web") is None and e.satisfied("default/web")


def test_expectations_never_observed_expire_after_five_minutes() -> None:
    clock = FakeClock()
    e = Expectations(clock=clock)
    e.expect_creations("default/web", 1)
    clock.now += TIMEOUT_SECONDS
    assert not e.satisfied("default/web")
    clock.now += 1
    assert e.satisfied("default/web")
    assert TIMEOUT_SECONDS == 300
