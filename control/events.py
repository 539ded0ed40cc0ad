"""Recording Kubernetes Events from the control loops (scheduler, controllers), built by
``common.events``. Shell: it writes through the registry."""

from __future__ import annotations

import logging
from typing import Any

from common import errors
from common.events import build_event
from common.resources import must
from control.registry.registry import Registry

log = logging.getLogger(__name__)

EVENTS = must("events")


def record(
    registry: Registry, obj: dict[str, Any], etype: str, reason: str, message: str, component: str
) -> None:
    """Best effort, as in Kubernetes: a lost event never fails the action it describes."""
    ev = build_event(obj, etype, reason, message, component)
    try:
        registry.create(EVENTS, ev["metadata"]["namespace"], ev)
    except errors.ApiError as e:
        log.info("event %s for %s: not recorded: %s", reason, obj["metadata"].get("name"), e)
