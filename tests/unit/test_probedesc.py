"""describe's probe lines, in kubectl's DescribeProbe format."""

from __future__ import annotations

from control.cli.probedesc import describe_probe, probe_lines

TIMINGS = {
    "initialDelaySeconds": 3,
    "timeoutSeconds": 1,
    "periodSeconds": 5,
    "successThreshold": 1,
    "failureThreshold": 2,
}
ATTRS = "delay=3s timeout=1s period=5s #success=1 #failure=2"


def test_each_probe_kind() -> None:
    http = {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, **TIMINGS}
    assert describe_probe(http) == f"http-get http://:8080/healthz {ATTRS}"
    exec_ = {"exec": {"command": ["cat", "/tmp/healthy"]}, **TIMINGS}
    assert describe_probe(exec_) == f"exec [cat /tmp/healthy] {ATTRS}"
    tcp = {"tcpSocket": {"port": "web"}, **TIMINGS}
    assert describe_probe(tcp) == f"tcp-socket :web {ATTRS}"
    # Kubernetes' defaults when the fields are unset.
    assert describe_probe({"tcpSocket": {"port": 80}}) == (
        "tcp-socket :80 delay=0s timeout=1s period=10s #success=1 #failure=3"
    )


def test_lines_in_kubectls_order() -> None:
    container = {
        "name": "web",
        "startupProbe": {"tcpSocket": {"port": 80}},
        "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
    }
    assert [title for title, _ in probe_lines(container)] == ["Liveness", "Startup"]
    assert probe_lines({"name": "plain"}) == []
