"""How ``describe`` shows a container's probes, as kubectl's DescribeProbe writes them
(``http-get http://:80/healthz delay=0s timeout=1s period=10s #success=1 #failure=3``). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The lines describe prints for a container, in kubectl's order.
PROBES = (
    ("Liveness", "livenessProbe"),
    ("Readiness", "readinessProbe"),
    ("Startup", "startupProbe"),
)


def _get(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def describe_probe(probe: Mapping[str, Any]) -> str:
    attrs = (
        f"delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
        f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
        f"#failure={probe.get('failureThreshold', 3)}"
    )
    if "exec" in probe:
        command = _get(probe, "exec").get("command") or []
        return f"exec [{' '.join(str(c) for c in command)}] {attrs}"
    if "httpGet" in probe:
        get = _get(probe, "httpGet")
        scheme = str(get.get("scheme", "HTTP")).lower()
        host, port = str(get.get("host", "")), str(get.get("port", ""))
        if ":" in host:
            host = f"[{host}]"
        where = f"{host}:{port}" if port else host
        return f"http-get {scheme}://{where}{get.get('path', '')} {attrs}"
    if "tcpSocket" in probe:
        tcp = _get(probe, "tcpSocket")
        return f"tcp-socket {tcp.get('host', '')}:{tcp.get('port', '')} {attrs}"
    if "grpc" in probe:
        grpc = _get(probe, "grpc")
        return f"grpc <pod>:{grpc.get('port', '')} {grpc.get('service', '')} {attrs}"
    return f"unknown {attrs}"


def probe_lines(container: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(title, text) for each probe the container has."""
    return [(title, describe_probe(_get(container, key))) for title, key in PROBES
            if isinstance(container.get(key), Mapping)]  # fmt: skip
