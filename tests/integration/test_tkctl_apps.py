"""tkctl's workload commands against the real API server (Flask app over a real Redis, no
controllers), served over HTTP in a thread so that tkctl's real ApiClient does the talking: every
PATCH kind (strategic merge, JSON patch, merge patch of ``scale``) is accepted and means what
tkctl meant by it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from werkzeug.serving import make_server

from control.cli.main import cli
from control.cli.session import Session
from tests.integration.conftest import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]
TWO = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: tinykube/web:1
        ports: [{containerPort: 80}]
      - name: side
        image: tinykube/sleeper:1
"""


@pytest.fixture
def tk(app: Any, tmp_path: Path) -> Iterator[Any]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server = f"http://127.0.0.1:{httpd.server_port}"

    def run(*args: str, input: str | None = None) -> Result:
        session = Session(server=server, token=ADMIN_TOKEN, env={}, home=str(tmp_path))
        return CliRunner().invoke(cli, list(args), obj=session, input=input)

    try:
        yield run
    finally:
        httpd.shutdown()
        thread.join(10)


def get(tk: Any, *args: str) -> Any:
    r = tk("get", *args, "-o", "yaml")
    assert r.exit_code == 0, r.output
    return yaml.safe_load(r.stdout)


def test_apply_strategic_merge_keeps_defaults_and_deletes_removed_items(
    tk: Any, tmp_path: Path
) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(TWO)
    assert tk("apply", "-f", str(f)).stdout == "deployment.apps/web created\n"
    assert tk("apply", "-f", str(f)).stdout == "deployment.apps/web unchanged\n"
    before = get(tk, "deploy", "web")
    web = before["spec"]["template"]["spec"]["containers"][0]
    assert web["ports"] == [{"containerPort": 80, "protocol": "TCP"}]  # defaulted by the server
    f.write_text(
        TWO.replace("tinykube/web:1", "tinykube/web:2").replace(
            "      - name: side\n        image: tinykube/sleeper:1\n", ""
        )
    )
    r = tk("apply", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web configured\n"), r.output
    after = get(tk, "deploy", "web")
    [container] = after["spec"]["template"]["spec"]["containers"]
    assert container == {**web, "image": "tinykube/web:2"}
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1


def test_the_walkthrough_deployment_and_its_broken_form(tk: Any) -> None:
    r = tk("apply", "-f", str(ROOT / "examples" / "broken" / "deployment.yaml"))
    assert r.exit_code == 1
    assert "mapping values are not allowed in this context" in r.stderr
    assert tk("get", "deploy").stderr == "No resources found in default namespace.\n"
    r = tk("apply", "-f", str(ROOT / "examples" / "deployment.yaml"))
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/hello-kiamol-4 created\n"), r.output
    r = tk("get", "deployments.apps", "-o", "wide")
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                              "IMAGES", "SELECTOR"]  # fmt: skip
    cells = row.split()
    del cells[4]  # AGE
    assert cells == ["hello-kiamol-4", "0/1", "0", "0", "web", "tinykube/web:1",
                     "app=hello-kiamol-4"]  # fmt: skip


def test_scale_label_set_image_restart(tk: Any) -> None:
    r = tk("create", "deployment", "web", "--image=tinykube/web:1")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web created\n"), r.output
    r = tk("scale", "deploy/web", "--replicas=3")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web scaled\n"), r.output
    assert get(tk, "deploy", "web")["spec"]["replicas"] == 3
    r = tk("label", "deploy", "web", "tier=fe")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web labeled\n"), r.output
    r = tk("label", "deploy", "web", "tier=be")
    assert r.stderr == "error: 'tier' already has a value (fe), and --overwrite is false\n"
    r = tk("get", "deploy", "-l", "app=web,tier!=db,tier in (fe,x),!legacy", "-o", "name")
    assert r.stdout == "deployment.apps/web\n"
    r = tk("set", "image", "deployment/web", "web=tinykube/web:2")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web image updated\n"), r.output
    r = tk("rollout", "restart", "deploy/web")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web restarted\n"), r.output
    d = get(tk, "deploy", "web")
    tmpl = d["spec"]["template"]
    assert tmpl["spec"]["containers"][0]["image"] == "tinykube/web:2"
    assert "kubectl.kubernetes.io/restartedAt" in tmpl["metadata"]["annotations"]
    assert tmpl["spec"]["containers"][0]["terminationMessagePath"]  # server defaults kept
    # No controller runs here: the rollout cannot progress.
    r = tk("rollout", "status", "deploy/web", "--watch=false")
    assert (r.exit_code, r.stdout) == (0, "Waiting for deployment spec update to be observed...\n")
    r = tk("rollout", "status", "deploy/web", "--timeout=1s")
    assert (r.exit_code, r.stderr) == (1, "error: timed out waiting for the condition\n")


