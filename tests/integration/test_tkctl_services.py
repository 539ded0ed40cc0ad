"""tkctl's Service commands against the real API server over HTTP: create service, expose,
get svc (kubectl's columns), describe svc and cluster-info, with kubectl's messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from control.cli.main import cli
from control.cli.session import Session
from control.registry.defaultservices import ensure_default_services
from tests.integration.conftest import ADMIN_TOKEN

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: tinykube/web:1
        ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
"""


@pytest.fixture
def tk(server: str, tmp_path: Path) -> Any:
    def run(*args: str) -> Result:
        session = Session(server=server, token=ADMIN_TOKEN, env={}, home=str(tmp_path))
        return CliRunner().invoke(cli, list(args), obj=session)

    return run


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_create_service_kinds_and_get(tk: Any) -> None:
    r = tk("create", "service", "nodeport", "web", "--tcp=80:8080", "--node-port=30080")
    assert (r.exit_code, r.stdout) == (0, "service/web created\n"), r.output
    r = tk("create", "svc", "clusterip", "db", "--clusterip=None")
    assert (r.exit_code, r.stdout) == (0, "service/db created\n"), r.output
    r = tk("create", "service", "externalname", "ext", "--external-name", "example.com")
    assert r.exit_code == 0, r.output
    r = tk("create", "service", "loadbalancer", "lb", "--tcp=443")
    assert r.exit_code == 0, r.output
    web = yaml.safe_load(tk("get", "svc", "web", "-o", "yaml").stdout)
    assert web["metadata"]["labels"] == {"app": "web"}
    assert web["spec"]["selector"] == {"app": "web"}
    assert web["spec"]["ports"] == [{"name": "80-8080", "nodePort": 30080, "port": 80,
                                     "protocol": "TCP", "targetPort": 8080}]  # fmt: skip
    r = tk("get", "svc", "-o", "wide")
    lines = r.stdout.splitlines()
    assert cells(lines[0]) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE",
                               "SELECTOR"]  # fmt: skip
    rows = {cells(line)[0]: cells(line) for line in lines[1:]}
    assert rows["web"][1] == "NodePort" and rows["web"][3:5] == ["<none>", "80:30080/TCP"]
    assert rows["db"][1:5] == ["ClusterIP", "None", "<none>", "<none>"]
    assert rows["ext"][1:5] == ["ExternalName", "<none>", "example.com", "<none>"]
    assert rows["lb"][3] == "<pending>" and re.fullmatch(r"443:3\d{4}/TCP", rows["lb"][4])
    assert rows["web"][6] == "app=web"


def test_create_service_refusals(tk: Any) -> None:
    r = tk("create", "service", "clusterip", "x")
    assert (r.exit_code, r.stderr) == (1, "error: at least one tcp port specifier must be "
                                          "provided\n")  # fmt: skip
    r = tk("create", "service", "nodeport", "x", "--tcp=80", "--node-port=80")
    assert r.exit_code == 1
    assert r.stderr == (
        'error: failed to create NodePort service: Service "x" is invalid: '
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767\n"
    )
    r = tk("create", "service", "externalname", "x", "--external-name", "not a name")
    assert (r.exit_code, r.stderr) == (1, "error: invalid service external name not a name\n")


def test_expose_deployment_and_pod(tk: Any, tmp_path: Path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(DEPLOY)
    assert tk("apply", "-f", str(f)).exit_code == 0
    r = tk("expose", "deployment", "web", "--port=8080", "--target-port=80", "--type=NodePort")
    assert (r.exit_code, r.stdout) == (0, "service/web exposed\n"), r.output
    svc = yaml.safe_load(tk("get", "svc", "web", "-o", "yaml").stdout)
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["type"] == "NodePort"
    port = svc["spec"]["ports"][0]
    assert (port["port"], port["targetPort"], port["protocol"]) == (8080, 80, "TCP")
    # No --port: the workload's ports, named port-N, with their protocols.
    r = tk("expose", "deploy/web", "--name", "web-all")
    assert r.exit_code == 0, r.output
    svc = yaml.safe_load(tk("get", "svc", "web-all", "-o", "yaml").stdout)
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("port-1", 80, "TCP"), ("port-2", 53, "UDP")]  # fmt: skip
    r = tk("expose", "deployment", "missing", "--port=80")
    assert r.exit_code == 1
    assert r.stderr == ('Error from server (NotFound): deployments.apps "missing" not found\n')
    r = tk("expose", "node", "n1", "--port=80")
    assert (r.exit_code, r.stderr) == (1, "error: cannot expose a Node\n")


def test_describe_service(tk: Any, app: Any) -> None:
    tk("create", "service", "nodeport", "web", "--tcp=80:8080", "--node-port=30081")
    r = tk("describe", "svc", "web")
    assert r.exit_code == 0, r.output
    text = r.stdout
    for line in ("Name:                     web", "Namespace:                default",
                 "Labels:                   app=web", "Annotations:              <none>",
                 "Selector:                 app=web", "Type:                     NodePort",
                 "IP Family Policy:         SingleStack", "IP Families:              IPv4",
                 "Port:                     80-8080  80/TCP",
                 "TargetPort:               8080/TCP",
                 "NodePort:                 80-8080  30081/TCP",
                 "Endpoints:                <none>", "Session Affinity:         None",
                 "External Traffic Policy:  Cluster", "Internal Traffic Policy:  Cluster",
                 "Events:                   <none>"):  # fmt: skip
        assert line + "\n" in text, (line, text)
    ip = yaml.safe_load(tk("get", "svc", "web", "-o", "yaml").stdout)["spec"]["clusterIP"]
    assert f"IPs:                      {ip}\n" in text


def test_cluster_info_names_the_control_plane_and_dns(tk: Any, app: Any, server: str) -> None:
    r = tk("cluster-info")
    assert r.stdout.splitlines()[0] == f"Kubernetes control plane is running at {server}"
    ensure_default_services(app.extensions["tinykube"]["registry"], 6443)
    r = tk("cluster-info")
    assert r.exit_code == 0, r.output
    assert r.stdout == (
        f"Kubernetes control plane is running at {server}\n"
        f"CoreDNS is running at {server}/api/v1/namespaces/kube-system/services/kube-dns:dns"
        "/proxy\n\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info "
        "dump'.\n"
    )
    r = tk("get", "svc", "-A")
    names = [cells(line)[:2] for line in r.stdout.splitlines()[1:]]
    assert names == [["default", "kubernetes"], ["kube-system", "kube-dns"]]
