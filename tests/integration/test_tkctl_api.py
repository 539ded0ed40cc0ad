"""tkctl against the real API server (Flask app over a real Redis), served over HTTP in a thread
so that tkctl's real ApiClient does the talking: kubectl's messages end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from control.cli.main import cli
from control.cli.session import Session
from tests.integration.conftest import ADMIN_TOKEN

POD = """apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: web
    image: tinykube/web:1
"""


@pytest.fixture
def tk(server: str, tmp_path: Path) -> Any:
    def run(*args: str, input: str | None = None, token: str = ADMIN_TOKEN) -> Result:
        session = Session(server=server, token=token, env={}, home=str(tmp_path))
        return CliRunner().invoke(cli, list(args), obj=session, input=input)

    return run


def test_apply_get_describe_delete(tk: Any, tmp_path: Path) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(POD)
    r = tk("apply", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "pod/web created\n"), r.output
    r = tk("apply", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "pod/web unchanged\n"), r.output
    f.write_text(POD.replace("tinykube/web:1", "tinykube/web:2"))
    r = tk("apply", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "pod/web configured\n"), r.output

    r = tk("get", "pods")
    assert r.exit_code == 0, r.output
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[:4] == ["web", "0/1", "Pending", "0"]
    pod = yaml.safe_load(tk("get", "po/web", "-o", "yaml").stdout)
    assert pod["spec"]["containers"][0]["image"] == "tinykube/web:2"
    assert "kubectl.kubernetes.io/last-applied-configuration" in pod["metadata"]["annotations"]

    r = tk("describe", "pod", "web")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Name:         web\nNamespace:    default\n")
    assert "    Image:        tinykube/web:2\n" in r.stdout  # no status yet: no Container ID

    r = tk("delete", "pod", "web")  # unscheduled: gone at once, the wait ends on the 404
    assert (r.exit_code, r.stdout) == (0, 'pod "web" deleted from default namespace\n'), r.output
    r = tk("get", "pods")
    assert (r.exit_code, r.stderr) == (0, "No resources found in default namespace.\n")


def test_server_errors_in_kubectl_words(tk: Any, tmp_path: Path) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(POD)
    assert tk("create", "-f", str(f)).exit_code == 0
    r = tk("create", "-f", str(f))
    assert (r.exit_code, r.stderr) == (
        1,
        f'Error from server (AlreadyExists): error when creating "{f}": pods "web" already '
        "exists\n",
    )
    r = tk("get", "pod", "nope")
    assert (r.exit_code, r.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')

    f.write_text(POD.replace("name: web\n  labels", "name: Bad_Name\n  labels"))
    r = tk("create", "-f", str(f))
    assert r.exit_code == 1
    assert r.stderr.startswith('The Pod "Bad_Name" is invalid: metadata.name: Invalid value: ')

    f.write_text(
        POD.replace("name: web\n", "name: other\n").replace(
            "  containers:", "  bogus: 1\n  containers:"
        )
    )
    r = tk("apply", "-f", str(f))
    assert r.exit_code == 1
    assert r.stderr.startswith(f'Error from server (BadRequest): error when creating "{f}": ')
    assert 'unknown field "spec.bogus"' in r.stderr

    r = tk("get", "pods", token="wrong")
    assert r.exit_code == 1 and r.stderr.startswith("error: You must be logged in to the server")


def test_run_version_and_api_resources(tk: Any) -> None:
    r = tk("run", "sleeper", "--image=tinykube/sleeper:1", "--restart=Never", "--", "sleep", "9")
    assert (r.exit_code, r.stdout) == (0, "pod/sleeper created\n"), r.output
    pod = yaml.safe_load(tk("get", "pod", "sleeper", "-o", "yaml").stdout)
    assert pod["metadata"]["labels"] == {"run": "sleeper"}
    assert pod["spec"]["containers"][0]["args"] == ["sleep", "9"]
    assert pod["spec"]["restartPolicy"] == "Never"

    r = tk("version")
    assert r.exit_code == 0 and "Server Version: v1.35.0-tinykube" in r.stdout
    r = tk("api-resources", "-o", "name")
    assert r.exit_code == 0
    assert {"pods", "nodes", "namespaces", "events"} <= set(r.stdout.split())
    r = tk("get", "ns")
    assert r.exit_code == 0 and "default " in r.stdout