def test_rollout_undo_and_history_from_replicasets(tk: Any) -> None:
    assert tk("create", "deployment", "web", "--image=tinykube/web:2").exit_code == 0
    d = get(tk, "deploy", "web")
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
             "uid": d["metadata"]["uid"], "controller": True}  # fmt: skip
    for hash_, rev, image in (("aaa", 1, "tinykube/web:1"), ("bbb", 2, "tinykube/web:2")):
        labels = {"app": "web", "pod-template-hash": hash_}
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"web-{hash_}", "labels": labels, "ownerReferences": [owner],
                         "annotations": {"deployment.kubernetes.io/revision": str(rev)}},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}},
        }  # fmt: skip
        r = tk("create", "-f", "-", input=json.dumps(rs))
        assert (r.exit_code, r.stdout) == (0, f"replicaset.apps/web-{hash_} created\n"), r.output
    r = tk("rollout", "history", "deploy/web")
    assert r.stdout == (
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    )
    r = tk("rollout", "undo", "deploy/web")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web rolled back\n"), r.output
    tmpl = get(tk, "deploy", "web")["spec"]["template"]
    assert tmpl["spec"]["containers"][0]["image"] == "tinykube/web:1"
    assert tmpl["metadata"]["labels"] == {"app": "web"}  # no pod-template-hash
    r = tk("rollout", "undo", "deploy/web", "--to-revision=1")
    assert r.stdout == (
        "deployment.apps/web skipped rollback (current template already matches revision 1)\n"
    )
    r = tk("describe", "deploy", "web")
    assert r.exit_code == 0, r.output
    fields = dict(line.split(None, 1) for line in r.stdout.splitlines() if line[:1].isalpha())
    assert fields["NewReplicaSet:"] == "web-aaa (0/0 replicas created)"
    assert fields["OldReplicaSets:"] == "<none>"  # web-bbb has no replicas


def test_create_namespace_get_all_and_delete_with_cascade(tk: Any) -> None:
    r = tk("create", "namespace", "team")
    assert (r.exit_code, r.stdout) == (0, "namespace/team created\n"), r.output
    assert tk("create", "deploy", "web", "--image=tinykube/web:1", "-n", "team").exit_code == 0
    r = tk("get", "all", "-n", "team")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[1].startswith("deployment.apps/web ")
    r = tk("get", "all")
    assert (r.exit_code, r.stderr) == (0, "No resources found in default namespace.\n")
    r = tk("delete", "deploy", "web", "-n", "team", "--cascade=orphan", "--wait=false")
    assert (r.exit_code, r.stdout) == (0, 'deployment.apps "web" deleted from team namespace\n')
    d = get(tk, "deploy", "web", "-n", "team")  # no garbage collector here to finish it
    assert d["metadata"]["finalizers"] == ["orphan"] and d["metadata"]["deletionTimestamp"]
    assert tk("create", "deploy", "other", "--image=tinykube/web:1", "-n", "team").exit_code == 0
    r = tk("delete", "deployment", "other", "-n", "team")
    assert (r.exit_code, r.stdout) == (0, 'deployment.apps "other" deleted from team namespace\n')
    r = tk("get", "deploy", "other", "-n", "team")
    assert r.stderr == 'Error from server (NotFound): deployments.apps "other" not found\n'
