"""Node heartbeats as both ends reckon them. The API server hands each node the duration of its
Lease (``spec.leaseDurationSeconds``, written on every renewal, as Nomad answers each heartbeat
with a TTL): never shorter than a minimum renew interval, and long enough that the whole cluster
renews no more than a maximum rate, staggered at random once that cap binds so that renewals
spread out. The agent renews at a quarter of the duration (the kubelet's renew fraction); the
node controller scales its grace period with it. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

# The kubelet renews its Lease every leaseDurationSeconds x nodeLeaseRenewIntervalFraction.
RENEW_FRACTION = 0.25
# Shortest renew interval handed out: a small cluster notices a lost node within seconds
# (Nomad's min_heartbeat_ttl is 10 s; the kubelet renews every 10 s).
MIN_INTERVAL = 2.0
# Most renewals per second the whole cluster makes (Nomad's max_heartbeats_per_second is 50):
# a renewal costs the API server a fraction of a millisecond, so this is a few percent of a core.
MAX_PER_SECOND = 100.0


def lease_seconds(interval: float) -> int:
    """The Lease duration (whole seconds, as the API field) that a node renewing every
    ``interval`` seconds is given."""
    return max(1, math.ceil(interval / RENEW_FRACTION - 1e-9))


def renew_interval(lease_duration_seconds: float) -> float:
    """How often a node renews a Lease of this duration."""
    return lease_duration_seconds * RENEW_FRACTION


@dataclass(frozen=True)
class HeartbeatPolicy:
    min_interval: float = MIN_INTERVAL
    max_per_second: float = MAX_PER_SECOND

    def base_interval(self, nodes: int) -> float:
        """Nomad's RateScaledInterval: the minimum, or longer when ``nodes`` renewing that often
        would exceed the rate (a rate of 0 or less sets no cap)."""
        if self.max_per_second <= 0:
            return self.min_interval
        return max(self.min_interval, nodes / self.max_per_second)

    def interval(self, nodes: int, jitter: float) -> float:
        """The renew interval to hand out; ``jitter`` in [0, 1). At the minimum every node gets
        the minimum (a small cluster keeps its fast detection); above it, Nomad's stagger:
        somewhere in [base, 2 x base)."""
        base = self.base_interval(nodes)
        if base <= self.min_interval:
            return self.min_interval
        return base * (1.0 + min(max(jitter, 0.0), 1.0))

    def lease_duration(self, nodes: int, jitter: float) -> int:
        return lease_seconds(self.interval(nodes, jitter))

    @property
    def min_lease_duration(self) -> int:
        return lease_seconds(self.min_interval)

    def scaled_grace(self, grace: float, lease_duration: object) -> float:
        """The node-monitor grace period for a node holding a Lease of ``lease_duration``:
        ``grace`` holds for a node renewing at the minimum interval, and grows in proportion
        for one told to renew less often (never shrinks), so it always spans as many missed
        renewals. A Lease without a usable duration gets ``grace``."""
        if isinstance(lease_duration, bool) or not isinstance(lease_duration, int | float):
            return grace
        if lease_duration <= 0:
            return grace
        return grace * max(1.0, lease_duration / self.min_lease_duration)
