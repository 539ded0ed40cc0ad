"""The one runner of tinykube's level-triggered controllers: a full pass whenever a watched
resource changes (or a resync period passes, or a pass asks to be run again sooner), with
back-off from 0.1 s to 5 s after a failed pass, reset by the next good one. Shell."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from common import errors

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0


def run_passes(
    name: str,
    one_pass: Callable[[], float | None],
    wake: threading.Event,
    stop: threading.Event,
    resync: float,
    min_interval: float = 0.0,
) -> None:
    """Call ``one_pass`` until ``stop``; it returns seconds until it must run again (or None).

    ``min_interval`` spaces passes out (a loop whose latency matters little, woken by every pod
    change, then does one pass for a burst of changes instead of one each).
    """
    backoff = BACKOFF_MIN
    while not stop.is_set():
        wake.clear()
        started = time.monotonic()
        try:
            after = one_pass()
        except errors.ApiError as e:
            log.warning("%s: pass failed: %s", name, e)
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
            continue
        backoff = BACKOFF_MIN
        wake.wait(resync if after is None else max(0.0, min(after, resync)))
        stop.wait(max(0.0, started + min_interval - time.monotonic()))
