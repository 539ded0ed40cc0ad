"""The one runner of tinykube's level-triggered controllers: a full pass whenever a watched
resource changes (or a resync period passes, or a pass asks to be run again sooner), with
back-off from 0.1 s to 5 s after a failed pass, reset by the next good one. Shell."""

from __future__ import annotations

import logging
import threading
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
) -> None:
    """Call ``one_pass`` until ``stop``; it returns seconds until it must run again (or None)."""
    backoff = BACKOFF_MIN
    while not stop.is_set():
        wake.clear()
        try:
            after = one_pass()
        except errors.ApiError as e:
            log.warning("%s: pass failed: %s", name, e)
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
            continue
        backoff = BACKOFF_MIN
        wake.wait(resync if after is None else max(0.0, min(after, resync)))
