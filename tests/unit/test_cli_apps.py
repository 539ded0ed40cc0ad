"""tkctl on Deployments and ReplicaSets (get, describe, label, scale, rollout, set image, create,
delete, apply), driven through click's CliRunner against ``FakeApi``, an in-memory FAKE of the API
client; the real server is exercised by tests/e2e/test_deployments.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from common import errors
from common.manifest import LAST_APPLIED
from tests.unit.cli_fake import FakeApi, running_pod, tk

REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


def template(app: str, image: str, hash_: str | None = None) -> dict[str, Any]:
    labels = {"app": app, **({"pod-template-hash": hash_} if hash_ else {})}
    return {
        "metadata": {"labels": labels},
        "spec": {
            "containers": [
                {"name": "web", "image": image, "ports": [{"containerPort": 80, "protocol": "TCP"}]}
            ]
        },
    }


def deployment(
    name: str = "web",
    replicas: int = 3,
    image: str = "tinykube/web:2",
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    full = {"observedGeneration": 2, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas, **(status or {})}  # fmt: skip
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "generation": 2, "labels": {"app": name},
                     "annotations": {REVISION: "2"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "template": template(name, image)},
        "status": full,
    }  # fmt: skip


def replicaset(owner: str, hash_: str, rev: int, image: str, replicas: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{owner}-{hash_}", "uid": f"uid-rs-{hash_}",
            "labels": {"app": owner, "pod-template-hash": hash_},
            "annotations": {REVISION: str(rev)},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner,
                                 "uid": f"uid-{owner}", "controller": True}],
        },
        "spec": {"replicas": replicas,
                 "selector": {"matchLabels": {"app": owner, "pod-template-hash": hash_}},
                 "template": template(owner, image, hash_)},
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }  # fmt: skip


def owned_pod(name: str, rs: str, hash_: str, phase: str = "Running") -> dict[str, Any]:
    pod = running_pod(name)
    pod["metadata"]["labels"] = {"app": rs.rsplit("-", 1)[0], "pod-template-hash": hash_}
    pod["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": rs, "uid": f"uid-rs-{hash_}", "controller": True}
    ]
    pod["status"]["phase"] = phase
    return pod


@pytest.fixture
def rolled(api: FakeApi) -> FakeApi:
    """Deployment web at revision 2 (tinykube/web:2) after a rollout from revision 1."""
    api.add("deployments", deployment())
    api.add("replicasets", replicaset("web", "aaa", 1, "tinykube/web:1", 0))
    api.add("replicasets", replicaset("web", "bbb", 2, "tinykube/web:2", 3))
    api.add("replicasets", replicaset("other", "ccc", 1, "x", 1))  # another owner's
    for i in range(3):
        api.add("pods", owned_pod(f"web-bbb-{i}", "web-bbb", "bbb"))
    return api


# -- get ------------------------------------------------------------------------------------------


def test_get_deployments_and_replicasets_with_short_names(rolled: FakeApi) -> None:
    r = tk(rolled, "get", "deploy")
    assert (r.exit_code, r.stdout) == (0, (
        "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n"
        "web    3/3     3            3           5m\n"
    ))  # fmt: skip
    r = tk(rolled, "get", "rs", "-o", "wide", "-l", "app=web")
    assert r.stdout.splitlines() == [
        "NAME      DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES           SELECTOR",
        "web-aaa   0         0         0       5m    web          tinykube/web:1   app=web,pod-template-hash=aaa",  # noqa: E501
        "web-bbb   3         3         3       5m    web          tinykube/web:2   app=web,pod-template-hash=bbb",  # noqa: E501
    ]
    for name in ("deployment", "deployments", "deployments.apps", "Deployment"):
        assert tk(rolled, "get", name, "web", "-o", "name").stdout == "deployment.apps/web\n"


def test_get_all_groups_kinds_with_prefixes_and_blank_lines(rolled: FakeApi) -> None:
    r = tk(rolled, "get", "all", "-l", "app=web")
    assert r.exit_code == 0, r.output
    blocks = r.stdout.split("\n\n")
    assert [b.splitlines()[0].split()[:2] for b in blocks] == [
        ["NAME", "READY"], ["NAME", "READY"], ["NAME", "DESIRED"]]  # fmt: skip
    assert blocks[0].splitlines()[1].startswith("pod/web-bbb-0 ")
    assert blocks[1].splitlines()[1].startswith("deployment.apps/web ")
    assert [line.split()[0] for line in blocks[2].splitlines()[1:]] == [
        "replicaset.apps/web-aaa", "replicaset.apps/web-bbb"]  # fmt: skip


def test_get_with_set_based_selector(rolled: FakeApi) -> None:
    rolled.add("pods", running_pod("legacy-1", labels={"app": "web", "legacy": "y"}))
    rolled.add("pods", running_pod("db-1", labels={"app": "db", "tier": "db"}))
    rolled.add("pods", running_pod("a-1", labels={"app": "web", "env": "a", "tier": "fe"}))
    sel = "app=web,tier!=db,env in (a,b),!legacy"
    r = tk(rolled, "get", "pods", "-l", sel, "-o", "name")
    assert (r.exit_code, r.stdout) == (0, "pod/a-1\n")
    assert ("list", "pods", "default", sel, None) in rolled.calls


class GoneOnceApi(FakeApi):
    """A FAKE whose first watch answers 410 Expired (as after a compaction), once ``meanwhile``
    has changed the objects."""

    def __init__(self) -> None:
        super().__init__()
        self.watches = 0

    def meanwhile(self) -> None:
        a = self.objects[("deployments", "default", "a")]
        a["status"]["readyReplicas"] = 1
        a["metadata"]["resourceVersion"] = "200"
        del self.objects[("deployments", "default", "b")]
        self.add("deployments", deployment("c", replicas=1))

    def watch(self, r: Any, namespace: Any = None, **kw: Any) -> Any:
        self.watches += 1
        self.calls.append(("watch", r.plural, kw.get("resource_version")))
        if self.watches == 1:
            self.meanwhile()
            raise errors.GoneError("too old resource version: 10 (105)")
        yield from self.watch_events


def test_get_watch_relists_on_410_and_prints_only_what_changed() -> None:
    api = GoneOnceApi()
    api.add("deployments", deployment("a"))
    api.add("deployments", deployment("b"))
    live = deployment("c", replicas=1, status={"readyReplicas": 0})
    live["metadata"]["resourceVersion"] = "300"
    api.watch_events = [{"type": "MODIFIED", "object": live}]
    r = tk(api, "get", "deploy", "-w")
    assert r.exit_code == 0, r.output
    assert [line.split()[:2] for line in r.stdout.splitlines()] == [
        ["NAME", "READY"], ["a", "3/3"], ["b", "3/3"],  # the list
        ["b", "3/3"], ["a", "1/3"], ["c", "1/1"],  # the re-list: b gone, a changed, c new
        ["c", "0/1"],  # the watch again
    ]  # fmt: skip
    watches = [c for c in api.calls if c[0] == "watch"]
    assert [w[2] for w in watches] == ["102", "103"]  # each from the list it followed


# -- describe -------------------------------------------------------------------------------------


def test_describe_deployment_layout_and_related_objects(rolled: FakeApi) -> None:
    rolled.add("events", {
        "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Deployment", "name": "web", "namespace": "default",
                           "uid": "uid-web"},
        "type": "Normal", "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set web-bbb from 0 to 3",
        "source": {"component": "deployment-controller"},
        "firstTimestamp": "2024-05-01T11:59:00Z", "lastTimestamp": "2024-05-01T11:59:00Z",
        "count": 1,
    })  # fmt: skip
    rolled.objects[("deployments", "default", "web")]["status"]["conditions"] = [
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
    ]
    r = tk(rolled, "describe", "deploy", "web")
    assert r.exit_code == 0, r.output
    assert r.stdout == (
        "Name:                   web\n"
        "Namespace:              default\n"
        "CreationTimestamp:      Wed, 01 May 2024 11:55:00 +0000\n"
        "Labels:                 app=web\n"
        "Annotations:            deployment.kubernetes.io/revision: 2\n"
        "Selector:               app=web\n"
        "Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable\n"
        "StrategyType:           RollingUpdate\n"
        "MinReadySeconds:        0\n"
        "RollingUpdateStrategy:  25% max unavailable, 25% max surge\n"
        "Pod Template:\n"
        "  Labels:  app=web\n"
        "  Containers:\n"
        "   web:\n"
        "    Image:         tinykube/web:2\n"
        "    Port:          80/TCP\n"
        "    Host Port:     0/TCP\n"
        "    Environment:   <none>\n"
        "    Mounts:        <none>\n"
        "  Volumes:         <none>\n"
        "  Node-Selectors:  <none>\n"
        "  Tolerations:     <none>\n"
        "Conditions:\n"
        "  Type           Status  Reason\n"
        "  ----           ------  ------\n"
        "  Available      True    MinimumReplicasAvailable\n"
        "  Progressing    True    NewReplicaSetAvailable\n"
        "OldReplicaSets:  <none>\n"
        "NewReplicaSet:   web-bbb (3/3 replicas created)\n"
        "Events:\n"
        "  Type    Reason             Age   From                   Message\n"
        "  ----    ------             ----  ----                   -------\n"
        "  Normal  ScalingReplicaSet  60s   deployment-controller  Scaled up replica set web-bbb "
        "from 0 to 3\n"
    )
    events_query = next(c for c in rolled.calls if c[:2] == ("list", "events"))
    assert "involvedObject.kind=Deployment" in events_query[4]
    assert ("list", "replicasets", "default", "app=web", None) in rolled.calls


def test_describe_replicaset_counts_its_own_pods(rolled: FakeApi) -> None:
    rolled.add("pods", owned_pod("web-bbb-p", "web-bbb", "bbb", phase="Pending"))
    rolled.add("pods", running_pod("stray", labels={"app": "web", "pod-template-hash": "bbb"}))
    r = tk(rolled, "describe", "rs/web-bbb")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert "Controlled By:  Deployment/web" in lines
    assert "Replicas:       3 current / 3 desired" in lines
    assert "Pods Status:    3 Running / 1 Waiting / 0 Succeeded / 0 Failed" in lines
    assert "  Labels:  app=web" in lines and "           pod-template-hash=bbb" in lines


# -- label ----------------------------------------------------------------------------------------


def test_label_refuses_to_overwrite_without_the_flag(rolled: FakeApi) -> None:
    r = tk(rolled, "label", "pods", "web-bbb-0", "app=debug")
    assert (r.exit_code, r.stderr) == (
        1, "error: 'app' already has a value (web), and --overwrite is false\n")  # fmt: skip
    assert "patch" not in rolled.verbs()
    r = tk(rolled, "label", "pod/web-bbb-0", "app=debug", "--overwrite")
    assert (r.exit_code, r.stdout) == (0, "pod/web-bbb-0 labeled\n")
    assert rolled.calls[-1] == ("patch", "pods", "web-bbb-0",
                                {"metadata": {"labels": {"app": "debug"}}},
                                "application/merge-patch+json")  # fmt: skip


def test_label_add_remove_unchanged_and_selector(rolled: FakeApi) -> None:
    r = tk(rolled, "label", "pods", "-l", "pod-template-hash=bbb", "tier=fe", "app-")
    assert r.exit_code == 0, r.output
    assert r.stdout == "".join(f"pod/web-bbb-{i} labeled\n" for i in range(3))
    labels = rolled.objects[("pods", "default", "web-bbb-1")]["metadata"]["labels"]
    assert labels == {"pod-template-hash": "bbb", "tier": "fe"}
    r = tk(rolled, "label", "po", "web-bbb-1", "tier=fe", "gone-")
    assert (r.exit_code, r.stdout) == (0, 'label "gone" not found.\npod/web-bbb-1 not labeled\n')
    r = tk(rolled, "label", "deploy", "web", "--list")
    assert r.stdout == "app=web\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pods", "x"], "error: at least one label update is required\n"),
        (["pods", "x", "a=b=c"], "error: invalid label spec: a=b=c\n"),
        (["pods", "x", "a=b", "a-"],
         "error: can not both modify and remove a label in the same command\n"),
        (["pods", "a=b", "x"], "error: all resources must be specified before label changes: x\n"),
        (["pods", "nope", "a=b"], 'Error from server (NotFound): pods "nope" not found\n'),
        (["pods", "x", "a=has space"], 'error: invalid label value: "a=has space": '),
    ],
)  # fmt: skip
def test_label_errors(api: FakeApi, args: list[str], message: str) -> None:
    api.add("pods", running_pod("x"))
    r = tk(api, "label", *args)
    assert r.exit_code == 1 and r.stderr.startswith(message), r.output


# -- scale ----------------------------------------------------------------------------------------


def test_scale_patches_the_scale_subresource(rolled: FakeApi) -> None:
    for args in (["deploy/web"], ["deployment", "web"], ["rs", "web-bbb"]):
        r = tk(rolled, "scale", *args, "--replicas=5")
        assert r.exit_code == 0, r.output
    assert r.stdout == "replicaset.apps/web-bbb scaled\n"
    patches = [c for c in rolled.calls if c[0] == "patch"]
    assert patches[0] == ("patch", "deployments", "web", {"spec": {"replicas": 5}},
                          "application/merge-patch+json")  # fmt: skip
    assert rolled.objects[("deployments", "default", "web")]["spec"]["replicas"] == 5
    r = tk(rolled, "scale", "deploy/web", "--replicas=1", "--current-replicas=2")
    assert (r.exit_code, r.stderr) == (1, "error: Expected replicas to be 2, was 5\n")
    r = tk(rolled, "scale", "deploy/web")
    assert r.exit_code == 1 and r.stderr.startswith('error: required flag(s) "replicas" not set')
    r = tk(rolled, "scale", "deploy/web", "--replicas=-1")
    assert r.exit_code == 1 and "COUNT must be greater than or equal to 0" in r.stderr


# -- rollout --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("generation", "status", "line"),
    [
        (3, {}, "Waiting for deployment spec update to be observed..."),
        (2, {"updatedReplicas": 1}, 'Waiting for deployment "web" rollout to finish: 1 out of 3 '
                                    "new replicas have been updated..."),
        (2, {"replicas": 4}, 'Waiting for deployment "web" rollout to finish: 1 old replicas are '
                             "pending termination..."),
        (2, {"availableReplicas": 2}, 'Waiting for deployment "web" rollout to finish: 2 of 3 '
                                      "updated replicas are available..."),
    ],
)  # fmt: skip
def test_rollout_status_watches_until_done(
    api: FakeApi, generation: int, status: dict[str, Any], line: str
) -> None:
    d = deployment(status=status)
    d["metadata"]["generation"] = generation
    api.add("deployments", d)
    done = deployment()
    done["metadata"]["generation"] = generation
    done["status"]["observedGeneration"] = generation
    api.watch_events = [{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "150"}}},
                        {"type": "MODIFIED", "object": done}]  # fmt: skip
    r = tk(api, "rollout", "status", "deploy/web")
    assert (r.exit_code, r.stdout) == (0, f'{line}\ndeployment "web" successfully rolled out\n')
    watch = next(c for c in api.calls if c[0] == "watch")
    assert watch[4] == "metadata.name=web"
    r = tk(api, "rollout", "status", "deploy/web", "--watch=false")
    assert (r.exit_code, r.stdout) == (0, f"{line}\n")


def test_rollout_status_timeout_deadline_and_deleted(api: FakeApi) -> None:
    api.add("deployments", deployment(status={"updatedReplicas": 0}))
    r = tk(api, "rollout", "status", "deployment", "web", "--timeout=200ms")
    assert r.exit_code == 1
    assert r.stderr == "error: timed out waiting for the condition\n"
    api.watch_events = [{"type": "DELETED", "object": deployment()}]
    r = tk(api, "rollout", "status", "deploy/web")
    assert (r.exit_code, r.stderr) == (1, "error: object has been deleted\n")
    api.objects[("deployments", "default", "web")]["status"]["conditions"] = [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    ]
    r = tk(api, "rollout", "status", "deploy/web")
    assert (r.exit_code, r.stderr) == (
        1,
        'error: deployment "web" exceeded its progress deadline\n',
    )
    r = tk(api, "rollout", "status", "deploy/web", "--timeout=5x")
    assert r.exit_code == 1 and "invalid duration" in r.stderr


def test_rollout_status_of_a_replicaset_is_refused(rolled: FakeApi) -> None:
    r = tk(rolled, "rollout", "status", "rs/web-bbb")
    assert (r.exit_code, r.stderr) == (
        1, "error: no status viewer has been implemented for ReplicaSet.apps\n")  # fmt: skip


def test_rollout_history_table_and_one_revision(rolled: FakeApi) -> None:
    rs = rolled.objects[("replicasets", "default", "web-bbb")]
    rs["metadata"]["annotations"]["kubernetes.io/change-cause"] = "tkctl set image web=2"
    r = tk(rolled, "rollout", "history", "deploy/web")
    assert (r.exit_code, r.stdout) == (0, (
        "deployment.apps/web \n"
        "REVISION  CHANGE-CAUSE\n"
        "1         <none>\n"
        "2         tkctl set image web=2\n"
        "\n"
    ))  # fmt: skip
    r = tk(rolled, "rollout", "history", "deploy/web", "--revision=1")
    assert r.exit_code == 0
    assert r.stdout.startswith(
        "deployment.apps/web with revision #1\nPod Template:\n  Labels:\tapp=web\n"
        "\tpod-template-hash=aaa\n  Containers:\n   web:\n    Image:\ttinykube/web:1\n"
    )
    r = tk(rolled, "rollout", "history", "deploy/web", "--revision=7")
    assert (r.exit_code, r.stderr) == (1, "error: unable to find the specified revision\n")


def test_rollout_undo_copies_the_previous_template_without_the_hash(rolled: FakeApi) -> None:
    r = tk(rolled, "rollout", "undo", "deploy/web")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web rolled back\n"), r.output
    _, _, name, patch, patch_type = rolled.calls[-1]
    assert (name, patch_type) == ("web", "application/json-patch+json")
    assert patch[0] == {"op": "replace", "path": "/spec/template",
                        "value": template("web", "tinykube/web:1")}  # fmt: skip
    assert patch[1]["value"] == {REVISION: "2"}  # the Deployment's revision, not the RS's
    d = rolled.objects[("deployments", "default", "web")]
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "tinykube/web:1"
    # The template now matches revision 1: undoing to it again is skipped.
    r = tk(rolled, "rollout", "undo", "deploy/web", "--to-revision=1")
    assert r.stdout == (
        "deployment.apps/web skipped rollback (current template already matches revision 1)\n"
    )
    r = tk(rolled, "rollout", "undo", "deploy/web", "--to-revision=9")
    assert (r.exit_code, r.stderr) == (1, "error: unable to find specified revision 9 in history\n")


def test_rollout_undo_paused_and_without_history(api: FakeApi) -> None:
    api.add("deployments", deployment())
    api.add("replicasets", replicaset("web", "bbb", 2, "tinykube/web:2", 3))
    r = tk(api, "rollout", "undo", "deploy/web")
    assert (r.exit_code, r.stderr) == (1, 'error: no rollout history found for deployment "web"\n')
    api.objects[("deployments", "default", "web")]["spec"]["paused"] = True
    r = tk(api, "rollout", "undo", "deploy/web")
    assert r.exit_code == 1 and "you cannot rollback a paused deployment" in r.stderr


def test_rollout_restart_pause_resume(rolled: FakeApi) -> None:
    r = tk(rolled, "rollout", "restart", "deploy/web")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web restarted\n")
    _, _, _, patch, patch_type = rolled.calls[-1]
    assert patch_type == "application/strategic-merge-patch+json"
    assert patch == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2024-05-01T12:00:00Z"}}}}}  # fmt: skip
    assert tk(rolled, "rollout", "pause", "deploy/web").stdout == "deployment.apps/web paused\n"
    r = tk(rolled, "rollout", "pause", "deploy/web")
    assert (r.exit_code, r.stderr) == (1, 'error: deployments.apps "web" is already paused\n')
    r = tk(rolled, "rollout", "restart", "deploy/web")
    assert r.exit_code == 1 and "can't restart paused deployment" in r.stderr
    assert tk(rolled, "rollout", "resume", "deploy/web").stdout == "deployment.apps/web resumed\n"
    r = tk(rolled, "rollout", "frobnicate")
    assert r.exit_code == 1 and 'unknown command "frobnicate" for "tkctl rollout"' in r.stderr


# -- set image ------------------------------------------------------------------------------------


def test_set_image_sends_a_strategic_merge_patch(rolled: FakeApi) -> None:
    r = tk(rolled, "set", "image", "deploy/web", "web=tinykube/web:3")
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/web image updated\n"), r.output
    _, _, _, patch, patch_type = rolled.calls[-1]
    assert patch_type == "application/strategic-merge-patch+json"
    assert patch == {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"name": "web", "image": "tinykube/web:3"}]}}}}  # fmt: skip
    container = rolled.objects[("deployments", "default", "web")]["spec"]["template"]["spec"][
        "containers"][0]  # fmt: skip
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]  # kept
    calls = len(rolled.calls)
    r = tk(rolled, "set", "image", "deployment", "web", "*=tinykube/web:3")
    assert (r.exit_code, r.stdout, len(rolled.calls)) == (0, "", calls + 1)  # a GET, no PATCH
    r = tk(rolled, "set", "image", "deploy/web", "nope=x")
    assert (r.exit_code, r.stderr) == (1, 'error: unable to find container named "nope"\n')
    r = tk(rolled, "set", "image", "pod/web-bbb-0", "c=nginx:2")
    assert (r.exit_code, r.stdout) == (0, "pod/web-bbb-0 image updated\n")


# -- create / delete / apply ----------------------------------------------------------------------


def test_create_namespace_and_deployment(api: FakeApi) -> None:
    r = tk(api, "create", "namespace", "team")
    assert (r.exit_code, r.stdout) == (0, "namespace/team created\n")
    assert api.calls[-1][2] == {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "team"}}  # fmt: skip
    r = tk(api, "create", "deployment", "hello", "--image=registry:5000/team/my_web:2",
           "--replicas=2", "-n", "team")  # fmt: skip
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/hello created\n"), r.output
    body = api.calls[-1][2]
    assert body["metadata"] == {"name": "hello", "labels": {"app": "hello"}, "namespace": "team"}
    assert body["spec"] == {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "hello"}},
        "template": {"metadata": {"labels": {"app": "hello"}},
                     "spec": {"containers": [{"name": "my-web",
                                              "image": "registry:5000/team/my_web:2"}]}},
    }  # fmt: skip
    r = tk(api, "create", "deploy", "x", "--image=busybox", "--dry-run=client", "-o", "yaml")
    assert yaml.safe_load(r.stdout)["spec"]["replicas"] == 1
    assert api.calls[-1][0] == "create" and api.calls[-1][2]["metadata"]["name"] == "hello"
    r = tk(api, "create", "ns", "team")
    assert (r.exit_code, r.stderr) == (
        1, 'Error from server (AlreadyExists): namespaces "team" already exists\n')  # fmt: skip


def test_create_from_file_still_works(api: FakeApi, tmp_path: Path) -> None:
    f = tmp_path / "ns.yaml"
    f.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    r = tk(api, "create", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "namespace/x created\n")
    r = tk(api, "create", "namespace", "y", "-f", str(f))
    assert r.exit_code == 1


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_delete_deployment_cascade_and_wait(rolled: FakeApi, cascade: str) -> None:
    rolled.linger["web"] = 2
    r = tk(rolled, "delete", "deploy", "web", f"--cascade={cascade}")
    assert (r.exit_code, r.stdout) == (0, 'deployment.apps "web" deleted from default namespace\n')
    delete = next(c for c in rolled.calls if c[0] == "delete")
    assert delete[5] == cascade.capitalize()
    assert [c[0] for c in rolled.calls].count("get") >= 2  # waited until it was gone


def test_apply_deployment_keeps_server_defaults(api: FakeApi, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    f = tmp_path / "d.yaml"
    f.write_text((root / "examples" / "deployment.yaml").read_text())
    assert tk(api, "apply", "-f", str(f)).stdout == "deployment.apps/hello-kiamol-4 created\n"
    stored = api.objects[("deployments", "default", "hello-kiamol-4")]
    stored["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    f.write_text(f.read_text().replace("tinykube/web:1", "tinykube/web:2"))
    r = tk(api, "apply", "-f", str(f))
    assert (r.exit_code, r.stdout) == (0, "deployment.apps/hello-kiamol-4 configured\n")
    applied = api.objects[("deployments", "default", "hello-kiamol-4")]
    stored_container = applied["spec"]["template"]["spec"]["containers"][0]
    assert stored_container == {"name": "web", "image": "tinykube/web:2",
                                "imagePullPolicy": "IfNotPresent"}  # fmt: skip
    last = json.loads(applied["metadata"]["annotations"][LAST_APPLIED])
    assert last["spec"]["template"]["spec"]["containers"][0]["image"] == "tinykube/web:2"


def test_get_watch_with_event_types(rolled: FakeApi) -> None:
    changed = replicaset("web", "bbb", 2, "tinykube/web:2", 2)
    rolled.watch_events = [{"type": "MODIFIED", "object": changed},
                           {"type": "DELETED", "object": changed}]  # fmt: skip
    r = tk(rolled, "get", "rs", "-l", "app=web", "-w", "--output-watch-events")
    assert r.exit_code == 0, r.output
    assert [line.split()[:3] for line in r.stdout.splitlines()] == [
        ["EVENT", "NAME", "DESIRED"], ["ADDED", "web-aaa", "0"], ["ADDED", "web-bbb", "3"],
        ["MODIFIED", "web-bbb", "2"], ["DELETED", "web-bbb", "2"]]  # fmt: skip
    r = tk(rolled, "get", "rs", "-l", "app=web", "-w", "-o", "json", "--output-watch-events")
    decoder, text, pos, events = json.JSONDecoder(), r.stdout, 0, []
    while pos < len(text.rstrip()):
        obj, pos = decoder.raw_decode(text, pos)
        events.append((obj["type"], obj["object"]["metadata"]["name"], obj["object"]["kind"]))
        pos += len(text[pos:]) - len(text[pos:].lstrip())
    assert events == [
        ("ADDED", "web-aaa", "ReplicaSet"),
        ("ADDED", "web-bbb", "ReplicaSet"),
        ("MODIFIED", "web-bbb", "ReplicaSet"),
        ("DELETED", "web-bbb", "ReplicaSet"),
    ]
    r = tk(rolled, "get", "rs", "-l", "app=web", "-w", "-o", "name")
    names = ["replicaset.apps/web-aaa"] + ["replicaset.apps/web-bbb"] * 3
    assert r.stdout.splitlines() == names


def test_label_and_scale_with_a_selector_matching_nothing(rolled: FakeApi) -> None:
    r = tk(rolled, "label", "pods", "-l", "app=none", "a=b")
    assert (r.exit_code, r.stderr) == (1, "error: no objects passed to label\n")
    r = tk(rolled, "scale", "deploy", "-l", "app=none", "--replicas=1")
    assert (r.exit_code, r.stderr) == (1, "error: no objects passed to scale\n")
