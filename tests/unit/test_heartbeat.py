"""The renew interval the API server hands out (Nomad's rate-scaled, staggered TTL) and the Lease
duration that carries it."""

from __future__ import annotations

import pytest

from common.heartbeat import HeartbeatPolicy, lease_seconds, renew_interval

POLICY = HeartbeatPolicy(min_interval=2.0, max_per_second=100.0)


@pytest.mark.parametrize(
    ("nodes", "base"),
    [(0, 2.0), (3, 2.0), (200, 2.0), (201, 2.01), (1000, 10.0), (5000, 50.0)],
)
def test_the_base_interval_caps_the_cluster_wide_renewal_rate(nodes: int, base: float) -> None:
    assert POLICY.base_interval(nodes) == pytest.approx(base)
    if base > POLICY.min_interval:
        assert nodes / base == pytest.approx(POLICY.max_per_second)


def test_a_small_cluster_gets_the_minimum_with_no_stagger() -> None:
    for jitter in (0.0, 0.5, 0.999):
        assert POLICY.interval(3, jitter) == 2.0
        assert POLICY.lease_duration(3, jitter) == 8  # renewed every 2 s


def test_a_large_cluster_is_staggered_between_the_base_and_twice_it() -> None:
    assert POLICY.interval(1000, 0.0) == pytest.approx(10.0)
    assert POLICY.interval(1000, 0.5) == pytest.approx(15.0)
    assert POLICY.interval(1000, 0.9999) < 20.0
    durations = [POLICY.lease_duration(1000, j / 10) for j in range(10)]
    assert min(durations) == 40 and max(durations) < 80
    # On average a node renews every 1.5 x base: the cluster stays under the cap.
    mean = sum(POLICY.interval(1000, j / 1000) for j in range(1000)) / 1000
    assert 1000 / mean < POLICY.max_per_second


def test_no_cap_means_the_minimum_for_every_cluster() -> None:
    assert HeartbeatPolicy(2.0, 0).interval(100_000, 0.7) == 2.0


def test_the_lease_duration_is_four_renewals_in_whole_seconds() -> None:
    assert lease_seconds(2.0) == 8 and renew_interval(8) == 2.0
    assert lease_seconds(0.5) == 2 and renew_interval(2) == 0.5
    assert lease_seconds(0.1) == 1  # never 0: the API refuses a duration of 0
    assert lease_seconds(2.01) == 9
    assert POLICY.min_lease_duration == 8


def test_the_grace_scales_in_proportion_to_the_duration_handed_out() -> None:
    assert POLICY.scaled_grace(10.0, 8) == 10.0
    assert POLICY.scaled_grace(10.0, 40) == 50.0  # renews every 10 s: Kubernetes' 50 s
    assert POLICY.scaled_grace(4.0, 16) == 8.0
    assert POLICY.scaled_grace(10.0, 2) == 10.0
    assert POLICY.scaled_grace(10.0, True) == 10.0
