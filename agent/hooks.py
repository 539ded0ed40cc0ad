"""Container lifecycle hooks (``lifecycle.postStart`` / ``preStop``): the kubelet's handler runner
(``pkg/kubelet/lifecycle/handlers.go``) for ``exec``, ``httpGet`` and ``sleep``, and its
``killContainer``: the preStop hook runs inside the grace period, before SIGTERM, and what is
left of the period (at least 2 s) goes to the stop. Effectful (runtime exec, HTTP, sleeps).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from agent import prober
from agent import runtime as rt
from agent.events import WARNING, EventRecorder
from agent.probes import http_probe
from agent.runtime import ContainerInfo, Runtime

log = logging.getLogger(__name__)

# The kubelet's minimumGracePeriodInSeconds: a container always gets this long after SIGTERM.
MIN_GRACE_SECONDS = 2.0
# An exec or HTTP postStart hook has no timeout of its own in the kubelet; ours is bounded.
POST_START_TIMEOUT = 120.0
MAX_OUTPUT = 10 * 1024


def _pod_id(pod: Mapping[str, Any]) -> str:
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


class HookRunner:
    """Runs one container's hooks; ``pod_ip`` gives the pod's address for ``httpGet``."""

    def __init__(
        self, runtime: Runtime, recorder: EventRecorder, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.sleep = sleep

    def run(
        self,
        hook: Mapping[str, Any],
        pod: dict[str, Any],
        container: Mapping[str, Any],
        cid: str,
        pod_ip: str,
        timeout: float,
    ) -> str | None:
        """Run one handler; the kubelet's failure message, or None when it succeeded."""
        name = container["name"]
        if isinstance(hook.get("exec"), Mapping):
            command = [str(a) for a in hook["exec"].get("command") or []]
            error, output = self._exec(cid, command, timeout)
            if error is None:
                return None
            quoted = json.dumps(output)  # Go's %q
            return (f'Exec lifecycle hook ({_go_list(command)}) for Container "{name}" in Pod '
                    f'"{_pod_id(pod)}" failed - error: {error}, message: {quoted}')  # fmt: skip
        if isinstance(hook.get("httpGet"), Mapping):
            target = prober.http_target(dict(hook["httpGet"]), pod_ip, dict(container))
            outcome, why = http_probe(target, timeout)
            if outcome == "Success":
                return None
            return (f'HTTP lifecycle hook ({target.path}) for Container "{name}" in Pod '
                    f'"{_pod_id(pod)}" failed - error: {why}')  # fmt: skip
        if isinstance(hook.get("sleep"), Mapping):
            self.sleep(min(float(hook["sleep"].get("seconds") or 0), timeout))
        return None

    def _exec(self, cid: str, command: list[str], timeout: float) -> tuple[str | None, str]:
        try:
            session = self.runtime.exec_open(cid, command, timeout=timeout)
        except rt.ContainerRuntimeError as e:
            return str(e), ""
        output = b""
        try:
            while (item := session.read()) is not None:
                output = (output + item[1])[-MAX_OUTPUT:]
            code = session.exit_code(wait=timeout)
        except (TimeoutError, rt.ContainerRuntimeError) as e:
            return f"command {' '.join(command)!r} did not complete: {e}", output.decode()
        finally:
            session.close()
        text = output.decode(errors="replace")
        if code == 0:
            return None, text
        return f"command {' '.join(command)!r} exited with {code}: {text}", text

    def post_start(
        self, pod: dict[str, Any], container: Mapping[str, Any], cid: str, pod_ip: str
    ) -> str | None:
        """Run the postStart hook, if any, right after the start; the failure message, if any
        (also a FailedPostStartHook event: the caller kills the container)."""
        hook = (container.get("lifecycle") or {}).get("postStart")
        if not isinstance(hook, Mapping):
            return None
        message = self.run(hook, pod, container, cid, pod_ip, POST_START_TIMEOUT)
        if message is not None:
            log.info("pod %s: postStart hook of %s failed", _pod_id(pod), container["name"])
            self.recorder.record(pod, "FailedPostStartHook", message, WARNING, container["name"])
        return message

    def pre_stop(
        self,
        pod: dict[str, Any],
        container: Mapping[str, Any] | None,
        info: ContainerInfo,
        grace: float,
        pod_ip: str,
    ) -> float:
        """Run the preStop hook, if any, for at most ``grace`` seconds; return the grace left
        for SIGTERM (the kubelet's ``killContainer``)."""
        hook = ((container or {}).get("lifecycle") or {}).get("preStop")
        if not isinstance(hook, Mapping) or container is None or grace <= 0:
            return grace
        start = time.monotonic()
        done = threading.Event()

        def run() -> None:
            try:
                message = self.run(hook, pod, container, info.id, pod_ip, grace)
                if message is not None:
                    self.recorder.record(pod, "FailedPreStopHook", message, WARNING,
                                         info.container_name)  # fmt: skip
            except Exception as e:  # a hook must never kill the stop
                log.warning("pod %s: preStop hook of %s: %s", _pod_id(pod), info.name, e)
            finally:
                done.set()

        threading.Thread(target=run, name=f"prestop-{info.id[:12]}", daemon=True).start()
        if not done.wait(grace):
            log.info("pod %s: preStop hook of %s did not complete in %.0f seconds",
                     _pod_id(pod), info.container_name, grace)  # fmt: skip
        return max(MIN_GRACE_SECONDS, grace - (time.monotonic() - start))


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"
