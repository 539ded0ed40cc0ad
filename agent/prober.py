"""The kubelet's probe semantics as pure functions (``pkg/kubelet/prober/worker.go``).

A probe spec read from a container; a worker's state and what one probe outcome does to it
(consecutive results against ``successThreshold``/``failureThreshold``; a failed liveness or
startup probe puts the worker on hold until the container is replaced); whether a probe runs at
all (initial delay, the startup probe gating the others); where httpGet/tcpSocket probes go; and
the per-container view that status and the planner read. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["liveness", "readiness", "startup"]
Result = Literal["Success", "Failure", "Unknown"]
KINDS: tuple[Kind, ...] = ("startup", "liveness", "readiness")
FIELD: dict[Kind, str] = {
    "liveness": "livenessProbe",
    "readiness": "readinessProbe",
    "startup": "startupProbe",
}
# What a worker reports before its first conclusive probe (kubelet's initialValue).
INITIAL: dict[Kind, Result] = {"liveness": "Success", "readiness": "Failure", "startup": "Unknown"}
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


@dataclass(frozen=True)
class ProbeSpec:
    kind: Kind
    handler: str  # one of HANDLERS
    action: dict[str, Any]
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3
    grace: float | None = None  # the probe's own terminationGracePeriodSeconds


def _number(probe: Mapping[str, Any], key: str, default: float) -> float:
    value = probe.get(key)
    return float(value) if isinstance(value, int | float) and value > 0 else default


def probe_spec(container: Mapping[str, Any], kind: Kind) -> ProbeSpec | None:
    """The container's probe of that kind, with Kubernetes' defaults; None if it has none."""
    probe = container.get(FIELD[kind])
    if not isinstance(probe, Mapping):
        return None
    handler = next((h for h in HANDLERS if isinstance(probe.get(h), Mapping)), None)
    if handler is None:
        return None
    grace = probe.get("terminationGracePeriodSeconds")
    return ProbeSpec(
        kind=kind,
        handler=handler,
        action=dict(probe[handler]),
        initial_delay=_number(probe, "initialDelaySeconds", 0.0),
        period=_number(probe, "periodSeconds", 10.0),
        timeout=_number(probe, "timeoutSeconds", 1.0),
        success_threshold=int(_number(probe, "successThreshold", 1)),
        failure_threshold=int(_number(probe, "failureThreshold", 3)),
        grace=float(grace) if isinstance(grace, int) and grace >= 0 else None,
    )


def probe_specs(container: Mapping[str, Any]) -> list[ProbeSpec]:
    return [s for kind in KINDS if (s := probe_spec(container, kind)) is not None]


@dataclass(frozen=True)
class WorkerState:
    """One probe worker: the published result and the run of identical outcomes behind it."""

    result: Result
    last: Result | None = None
    run: int = 0
    on_hold: bool = False


def initial_state(kind: Kind) -> WorkerState:
    return WorkerState(INITIAL[kind])


def observe(spec: ProbeSpec, state: WorkerState, outcome: Result) -> WorkerState:
    """The state after one probe; ``Unknown`` (the probe itself errored) changes nothing."""
    if outcome == "Unknown":
        return state
    run = state.run + 1 if state.last == outcome else 1
    threshold = spec.failure_threshold if outcome == "Failure" else spec.success_threshold
    if run < threshold:
        return WorkerState(state.result, outcome, run, state.on_hold)
    if spec.kind in ("liveness", "startup") and outcome == "Failure":
        # The container will be restarted: stop probing until a new container replaces it.
        return WorkerState("Failure", outcome, 0, True)
    return WorkerState(outcome, outcome, run, state.on_hold)


def should_probe(
    spec: ProbeSpec, state: WorkerState, *, seconds_running: float, started: bool
) -> bool:
    """Whether this period's probe runs: not on hold, past the initial delay, and started (the
    startup probe runs only until it succeeds, the others only after)."""
    if state.on_hold or seconds_running < spec.initial_delay:
        return False
    return not started if spec.kind == "startup" else started


def resolve_port(value: Any, container: Mapping[str, Any]) -> int:
    """A probe's ``port``: a number, or the name of one of the container's ports."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    for port in container.get("ports") or []:
        if port.get("name") == text:
            return int(port["containerPort"])
    raise ValueError(f"unable to find port {text!r} in container {container.get('name')!r}")


@dataclass(frozen=True)
class HttpTarget:
    scheme: str
    host: str
    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme.lower()}://{host}:{self.port}{self.path}"


def http_target(action: Mapping[str, Any], pod_ip: str, container: Mapping[str, Any]) -> HttpTarget:
    path = str(action.get("path") or "/")
    headers = {str(h.get("name")): str(h.get("value", "")) for h in action.get("httpHeaders") or []}
    return HttpTarget(
        scheme=str(action.get("scheme") or "HTTP"),
        host=str(action.get("host") or pod_ip),
        port=resolve_port(action.get("port"), container),
        path=path if path.startswith("/") else "/" + path,
        headers=headers,
    )


def tcp_target(
    action: Mapping[str, Any], pod_ip: str, container: Mapping[str, Any]
) -> tuple[str, int]:
    return str(action.get("host") or pod_ip), resolve_port(action.get("port"), container)


def event_message(kind: Kind, outcome: Result, output: str) -> str:
    """The ``Unhealthy`` event text: ``Liveness probe failed: HTTP probe failed with ...``."""
    verb = "errored" if outcome == "Unknown" else "failed"
    return f"{kind.capitalize()} probe {verb}: {output}"


@dataclass(frozen=True)
class ContainerProbes:
    """What a container's probes say: ``None`` where it has no probe of that kind or the probe
    has not run yet (status then keeps what it reported for the same container, so an agent
    restart does not flip a ready container to unready)."""

    ready: bool | None = None
    started: bool | None = None
    failed: Kind | None = None  # liveness or startup failed: the container must be restarted
    grace: float | None = None  # the failed probe's terminationGracePeriodSeconds


def container_probes(results: Mapping[Kind, tuple[ProbeSpec, WorkerState]]) -> ContainerProbes:
    """The view of one container from the states of its probe workers."""
    ready = started = None
    failed: Kind | None = None
    grace = None
    if "readiness" in results and results["readiness"][1].last is not None:
        ready = results["readiness"][1].result == "Success"
    if "startup" in results and results["startup"][1].last is not None:
        started = results["startup"][1].result == "Success"
    for kind in ("startup", "liveness"):
        if kind in results and results[kind][1].result == "Failure":
            failed, grace = kind, results[kind][0].grace
            break
    return ContainerProbes(ready, started, failed, grace)
