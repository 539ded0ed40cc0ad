"""Service accounts on real Docker: a new namespace gets its ``default`` account and the
``kube-root-ca.crt`` ConfigMap, a pod finds its token, ``ca.crt`` and namespace at
/var/run/secrets/kubernetes.io/serviceaccount, the Service variables in its environment, and
reaches ``$KUBERNETES_SERVICE_HOST`` (through kube-proxy to the API's address on the Docker
bridge); from a Python image the request, its TLS verified with ca.crt, is authenticated as the
service account; tkctl makes accounts and tokens."""

from __future__ import annotations

import json

import docker
import pytest

from tests.e2e.conftest import Cluster, wait_for

NAMESPACE = "sa-e2e"
NS = ("-n", NAMESPACE)
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: sa-e2e}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: app, image: tinykube/sleeper:1}
"""
# busybox's TLS (1.35) offers only SHA-1 signatures, which OpenSSL 3 refuses at its default
# security level: from busybox the API is reached over TCP, and spoken to from Python. Every
# cluster on a host programs 10.96.0.1 in the one netfilter (tests run several at once), so the
# pods dial the address kube-proxy sends it to, the kubernetes Service's endpoint (kube-proxy's
# DNAT itself is test_service_proxy's); the Service variables are checked as they are given.
REACH = "nc -w 5 {host} {port} </dev/null && echo reached"
PYTHON_IMAGE = "tinykube/tinykube:dev"  # the compose demo's image (scripts/build-compose-image.sh)
WHOAMI = f"""
import json, os, ssl, urllib.request
base = "{MOUNT}"
tls = ssl.create_default_context(cafile=base + "/ca.crt")
token = open(base + "/token").read()
url = "https://%s:%s/apis/authentication.k8s.io/v1/selfsubjectreviews" % (
    os.environ["API_HOST"], os.environ["API_PORT"])
req = urllib.request.Request(url, data=b"{{}}", method="POST", headers={{
    "Authorization": "Bearer " + token, "Content-Type": "application/json"}})
print(urllib.request.urlopen(req, context=tls, timeout=10).read().decode())
"""
PYTHON_POD = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: python, namespace: sa-e2e}}
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  containers:
  - name: app
    image: {PYTHON_IMAGE}
    imagePullPolicy: Never
    command: [python3, -c, {json.dumps(WHOAMI)}]
    env:
    - {{name: API_HOST, value: "@HOST@"}}
    - {{name: API_PORT, value: "@PORT@"}}
"""


def _endpoint(cluster: Cluster) -> tuple[str, int]:
    """The kubernetes Service's endpoint: the API's address on the Docker bridge."""
    eps = cluster.json("get", "endpointslice", "kubernetes", "-n", "default")
    host = eps["endpoints"][0]["addresses"][0]
    assert host != "127.0.0.1" and eps["ports"][0]["port"] == cluster.port
    return host, cluster.port


def _sh(cluster: Cluster, command: str) -> str:
    out = cluster.tkctl("exec", "client", *NS, "--", "sh", "-c", command, check=False)
    assert out.returncode == 0, f"{command}: {out.stdout}{out.stderr}"
    return out.stdout


def test_a_pod_reaches_the_api_as_its_service_account(cluster: Cluster) -> None:
    cluster.tkctl("create", "namespace", NAMESPACE)
    wait_for("the default account", lambda: cluster.tkctl("get", "sa", "default", *NS,
                                                         check=False).returncode == 0)  # fmt: skip
    wait_for("the root CA", lambda: cluster.tkctl("get", "configmap", "kube-root-ca.crt", *NS,
                                                  check=False).returncode == 0)  # fmt: skip
    listing = cluster.tkctl("get", "sa", *NS).stdout.split()
    assert listing[:3] == ["NAME", "SECRETS", "AGE"] and listing[3:5] == ["default", "0"]
    cluster.tkctl("apply", "-f", "-", stdin=POD)
    wait_for("the pod running", lambda: cluster.json("get", "pod", "client", *NS)["status"]
             .get("phase") == "Running", timeout=90)  # fmt: skip
    assert _sh(cluster, f"cat {MOUNT}/namespace") == NAMESPACE
    ca = cluster.json("get", "configmap", "kube-root-ca.crt", *NS)["data"]["ca.crt"]
    assert _sh(cluster, f"cat {MOUNT}/ca.crt") == ca
    token = _sh(cluster, f"cat {MOUNT}/token")
    assert token.count(".") == 2
    env = _sh(cluster, "env")
    assert "KUBERNETES_SERVICE_HOST=" in env and "KUBERNETES_SERVICE_PORT=443" in env

    host, port = _endpoint(cluster)
    reach = REACH.format(host=host, port=port)
    assert wait_for("the API from the pod", lambda: "reached" in _sh(cluster, reach), timeout=30)


def test_a_python_pod_is_authenticated_as_its_service_account(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    """The pod verifies the API's certificate with its ca.crt at the kubernetes Service's
    address and presents its token, as load_incluster_config() makes a client do."""
    try:
        docker_client.images.get(PYTHON_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{PYTHON_IMAGE} is not built (scripts/build-compose-image.sh)")
    cluster.tkctl("create", "namespace", NAMESPACE, check=False)
    wait_for("the default account", lambda: cluster.tkctl("get", "sa", "default", *NS,
                                                         check=False).returncode == 0)  # fmt: skip
    host, port = _endpoint(cluster)
    cluster.tkctl(
        "apply", "-f", "-", stdin=PYTHON_POD.replace("@HOST@", host).replace("@PORT@", str(port))
    )
    wait_for("the pod done", lambda: cluster.json("get", "pod", "python", *NS)["status"]
             .get("phase") in ("Succeeded", "Failed"), timeout=120)  # fmt: skip
    logs = cluster.tkctl("logs", "python", *NS).stdout
    assert cluster.json("get", "pod", "python", *NS)["status"]["phase"] == "Succeeded", logs
    user = json.loads(logs)["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{NAMESPACE}:default"
    assert "system:serviceaccounts:sa-e2e" in user["groups"]


def test_tkctl_creates_accounts_and_tokens(cluster: Cluster) -> None:
    cluster.tkctl("create", "namespace", "sa-e2e-cli")
    out = cluster.tkctl("create", "serviceaccount", "robot", "-n", "sa-e2e-cli")
    assert out.stdout.strip() == "serviceaccount/robot created"
    token = cluster.tkctl("create", "token", "robot", "-n", "sa-e2e-cli", "--duration", "20m")
    assert token.stdout.strip().count(".") == 2
    refused = cluster.tkctl("create", "token", "ghost", "-n", "sa-e2e-cli", check=False)
    assert refused.returncode == 1
    assert 'serviceaccounts "ghost" not found' in refused.stderr
