"""tkctl's read commands (get, describe, version, api-resources), configuration and usage errors,
driven through click's CliRunner against ``FakeApi``, an in-memory FAKE of the API client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from common import errors
from control.cli.main import cli
from control.cli.session import Session
from tests.unit.cli_fake import NOW, FakeApi, running_pod, tk, ts


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


# -- get ------------------------------------------------------------------------------------------


def test_get_pods_table(api: FakeApi) -> None:
    api.add("pods", running_pod("web-7d4b9c8f5d-x2k9p"))
    api.add("pods", running_pod("db"))
    api.add("pods", running_pod("other", namespace="kube-system"))
    r = tk(api, "get", "pods")
    assert r.exit_code == 0, r.output
    assert r.stdout == (
        "NAME                   READY   STATUS    RESTARTS   AGE\n"
        "db                     1/1     Running   0          5m12s\n"
        "web-7d4b9c8f5d-x2k9p   1/1     Running   0          5m12s\n"
    )
    assert ("list", "pods", "default", None, None) in api.calls


def test_get_wide_all_namespaces_and_labels(api: FakeApi) -> None:
    api.add("pods", running_pod("web"))
    api.add("pods", running_pod("dns", namespace="kube-system"))
    r = tk(api, "get", "po", "-A", "-o", "wide", "--show-labels")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == [
        "NAMESPACE",
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
        "LABELS",
    ]
    assert lines[1].split() == [
        "default",
        "web",
        "1/1",
        "Running",
        "0",
        "5m12s",
        "10.0.0.5",
        "node-1",
        "<none>",
        "<none>",
        "app=web",
    ]
    assert lines[2].startswith("kube-system   dns ")
    assert ("list", "pods", None, None, None) in api.calls


def test_get_empty_is_not_an_error(api: FakeApi) -> None:
    r = tk(api, "get", "pods")
    assert (r.exit_code, r.stdout, r.stderr) == (
        0,
        "",
        "No resources found in default namespace.\n",
    )
    r = tk(api, "get", "nodes")
    assert (r.exit_code, r.stderr) == (0, "No resources found\n")
    r = tk(api, "get", "pods", "-A")
    assert r.stderr == "No resources found\n"
    r = tk(api, "-n", "kube-system", "get", "pods")  # a global flag before the command
    assert r.stderr == "No resources found in kube-system namespace.\n"


def test_get_missing_name(api: FakeApi) -> None:
    api.add("pods", running_pod("web"))
    r = tk(api, "get", "pods", "web", "nope")
    assert r.exit_code == 1
    assert r.stderr == 'Error from server (NotFound): pods "nope" not found\n'
    assert r.stdout.splitlines()[1].startswith("web ")
    r = tk(api, "get", "pod/nope", "--ignore-not-found")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")


def test_get_unknown_type_and_usage(api: FakeApi) -> None:
    r = tk(api, "get", "foo")
    assert (r.exit_code, r.stderr) == (1, 'error: the server doesn\'t have a resource type "foo"\n')
    r = tk(api, "get")
    assert r.exit_code == 1
    assert r.stderr.endswith("See 'tkctl get -h' for help and examples.\n")
    r = tk(api, "get", "pods", "-o", "bogus")
    assert r.exit_code == 1 and 'output format "bogus"' in r.stderr
    r = tk(api, "get", "pods", "pod/web")
    assert r.exit_code == 1 and "there is no need to specify a resource type" in r.stderr


def test_get_yaml_json_name(api: FakeApi) -> None:
    api.add("pods", running_pod("web"))
    api.add("pods", running_pod("db"))
    one = yaml.safe_load(tk(api, "get", "pod/web", "-o", "yaml").stdout)
    assert (one["kind"], one["apiVersion"], one["metadata"]["name"]) == ("Pod", "v1", "web")
    many = json.loads(tk(api, "get", "pods", "-o", "json").stdout)
    assert many["kind"] == "List" and many["apiVersion"] == "v1"
    assert [(i["kind"], i["metadata"]["name"]) for i in many["items"]] == [
        ("Pod", "db"),
        ("Pod", "web"),
    ]
    assert tk(api, "get", "pods", "-o", "name").stdout == "pod/db\npod/web\n"
    empty = json.loads(tk(api, "get", "nodes", "-o", "json").stdout)
    assert empty["items"] == []


def test_get_hides_managed_fields_unless_asked(api: FakeApi) -> None:
    pod = running_pod("web")
    pod["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply"}]
    api.add("pods", pod)
    one = yaml.safe_load(tk(api, "get", "pod/web", "-o", "yaml").stdout)
    assert "managedFields" not in one["metadata"]
    many = json.loads(tk(api, "get", "pods", "-o", "json").stdout)
    assert "managedFields" not in many["items"][0]["metadata"]
    shown = json.loads(tk(api, "get", "pod/web", "-o", "json", "--show-managed-fields").stdout)
    assert shown["metadata"]["managedFields"][0]["manager"] == "kubectl"


def test_get_several_types_prefixes_names(api: FakeApi) -> None:
    api.add("pods", running_pod("web"))
    api.add(
        "nodes",
        {
            "metadata": {"name": "node-1"},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.35"},
            },
        },
    )
    r = tk(api, "get", "pods,nodes")
    assert r.exit_code == 0, r.output
    tables = r.stdout.split("\n\n")
    assert tables[0].splitlines()[1].startswith("pod/web ")
    assert tables[1].splitlines()[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert tables[1].splitlines()[1].split() == ["node/node-1", "Ready", "<none>", "5m", "v1.35"]


def test_get_selectors_are_sent(api: FakeApi) -> None:
    api.add("pods", running_pod("web"))
    api.add("pods", running_pod("db"))
    r = tk(api, "get", "pods", "-l", "app=db", "--field-selector", "spec.nodeName=node-1")
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["NAME", "db"]
    assert ("list", "pods", "default", "app=db", "spec.nodeName=node-1") in api.calls


def test_get_watch_prints_a_row_per_change(api: FakeApi) -> None:
    api.add("pods", running_pod("web"))
    pending = running_pod("a-much-longer-name")
    pending["status"] = {"phase": "Pending"}
    api.watch_events = [
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "200"}}},
        {"type": "ADDED", "object": pending},
        {"type": "DELETED", "object": running_pod("web")},
    ]
    r = tk(api, "get", "pods", "-w")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "NAME   READY   STATUS    RESTARTS   AGE",
        "web    1/1     Running   0          5m12s",
        # columns only grow (kubectl's RememberWidths), so later rows stay aligned
        "a-much-longer-name   0/1     Pending   0          5m12s",
        "web                  1/1     Running   0          5m12s",
    ]
    assert ("watch", "pods", "default", str(api.rv), None) in api.calls


# -- describe / version / api-resources / config --------------------------------------------------


def test_describe_pod(api: FakeApi) -> None:
    pod = running_pod("web")
    pod["status"].update(
        {
            "hostIP": "172.18.0.2",
            "startTime": "2024-05-01T11:54:48Z",
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    )
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "TCP"}]
    api.add("pods", pod)
    api.add(
        "events",
        {
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {
                "kind": "Pod",
                "name": "web",
                "namespace": "default",
                "uid": "uid-web",
            },
            "type": "Normal",
            "reason": "Scheduled",
            "source": {"component": "default-scheduler"},
            "message": "Successfully assigned default/web to node-1",
            "firstTimestamp": ts(10),
            "lastTimestamp": ts(10),
            "count": 1,
        },
    )
    r = tk(api, "describe", "pod", "web")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[:4] == [
        "Name:         web",
        "Namespace:    default",
        "Priority:     0",
        "Node:         node-1/172.18.0.2",
    ]
    assert "Start Time:   Wed, 01 May 2024 11:54:48 +0000" in lines
    assert "Labels:       app=web" in lines
    assert "    Port:           80/TCP" in lines
    assert "    State:          Running" in lines
    assert "    Environment:    <none>" in lines
    assert lines[-4:] == [
        "Events:",
        "  Type    Reason     Age   From               Message",
        "  ----    ------     ----  ----               -------",
        "  Normal  Scheduled  10s   default-scheduler  Successfully assigned default/web to node-1",
    ]
    field_selector = next(c[4] for c in api.calls if c[:2] == ("list", "events"))
    assert field_selector == (
        "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=uid-web"
    )
    r = tk(api, "describe", "pod", "we")  # kubectl's prefix match
    assert r.stdout.startswith("Name:         web\n")
    r = tk(api, "describe", "pod", "zzz")
    assert (r.exit_code, r.stderr) == (1, 'Error from server (NotFound): pods "zzz" not found\n')


def test_version_and_api_resources(api: FakeApi) -> None:
    r = tk(api, "version")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[1] == "Server Version: v1.35.0-tinykube"
    assert r.stdout.startswith("Client Version: v")
    api.unreachable = True
    r = tk(api, "version")
    assert r.exit_code == 1 and "Server Version" not in r.stdout and "refused" in r.stderr
    api.unreachable = False
    r = tk(api, "api-resources")
    assert r.stdout.splitlines() == [
        "NAME     SHORTNAMES   APIVERSION               NAMESPACED   KIND",
        "pods     po           v1                       true         Pod",
        "nodes    no           v1                       false        Node",
        "leases                coordination.k8s.io/v1   true         Lease",
    ]
    r = tk(api, "api-resources", "-o", "name", "--namespaced=true")
    assert r.stdout == "pods\nleases.coordination.k8s.io\n"


def test_missing_kubeconfig_and_unknown_command(api: FakeApi, tmp_path: Path) -> None:
    r = tk(api, "get", "pods", server=None, home=str(tmp_path))
    assert r.exit_code == 1
    assert r.stderr.startswith("error: no configuration has been provided")
    r = tk(api, "get", "pods", server=None, kubeconfig=str(tmp_path / "nope"))
    assert r.exit_code == 1 and r.stderr.startswith("error: stat ")
    r = tk(api, "frobnicate")
    assert (r.exit_code, r.stderr) == (
        1,
        'error: unknown command "frobnicate" for "tkctl"\nSee \'tkctl -h\' for help and '
        "examples.\n",
    )


def test_kubeconfig_context_namespace_and_token(api: FakeApi, tmp_path: Path) -> None:
    from common.kubeconfig import write_kubeconfig

    path = tmp_path / "kc.yaml"
    write_kubeconfig(str(path), "http://from-file:1", "tok")
    seen: list[Any] = []

    def factory(cfg: Any) -> FakeApi:
        seen.append(cfg)
        return api

    obj = Session(client_factory=factory, now=lambda: NOW, env={"KUBECONFIG": str(path)})
    r = CliRunner().invoke(cli, ["get", "pods", "--token", "override"], obj=obj)
    assert r.exit_code == 0, r.output
    assert (seen[0].server, seen[0].token, seen[0].namespace) == (
        "http://from-file:1",
        "override",
        "default",
    )
    assert api.closed


def test_kubectl_boolean_flag_syntax(api: FakeApi) -> None:
    api.add("pods", running_pod("a"))
    api.linger["a"] = 5
    r = tk(api, "delete", "pod", "a", "--wait=false", "--ignore-not-found=true")
    assert r.exit_code == 0 and api.verbs() == ["delete"]  # no polling
    r = tk(api, "delete", "pod", "a", "--force=maybe")
    assert r.exit_code == 1
    assert r.stderr == (
        'error: invalid argument "maybe" for "--force" flag: strconv.ParseBool: parsing "maybe": '
        "invalid syntax\nSee 'tkctl delete -h' for help and examples.\n"
    )
    r = tk(api, "get", "pods", "-n")
    assert (
        r.stderr == "error: flag needs an argument: -n\nSee 'tkctl get -h' for help and examples.\n"
    )


def test_describe_node_and_get_events(api: FakeApi) -> None:
    api.add("nodes", {
        "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"},
                     "creationTimestamp": "2024-05-01T10:00:00Z"},
        "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": "2024-05-01T11:59:50Z",
                            "lastTransitionTime": "2024-05-01T10:00:05Z"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
            "capacity": {"cpu": "2", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.35.0-tinykube", "osImage": "Debian 12"},
        },
    })  # fmt: skip
    api.add("events", {
        "metadata": {"name": "node-1.1", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": "node-1"}, "type": "Normal",
        "reason": "NodeReady", "message": "Node node-1 status is now: NodeReady",
        "source": {"component": "kubelet"}, "firstTimestamp": ts(600), "lastTimestamp": ts(60),
        "count": 3,
    })  # fmt: skip
    r = tk(api, "describe", "no/node-1")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[:3] == ["Name:               node-1", "Roles:              <none>",
                         "Labels:             kubernetes.io/hostname=node-1"]  # fmt: skip
    assert "Taints:             k=v:NoSchedule" in lines
    assert "  InternalIP:  172.18.0.2" in lines
    assert "  Kubelet Version:            v1.35.0-tinykube" in lines
    assert (
        lines[-1]
        == "  Normal  NodeReady  60s (x3 over 10m)  kubelet  Node node-1 status is now: NodeReady"
    )
    assert ("list", "events", None, None,
            "involvedObject.name=node-1,involvedObject.kind=Node") in api.calls  # fmt: skip
    r = tk(api, "get", "events")
    assert r.stdout.splitlines() == [
        "LAST SEEN   TYPE     REASON      OBJECT        MESSAGE",
        "60s         Normal   NodeReady   node/node-1   Node node-1 status is now: NodeReady",
    ]


def test_api_resources_without_discovery(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_discovery(method: str, path: str, **kw: Any) -> Any:
        raise errors.NotFoundError("the server could not find the requested resource")

    monkeypatch.setattr(api, "request_json", no_discovery)
    r = tk(api, "api-resources", "--no-headers")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0].split() == ["pods", "po", "v1", "true", "Pod"]


def test_no_arguments_prints_help(api: FakeApi) -> None:
    r = tk(api)
    assert r.exit_code == 0 and r.stdout.startswith("Usage: tkctl [OPTIONS] COMMAND [ARGS]...")
    r = tk(api, "get", "pods", "web", "-l", "app=web")
    assert r.stderr == "error: name cannot be provided when a selector is specified\n"
