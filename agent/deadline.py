"""A pod's ``activeDeadlineSeconds``, as the kubelet's ``activeDeadlineHandler``: how long the pod
may still be active on the node, counted from its ``status.startTime``. Pure: ``now`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from common.meta import parse_time

REASON = "DeadlineExceeded"
MESSAGE = "Pod was active on the node longer than the specified deadline"


def remaining(pod: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds left before the deadline (<= 0: exceeded); None without a deadline or a start."""
    seconds = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    started = parse_time((pod.get("status") or {}).get("startTime"))
    if not isinstance(seconds, int) or started is None:
        return None
    return seconds - (now - started).total_seconds()
