"""Make a container's image present before it is created: pull policy, events and back-off.

``ImagePuller.ensure`` asks the runtime for the image, records the kubelet's image events
(``Pulling``, ``Pulled``, ``Failed``, ``BackOff``, and ``PulledFromLocal`` for the offline
fallback) and remembers failed pulls so that the next attempts wait 10 s doubling to 5 min
(``ErrImagePull`` then ``ImagePullBackOff``). Effectful (runtime + events).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent import planner
from agent import runtime as rt
from agent.events import NORMAL, WARNING, EventRecorder
from agent.planner import BackoffEntry, BackoffPolicy, Waiting
from agent.runtime import Runtime

log = logging.getLogger(__name__)

# How long a failed pull shows as ErrImagePull before the status says ImagePullBackOff.
ERR_IMAGE_PULL_SECONDS = 1.0


@dataclass
class _PullFailure:
    entry: BackoffEntry
    reason: str
    message: str


def _ref(pod: dict[str, Any]) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}"


class ImagePuller:
    """Per-node image pulls with back-off per (pod uid, container, image); thread-safe."""

    def __init__(
        self,
        runtime: Runtime,
        recorder: EventRecorder,
        policy: BackoffPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.policy = policy
        self.clock = clock
        self._lock = threading.Lock()
        self._pulls: dict[tuple[str, str, str], _PullFailure] = {}

    def forget(self, uid: str) -> None:
        with self._lock:
            for key in [k for k in self._pulls if k[0] == uid]:
                del self._pulls[key]

    def ensure(
        self,
        pod: dict[str, Any],
        name: str,
        image: str,
        policy: str,
        waiting: dict[str, Waiting],
        auth: Sequence[Mapping[str, str]] = (),
    ) -> float | None:
        """Make ``image`` present (with the registry credentials of ``auth``, tried in turn);
        on failure set ``waiting[name]`` and return a retry delay."""
        key = (pod["metadata"]["uid"], name, image)
        now = self.clock()
        with self._lock:
            failure = self._pulls.get(key)
        if failure is not None:
            left = planner.remaining_backoff(
                failure.entry, failure.entry.last_update, now, self.policy
            )
            shown = (now - failure.entry.last_update).total_seconds()
            if left > 0 and shown < ERR_IMAGE_PULL_SECONDS:
                # Just failed: the status keeps saying so for a moment, whatever else syncs.
                waiting[name] = Waiting(failure.reason, failure.message)
                return min(left, ERR_IMAGE_PULL_SECONDS - shown)
            if left > 0:
                back = "ImagePullBackOff" if failure.reason == "ErrImagePull" else failure.reason
                msg = f'Back-off pulling image "{image}"'
                self.recorder.record(pod, "BackOff", msg, NORMAL, name)
                waiting[name] = Waiting(back, f"{msg}: {failure.reason}: {failure.message}")
                return left
        pulling = f'Pulling image "{image}"'
        try:
            got = self.runtime.ensure_image(image, policy, auth)
        except rt.ContainerRuntimeError as e:
            if isinstance(e, rt.ImagePullError):
                self.recorder.record(pod, "Pulling", pulling, NORMAL, name)
            return self._failed(pod, key, failure, e, waiting)
        if got.pulled or got.offline_fallback_error:
            # Recorded once the engine has decided to pull, so a local image logs no pull.
            self.recorder.record(pod, "Pulling", pulling, NORMAL, name)
        with self._lock:
            self._pulls.pop(key, None)
        if got.offline_fallback_error:
            msg = (
                f'Failed to pull image "{image}": {got.offline_fallback_error}; '
                "no registry answers, using the image present on this node"
            )
            self.recorder.record(pod, "PulledFromLocal", msg, WARNING, name)
        elif got.pulled:
            secs = planner.go_duration(got.pull_seconds)
            msg = (
                f'Successfully pulled image "{image}" in {secs} ({secs} including waiting). '
                f"Image size: {got.size} bytes."
            )
            self.recorder.record(pod, "Pulled", msg, NORMAL, name)
        else:
            msg = f'Container image "{image}" already present on machine'
            self.recorder.record(pod, "Pulled", msg, NORMAL, name)
        return None

    def _failed(
        self,
        pod: dict[str, Any],
        key: tuple[str, str, str],
        failure: _PullFailure | None,
        error: rt.ContainerRuntimeError,
        waiting: dict[str, Waiting],
    ) -> float:
        name, image = key[1], key[2]
        reason = error.reason
        if isinstance(error, rt.ImageNeverPullError):
            self.recorder.record(pod, reason, str(error), WARNING, name)
        else:
            msg = f'Failed to pull image "{image}": {error}'
            self.recorder.record(pod, "Failed", msg, WARNING, name)
        self.recorder.record(pod, "Failed", f"Error: {reason}", WARNING, name)
        now = self.clock()
        entry = planner.next_backoff(failure.entry if failure else None, now, self.policy)
        with self._lock:
            self._pulls[key] = _PullFailure(entry, reason, str(error))
        waiting[name] = Waiting(reason, str(error))
        log.info("pod %s: image %s for %s: %s", _ref(pod), image, name, error)
        # Sync again when ErrImagePull has been shown long enough: ImagePullBackOff from then.
        return min(entry.delay, ERR_IMAGE_PULL_SECONDS)
