"""Reads at a resourceVersion: kube-apiserver's ListOptions checks, and the wait for a revision
the store has not reached (3 s, then 504 "Too large resource version"), on a fake clock."""

from __future__ import annotations

import pytest

from common import errors
from control.memory_store import MemoryStore
from control.registry import freshness
from control.store import block_for


class FakeClock:
    """time.monotonic and time.sleep that only move when slept; writes land at given times."""

    def __init__(self, store: MemoryStore, writes_at: tuple[float, ...] = ()) -> None:
        self.now = 0.0
        self.store = store
        self.writes_at = list(writes_at)
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        while self.writes_at and self.writes_at[0] <= self.now:
            self.writes_at.pop(0)
            n = self.store.revision()
            self.store.create("configmaps", {"metadata": {"name": f"c{n}", "namespace": "d"}})


def test_current_or_older_revision_is_served_at_once() -> None:
    store = MemoryStore()
    store.create("configmaps", {"metadata": {"name": "a", "namespace": "d"}})
    clock = FakeClock(store)
    assert freshness.wait_fresh(store, 1, clock=clock, sleep=clock.sleep) == 1
    assert clock.slept == 0


def test_revision_reached_within_the_wait_is_served() -> None:
    store = MemoryStore()
    clock = FakeClock(store, writes_at=(1.0, 2.0))
    assert freshness.wait_fresh(store, 2, clock=clock, sleep=clock.sleep) == 2
    assert 2.0 <= clock.now < freshness.BLOCK_TIMEOUT


def test_revision_never_reached_is_504_after_three_seconds() -> None:
    store = MemoryStore()
    clock = FakeClock(store, writes_at=(0.5,))
    with pytest.raises(errors.ServerTimeoutError) as info:
        freshness.wait_fresh(store, 99, clock=clock, sleep=clock.sleep)
    assert clock.now == pytest.approx(freshness.BLOCK_TIMEOUT)
    status = info.value.to_status()
    assert status["code"] == 504 and status["reason"] == "Timeout"
    assert status["message"] == "Timeout: Too large resource version: 99, current: 1"
    assert status["details"]["retryAfterSeconds"] == 1
    [cause] = status["details"]["causes"]
    assert (cause["reason"], cause["message"]) == (
        "ResourceVersionTooLarge",
        "Too large resource version",
    )


@pytest.mark.parametrize(
    ("rv", "match", "watch", "message"),
    [
        ("", "Exact", False, "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
         "unless resourceVersion is provided"),
        ("0", "Exact", False, 'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is '
         'forbidden for resourceVersion "0"'),
        ("", "Newest", False, "[resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
         "unless resourceVersion is provided, resourceVersionMatch: Unsupported value: "
         '"Newest": supported values: "Exact", "NotOlderThan", ""]'),
        ("5", "NotOlderThan", True, "resourceVersionMatch: Forbidden: resourceVersionMatch is "
         "forbidden for watch unless sendInitialEvents is provided"),
    ],
)  # fmt: skip
def test_list_options_refused_as_kube_apiserver(
    rv: str, match: str, watch: bool, message: str
) -> None:
    with pytest.raises(errors.InvalidError) as info:
        freshness.minimum_revision(rv, match, watch=watch)
    assert str(info.value) == f'ListOptions.meta.k8s.io "" is invalid: {message}'
    assert {c.field for c in info.value.causes} == {"resourceVersionMatch"}


@pytest.mark.parametrize(
    ("rv", "match", "wanted"),
    [("", "", 0), ("0", "", 0), ("0", "NotOlderThan", 0), ("7", "", 7), ("7", "Exact", 7)],
)
def test_minimum_revision(rv: str, match: str, wanted: int) -> None:
    assert freshness.minimum_revision(rv, match) == wanted


def test_bad_resource_version_is_400() -> None:
    with pytest.raises(errors.BadRequestError):
        freshness.minimum_revision("abc", "")


def test_block_for_cuts_the_poll_at_the_deadline() -> None:
    assert block_for(5.0, None) == 5.0
    assert block_for(5.0, 10.0, now=8.5) == 1.5
    assert block_for(1.0, 10.0, now=2.0) == 1.0
    assert block_for(5.0, 10.0, now=10.0) is None


def test_exact_list_of_another_revision_is_gone() -> None:
    listing = {"metadata": {"resourceVersion": "8"}}
    freshness.check_exact("Exact", 8, listing)
    freshness.check_exact("NotOlderThan", 5, listing)
    freshness.check_exact("", 0, listing)
    with pytest.raises(errors.GoneError):
        freshness.check_exact("Exact", 5, listing)
