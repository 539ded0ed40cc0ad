"""tkctl's write commands (apply, create, run, delete) and logs, driven through click's CliRunner
against ``FakeApi``, an in-memory FAKE of the API client."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.manifest import LAST_APPLIED
from tests.unit.cli_fake import FakeApi, running_pod, tk


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


# -- apply / create -------------------------------------------------------------------------------

POD_YAML = """apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: fe}
spec:
  containers:
  - name: c
    image: nginx:1
"""


def test_apply_creates_then_is_unchanged_then_configured(api: FakeApi, tmp_path: Path) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(POD_YAML)
    r = tk(api, "apply", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "pod/web created\n"), r.output
    created = api.calls[-1]
    assert created[0] == "create" and created[3] == "default"
    body = created[2]
    assert body["metadata"]["namespace"] == "default"
    assert json.loads(body["metadata"]["annotations"][LAST_APPLIED])["metadata"]["name"] == "web"

    r = tk(api, "apply", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "pod/web unchanged\n")
    assert "patch" not in api.verbs()

    f.write_text(POD_YAML.replace("nginx:1", "nginx:2").replace(", tier: fe", ""))
    r = tk(api, "apply", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "pod/web configured\n")
    _, _, name, patch, patch_type = api.calls[-1]
    assert (name, patch_type) == ("web", "application/strategic-merge-patch+json")
    assert patch["metadata"]["labels"] == {"tier": None}
    assert patch["spec"] == {
        "$setElementOrder/containers": [{"name": "c"}],
        "containers": [{"name": "c", "image": "nginx:2"}],
    }
    assert LAST_APPLIED in patch["metadata"]["annotations"]


def test_apply_multi_document_reports_each_failure(api: FakeApi, tmp_path: Path) -> None:
    f = tmp_path / "all.yaml"
    f.write_text(
        POD_YAML + "---\napiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: x\n"
        "---\n" + POD_YAML.replace("web", "db")
    )
    api.add("pods", yaml.safe_load(POD_YAML.replace("web", "db")))
    r = tk(api, "create", "-f", str(f))
    assert r.exit_code == 1
    assert r.stdout == "pod/web created\n"
    assert r.stderr == (
        f'error: resource mapping not found for name: "x" namespace: "" from "{f}": no matches '
        'for kind "Deploymnet" in version "apps/v1"\nensure CRDs are installed first\n'
        f'Error from server (AlreadyExists): error when creating "{f}": pods "db" already exists\n'
    )


def test_apply_client_side_errors_send_nothing(api: FakeApi, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a: b\n")
    r = tk(api, "apply", "-f", str(f))
    assert r.exit_code == 1
    assert r.stderr == (
        f"error: error parsing {f}: error converting YAML to JSON: yaml: line 4: mapping values "
        "are not allowed in this context\n"
    )
    f.write_text(POD_YAML.replace("apiVersion", "appVersion"))
    r = tk(api, "apply", "-f", str(f))
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f'error: error validating "{f}": error validating data: apiVersion not set; if you '
        "choose to ignore these errors, turn validation off with --validate=false",
        'unknown field "appVersion" (did you mean "apiVersion"?)',
    ]
    assert api.calls == []
    r = tk(api, "apply", "-f", str(f), "--validate=false")
    assert r.exit_code == 1 and 'no matches for kind "Pod" in version ""' in r.stderr


def test_apply_stdin_directory_and_no_objects(api: FakeApi, tmp_path: Path) -> None:
    r = tk(api, "apply", "-f", "-", input=POD_YAML)
    assert (r.exit_code, r.stdout) == (0, "pod/web created\n")
    (tmp_path / "b.yaml").write_text(POD_YAML.replace("web", "b"))
    (tmp_path / "a.json").write_text(json.dumps(yaml.safe_load(POD_YAML.replace("web", "a"))))
    r = tk(api, "apply", "-f", str(tmp_path))
    assert r.stdout == "pod/a created\npod/b created\n"
    (tmp_path / "empty").mkdir()
    r = tk(api, "apply", "-f", str(tmp_path / "empty"))
    assert (r.exit_code, r.stderr) == (1, "error: no objects passed to apply\n")
    r = tk(api, "apply")
    assert r.exit_code == 1 and r.stderr.startswith("error: must specify one of -f and -k\n")


def test_create_invalid_and_namespace_clash(api: FakeApi, tmp_path: Path) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(POD_YAML.replace("name: web", "name: Web"))
    r = tk(api, "create", "-f", str(f))
    assert (r.exit_code, r.stderr) == (
        1,
        'The Pod "Web" is invalid: metadata.name: Invalid value: "Web": a lowercase RFC 1123 '
        "subdomain\n",
    )
    f.write_text(POD_YAML.replace("  name: web", "  name: web\n  namespace: a"))
    r = tk(api, "apply", "-f", str(f), "-n", "b")
    assert r.exit_code == 1
    assert r.stderr == (
        'error: the namespace from the provided object "a" does not match the namespace "b". '
        "You must pass '--namespace=a' to perform this operation.\n"
    )
    r = tk(api, "create", "-f", str(f))
    assert r.stdout == "pod/web created\n" and api.calls[-1][3] == "a"


def test_unreachable_server(api: FakeApi, tmp_path: Path) -> None:
    api.unreachable = True
    r = tk(api, "get", "pods")
    assert (r.exit_code, r.stderr) == (
        1,
        "The connection to the server fake:6443 was refused - did you specify the right host "
        "or port?\n",
    )
    f = tmp_path / "two.yaml"
    f.write_text(POD_YAML + "---\n" + POD_YAML.replace("web", "db"))
    r = tk(api, "apply", "-f", str(f))
    assert r.exit_code == 1 and r.stderr.count("was refused") == 1


# -- run / delete / logs --------------------------------------------------------------------------


def test_run(api: FakeApi) -> None:
    r = tk(api, "run", "web", "--image=nginx", "--port=80", "--env=A=1", "--", "sleep", "10")
    assert (r.exit_code, r.stdout) == (0, "pod/web created\n"), r.output
    body = api.calls[-1][2]
    assert body["metadata"] == {"name": "web", "labels": {"run": "web"}, "namespace": "default"}
    assert body["spec"] == {
        "restartPolicy": "Always",
        "containers": [
            {
                "name": "web",
                "image": "nginx",
                "args": ["sleep", "10"],
                "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 80}],
            }
        ],
    }
    r = tk(
        api,
        "run",
        "x",
        "--image=busybox",
        "--command",
        "-l",
        "a=b",
        "--restart=Never",
        "--dry-run=client",
        "-o",
        "yaml",
        "--",
        "sh",
        "-c",
        "echo hi",
    )
    pod = yaml.safe_load(r.stdout)
    assert pod["metadata"]["labels"] == {"a": "b"} and pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["command"] == ["sh", "-c", "echo hi"]
    assert len([c for c in api.calls if c[0] == "create"]) == 1
    r = tk(api, "run", "y")
    assert r.exit_code == 1
    assert r.stderr == (
        "error: required flag(s) \"image\" not set\nSee 'tkctl run -h' for help and examples.\n"
    )


def test_delete_waits_until_gone(api: FakeApi) -> None:
    api.add("pods", running_pod("web"))
    api.linger["web"] = 3
    r = tk(api, "delete", "pod", "web")
    assert (r.exit_code, r.stdout) == (0, 'pod "web" deleted from default namespace\n'), r.output
    assert api.calls[0] == ("delete", "pods", "web", "default", None, "Background")
    assert api.verbs()[1:] == ["get", "get", "get", "get"]
    assert ("pods", "default", "web") not in api.objects


def test_delete_stops_waiting_when_the_name_holds_a_new_object(api: FakeApi) -> None:
    """A StatefulSet makes its pod again under the same name: kubectl waits by uid."""
    pod = running_pod("web-1")
    pod["metadata"]["uid"] = "old-uid"
    api.add("pods", pod)
    api.linger["web-1"] = 100
    deleting = api.delete
    replacement = copy.deepcopy(pod)
    replacement["metadata"]["uid"] = "new-uid"

    def delete_and_recreate(*args: Any, **kwargs: Any) -> Any:
        answer = deleting(*args, **kwargs)
        api.objects[("pods", "default", "web-1")] = replacement
        return answer

    api.delete = delete_and_recreate  # type: ignore[method-assign]
    r = tk(api, "delete", "pod", "web-1")
    assert (r.exit_code, r.stdout) == (0, 'pod "web-1" deleted from default namespace\n')
    assert api.verbs()[1:] == ["get"]


def test_delete_flags_and_errors(api: FakeApi) -> None:
    api.add("pods", running_pod("a"))
    api.add("pods", running_pod("b"))
    api.add("nodes", {"metadata": {"name": "n1"}})
    r = tk(api, "delete", "pod/a", "--force", "--cascade=foreground", "--wait=false")
    assert r.exit_code == 0 and "Immediate deletion" in r.stderr
    assert api.calls[-1] == ("delete", "pods", "a", "default", 0, "Foreground")
    r = tk(api, "delete", "pods", "b", "nope", "--grace-period=0")
    assert r.exit_code == 1
    assert r.stdout == 'pod "b" deleted from default namespace\n'
    assert r.stderr == 'Error from server (NotFound): pods "nope" not found\n'
    assert ("delete", "pods", "b", "default", 1, "Background") in api.calls
    assert tk(api, "delete", "pod", "nope", "--ignore-not-found").exit_code == 0
    r = tk(api, "delete", "node", "n1")
    assert r.stdout == 'node "n1" deleted\n'
    r = tk(api, "delete", "pods")
    assert (r.exit_code, r.stderr) == (
        1,
        "error: resource(s) were provided, but no name was specified\n",
    )
    r = tk(api, "delete")
    assert r.exit_code == 1 and "You must provide one or more resources" in r.stderr


def test_delete_by_selector_and_file(api: FakeApi, tmp_path: Path) -> None:
    api.add("pods", running_pod("a"))
    api.add("pods", running_pod("b"))
    r = tk(api, "delete", "pods", "-l", "app=b")
    assert r.stdout == 'pod "b" deleted from default namespace\n'
    r = tk(api, "delete", "pods", "--all")
    assert r.stdout == 'pod "a" deleted from default namespace\n'
    r = tk(api, "delete", "pods", "--all")
    assert (r.exit_code, r.stderr) == (0, "No resources found\n")
    f = tmp_path / "pod.yaml"
    f.write_text(POD_YAML)
    r = tk(api, "delete", "-f", str(f))
    assert r.exit_code == 1
    assert r.stderr == (
        f'Error from server (NotFound): error when deleting "{f}": pods "web" not found\n'
    )


def test_logs(api: FakeApi) -> None:
    api.add("pods", running_pod("web"))
    r = tk(api, "logs", "web", "--tail", "5", "-f", "--timestamps")
    assert (r.exit_code, r.stdout) == (0, "line 1\nline 2\n"), r.output
    assert api.calls[-1] == (
        "stream",
        "/api/v1/namespaces/default/pods/web/log",
        {
            "container": "c",
            "tailLines": 5,
            "follow": "true",
            "previous": None,
            "timestamps": "true",
            "sinceSeconds": None,
            "limitBytes": None,
        },
    )
    two = running_pod("two")
    two["spec"]["containers"].append({"name": "side", "image": "busybox"})
    api.add("pods", two)
    r = tk(api, "logs", "pod/two")
    assert (r.exit_code, r.stderr) == (
        1,
        "error: a container name must be specified for pod two, choose one of: [c side]\n",
    )
    r = tk(api, "logs", "two", "-c", "side", "--previous", "--since=1m30s")
    assert r.exit_code == 0
    assert api.calls[-1][2]["container"] == "side" and api.calls[-1][2]["sinceSeconds"] == 90
    r = tk(api, "logs", "two", "-c", "nope")
    assert r.stderr == "error: container nope is not valid for pod two\n"
    r = tk(api, "logs", "missing")
    assert (r.exit_code, r.stderr) == (
        1,
        'Error from server (NotFound): pods "missing" not found\n',
    )
