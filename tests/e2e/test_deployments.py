"""The walkthrough's Deployment part end to end, on a real cluster and real Docker, driven with
tkctl as a user types it: apply the Deployment (and refuse its broken form), take a pod out of
its ReplicaSet by relabelling it and put it back, roll out a new release within the surge and
unavailability bounds and undo it, and delete with each cascade policy."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from tests.e2e.conftest import BIN, ROOT, Cluster, containers, wait_for

RELEASE = "tinykube/web:2"


@pytest.fixture(scope="module")
def release(docker_client: docker.DockerClient) -> Iterator[str]:
    """A second tag of the web image, standing for a new release (no registry needed)."""
    docker_client.images.get("tinykube/web:1").tag("tinykube/web", "2")
    yield RELEASE


def pods(cluster: Cluster, selector: str) -> list[dict[str, Any]]:
    return list(cluster.json("get", "pods", "-l", selector)["items"])


def is_ready(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def active(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready_pods(cluster: Cluster, selector: str, count: int) -> list[dict[str, Any]] | None:
    """The active pods of ``selector`` if there are exactly ``count``, all Ready."""
    items = active(pods(cluster, selector))
    return items if len(items) == count and all(is_ready(p) for p in items) else None


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


def container_ids(client: docker.DockerClient, cluster: Cluster, pod: str) -> set[str]:
    return {c.id for c in containers(client, cluster.cluster_id, **{"io.kubernetes.pod.name": pod})}


def rolled_out(cluster: Cluster, name: str, timeout: str = "180s") -> str:
    out = cluster.tkctl("rollout", "status", f"deploy/{name}", f"--timeout={timeout}", timeout=240)
    assert out.stdout.splitlines()[-1] == f'deployment "{name}" successfully rolled out'
    return out.stdout


# -- (a) the walkthrough's Deployment -----------------------------------------------------------


def test_apply_the_walkthrough_deployment_and_refuse_its_broken_form(cluster: Cluster) -> None:
    broken = cluster.tkctl(
        "apply", "-f", str(ROOT / "examples" / "broken" / "deployment.yaml"), check=False
    )
    assert broken.returncode == 1 and broken.stdout == ""
    first, hint = broken.stderr.splitlines()
    assert first.startswith("error: error parsing ") and first.endswith(
        ": mapping values are not allowed in this context"
    )
    assert '"-name : web" is not a list item' in hint
    assert "hello-kiamol-4" not in cluster.tkctl("get", "deploy").stdout  # nothing was sent

    example = str(ROOT / "examples" / "deployment.yaml")
    out = cluster.tkctl("apply", "-f", example)
    assert out.stdout == "deployment.apps/hello-kiamol-4 created\n"
    rolled_out(cluster, "hello-kiamol-4")
    [pod] = wait_for("its pod Ready", lambda: ready_pods(cluster, "app=hello-kiamol-4", 1))
    [rs] = cluster.json("get", "rs", "-l", "app=hello-kiamol-4")["items"]
    labels = pod["metadata"]["labels"]
    assert labels == {"app": "hello-kiamol-4", "pod-template-hash": labels["pod-template-hash"]}
    assert rs["metadata"]["name"] == f"hello-kiamol-4-{labels['pod-template-hash']}"
    assert controller_of(pod)["uid"] == rs["metadata"]["uid"]  # type: ignore[index]
    deploy = cluster.json("get", "deploy", "hello-kiamol-4")
    assert controller_of(rs)["uid"] == deploy["metadata"]["uid"]  # type: ignore[index]

    table = cluster.tkctl("get", "pods", "-l", "app=hello-kiamol-4").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [row.split()[:3] for row in table[1:]] == [[pod["metadata"]["name"], "1/1", "Running"]]
    assert cluster.tkctl("apply", "-f", example).stdout == (
        "deployment.apps/hello-kiamol-4 unchanged\n"
    )
    everything = cluster.tkctl("get", "all").stdout  # the Deployment itself has no labels
    assert f"pod/{pod['metadata']['name']} " in everything
    assert "deployment.apps/hello-kiamol-4 " in everything
    assert f"replicaset.apps/{rs['metadata']['name']} " in everything
    described = cluster.tkctl("describe", "deploy", "hello-kiamol-4").stdout
    assert "Replicas:" in described and "1 desired | 1 updated | 1 total | 1 available" in described
    assert f"{rs['metadata']['name']} (1/1 replicas created)" in described

    out = cluster.tkctl("delete", "-f", example, timeout=120)
    assert out.stdout == 'deployment.apps "hello-kiamol-4" deleted from default namespace\n'
    wait_for("its pods gone", lambda: not pods(cluster, "app=hello-kiamol-4"), timeout=90)


# -- (b) relabelling a managed pod ----------------------------------------------------------------


def relabel_manifest(name: str) -> str:
    # Every pod on one node, so that the node rule of the deletion ranking ties and the rule that
    # decides is "Ready most recently goes first".
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          replicas: 2
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              nodeSelector: {{kubernetes.io/hostname: node-1}}
              containers:
              - {{name: web, image: tinykube/web:1}}
        """)


def ready_for(pod: dict[str, Any], now: dt.datetime) -> float:
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    since = dt.datetime.fromisoformat(cond["lastTransitionTime"].replace("Z", "+00:00"))
    return (now - since).total_seconds()


def test_relabelled_pod_leaves_its_replicaset_and_comes_back(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    name = "relabel"
    cluster.tkctl("apply", "-f", "-", stdin=relabel_manifest(name))
    originals = wait_for("2 pods Ready", lambda: ready_pods(cluster, f"app={name}", 2))
    [rs] = cluster.json("get", "rs", "-l", f"app={name}")["items"]
    rs_uid = rs["metadata"]["uid"]
    # The deletion ranking compares log2 of how long pods have been Ready: let the originals'
    # time clearly exceed the replacement's (polling the pods' own clock, not sleeping).
    wait_for(
        "the originals Ready for 10s",
        lambda: all(
            ready_for(p, dt.datetime.now(dt.UTC)) >= 10 for p in pods(cluster, f"app={name}")
        ),
        timeout=30,
        every=1,
    )
    picked, other = sorted(p["metadata"]["name"] for p in originals)
    picked_containers = container_ids(docker_client, cluster, picked)

    refused = cluster.tkctl("label", "pod", picked, "app=debug", check=False)
    assert (refused.returncode, refused.stderr) == (
        1,
        f"error: 'app' already has a value ({name}), and --overwrite is false\n",
    )
    out = cluster.tkctl("label", "pod", picked, "app=debug", "--overwrite")
    assert out.stdout == f"pod/{picked} labeled\n"

    # The ReplicaSet releases it and makes a replacement; the released pod runs on, unmanaged.
    managed = wait_for("a replacement Ready", lambda: ready_pods(cluster, f"app={name}", 2))
    [replacement] = [p["metadata"]["name"] for p in managed if p["metadata"]["name"] != other]
    assert replacement not in (picked, other)
    loose = cluster.json("get", "pod", picked)
    assert loose["metadata"]["labels"]["app"] == "debug" and is_ready(loose)
    assert controller_of(loose) is None  # released
    assert container_ids(docker_client, cluster, picked) == picked_containers  # never restarted
    assert [p["metadata"]["name"] for p in pods(cluster, "app=debug")] == [picked]
    rs_now = cluster.json("get", "rs", rs["metadata"]["name"])
    assert (rs_now["spec"]["replicas"], rs_now["status"]["replicas"]) == (2, 2)

    # Back under the selector: adopted again, one pod too many, and the ranking deletes the pod
    # Ready most recently, the replacement.
    out = cluster.tkctl("label", "pod", picked, f"app={name}", "--overwrite")
    assert out.stdout == f"pod/{picked} labeled\n"

    def settled() -> list[str] | None:
        items = pods(cluster, f"app={name}")
        names = sorted(p["metadata"]["name"] for p in active(items))
        return names if len(names) == 2 and replacement not in names else None

    assert wait_for("the surplus pod deleted", settled) == sorted([picked, other])
    back = cluster.json("get", "pod", picked)
    assert controller_of(back)["uid"] == rs_uid  # type: ignore[index]
    assert container_ids(docker_client, cluster, picked) == picked_containers
    wait_for(
        "the replacement gone",
        lambda: replacement not in {p["metadata"]["name"] for p in pods(cluster, f"app={name}")},
    )
    rs_now = cluster.json("get", "rs", rs["metadata"]["name"])
    assert (rs_now["spec"]["replicas"], rs_now["status"]["replicas"]) == (2, 2)
    cluster.tkctl("delete", "deploy", name, timeout=120)


# -- (c) a rolling update within its bounds, and undo -------------------------------------------


class PodWatch:
    """``tkctl get pods -l SEL -w -o json --output-watch-events`` in the background: the pods as
    the stream shows them, and after ``arm()`` the extremes of the active and Ready counts."""

    resource = "pods"

    def __init__(self, cluster: Cluster, selector: str) -> None:
        self.proc = subprocess.Popen(
            [
                str(BIN / "tkctl"),
                "--kubeconfig",
                str(cluster.kubeconfig),
                "get",
                self.resource,
                "-l",
                selector,
                "-w",
                "-o",
                "json",
                "--output-watch-events",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()
        self.objects: dict[str, dict[str, Any]] = {}
        self.armed = False
        self.most_active = 0
        self.fewest_ready: int | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        text = ""
        for line in self.proc.stdout:
            text += line
            if line.rstrip("\n") != "}":  # an event ends with a closing brace in column 0
                continue
            event, text = json.loads(text), ""
            pod = event["object"]
            with self.lock:
                if event["type"] == "DELETED":
                    self.objects.pop(pod["metadata"]["name"], None)
                else:
                    self.objects[pod["metadata"]["name"]] = pod
                if self.armed:
                    self._measure()

    def _measure(self) -> None:
        running = active(list(self.objects.values()))
        ready = sum(1 for p in running if is_ready(p))
        self.most_active = max(self.most_active, len(running))
        self.fewest_ready = ready if self.fewest_ready is None else min(self.fewest_ready, ready)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.objects.values())

    def arm(self) -> None:
        with self.lock:
            self.armed = True
            self._measure()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.thread.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class ReplicaSetWatch(PodWatch):
    """The same stream of the ReplicaSets: after ``arm()``, the most replicas their specs asked
    for together (``most_asked``)."""

    resource = "replicasets"
    most_asked = 0

    def _measure(self) -> None:
        asked = sum(rs["spec"].get("replicas", 1) for rs in self.objects.values())
        self.most_asked = max(self.most_asked, asked)


def images(items: list[dict[str, Any]]) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in items}


def test_rolling_update_stays_within_surge_and_unavailability_then_undo(
    cluster: Cluster, docker_client: docker.DockerClient, release: str
) -> None:
    name = "roll"
    out = cluster.tkctl("create", "deployment", name, "--image=tinykube/web:1", "--replicas=3")
    assert out.stdout == f"deployment.apps/{name} created\n"
    rolled_out(cluster, name)
    watch = PodWatch(cluster, f"app={name}")
    sets = ReplicaSetWatch(cluster, f"app={name}")
    try:
        wait_for(
            "the watch to show 3 Ready pods",
            lambda: len([p for p in active(watch.snapshot()) if is_ready(p)]) == 3,
        )
        wait_for("the watch to show the ReplicaSet", lambda: len(sets.snapshot()) == 1)
        watch.arm()
        sets.arm()
        out = cluster.tkctl("set", "image", f"deploy/{name}", f"web={release}")
        assert out.stdout == f"deployment.apps/{name} image updated\n"
        status = rolled_out(cluster, name)
        assert f'Waiting for deployment "{name}" rollout to finish: ' in status

        def finished() -> bool:
            items = watch.snapshot()
            return (
                len(items) == 3 and all(is_ready(p) for p in items) and images(items) == {release}
            )

        wait_for("only the new pods left", finished, timeout=90)
    finally:
        watch.stop()
        sets.stop()
    # 3 replicas with maxSurge 25% (rounded up: 1) and maxUnavailable 25% (rounded down: 0). As in
    # Kubernetes, the surge bounds the replicas the ReplicaSets ask for: an old pod's deletion
    # follows its ReplicaSet's scale-down asynchronously, so for a moment the new ReplicaSet's
    # next pod may exist beside it.
    assert sets.most_asked == 4, "the ReplicaSets asked for more than replicas + maxSurge"
    assert watch.most_active >= 4, "the rollout never used its surge"
    assert watch.fewest_ready is not None and watch.fewest_ready >= 3
    for pod in active(pods(cluster, f"app={name}")):
        [web] = [
            c
            for c in containers(
                docker_client,
                cluster.cluster_id,
                **{"io.kubernetes.pod.name": pod["metadata"]["name"]},
            )
            if c.labels["io.kubernetes.container.name"] == "web"
        ]
        assert web.attrs["Config"]["Image"] == release

    history = cluster.tkctl("rollout", "history", f"deploy/{name}").stdout
    assert history == (
        f"deployment.apps/{name} \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    )
    first = {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
        for rs in cluster.json("get", "rs", "-l", f"app={name}")["items"]
    }["1"]
    out = cluster.tkctl("rollout", "undo", f"deploy/{name}")
    assert out.stdout == f"deployment.apps/{name} rolled back\n"
    rolled_out(cluster, name)
    back = wait_for(
        "the old release back",
        lambda: (
            items
            if len(items := active(pods(cluster, f"app={name}"))) == 3
            and images(items) == {"tinykube/web:1"}
            and all(is_ready(p) for p in items)
            else None
        ),
        timeout=120,
    )
    # The ReplicaSet of revision 1 was reused and became revision 3.
    hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in back}
    assert hashes == {first["metadata"]["labels"]["pod-template-hash"]}
    reused = cluster.json("get", "rs", first["metadata"]["name"])
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = cluster.tkctl("rollout", "history", f"deploy/{name}").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line] == ["2", "3"]
    again = cluster.tkctl("rollout", "undo", f"deploy/{name}", "--to-revision=3")
    assert again.stdout == (
        f"deployment.apps/{name} skipped rollback (current template already matches revision 3)\n"
    )
    cluster.tkctl("delete", "deploy", name, timeout=120)


# -- (d) deletion and its cascade policies ------------------------------------------------------


def running_deployment(cluster: Cluster, name: str, replicas: int, *ns: str) -> list[str]:
    cluster.tkctl(
        "create", "deployment", name, "--image=tinykube/sleeper:1", f"--replicas={replicas}", *ns
    )
    sel = ("-l", f"app={name}", *ns)

    def up() -> list[str] | None:
        items = cluster.json("get", "pods", *sel)["items"]
        ok = len(items) == replicas and all(is_ready(p) for p in items)
        return sorted(p["metadata"]["name"] for p in items) if ok else None

    return list(wait_for(f"{name}: {replicas} pods Ready", up, timeout=120))


def test_delete_cascades_in_the_background_and_orphans_on_request(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    gone = running_deployment(cluster, "gone", 2)
    assert all(container_ids(docker_client, cluster, p) for p in gone)
    out = cluster.tkctl("delete", "deploy", "gone", timeout=120)
    assert out.stdout == 'deployment.apps "gone" deleted from default namespace\n'
    wait_for(
        "its ReplicaSet and pods gone",
        lambda: (
            not cluster.json("get", "rs", "-l", "app=gone")["items"]
            and not pods(cluster, "app=gone")
        ),
        timeout=120,
    )
    wait_for(
        "its containers gone",
        lambda: not any(container_ids(docker_client, cluster, p) for p in gone),
    )

    kept = running_deployment(cluster, "keep", 2)
    before = {p: container_ids(docker_client, cluster, p) for p in kept}
    out = cluster.tkctl("delete", "deploy", "keep", "--cascade=orphan", timeout=120)
    assert out.stdout == 'deployment.apps "keep" deleted from default namespace\n'
    assert cluster.tkctl("get", "deploy", "keep", check=False).returncode == 1
    [rs] = cluster.json("get", "rs", "-l", "app=keep")["items"]
    assert not rs["metadata"].get("ownerReferences")  # orphaned, not deleted
    assert rs["status"].get("readyReplicas") == 2
    assert sorted(p["metadata"]["name"] for p in active(pods(cluster, "app=keep"))) == kept
    assert {p: container_ids(docker_client, cluster, p) for p in kept} == before
    out = cluster.tkctl("delete", "rs", rs["metadata"]["name"], timeout=120)
    wait_for(
        "the orphans' pods gone with their ReplicaSet",
        lambda: not pods(cluster, "app=keep"),
        timeout=120,
    )


def test_foreground_deletion_and_namespace_deletion_wait_for_the_pods(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    [fg] = running_deployment(cluster, "fg", 1)
    out = cluster.tkctl("delete", "deploy", "fg", "--cascade=foreground", timeout=120)
    assert out.stdout == 'deployment.apps "fg" deleted from default namespace\n'
    # Foreground: the Deployment went last, after its ReplicaSet and pods.
    assert cluster.json("get", "rs", "-l", "app=fg")["items"] == []
    assert pods(cluster, "app=fg") == []
    assert not container_ids(docker_client, cluster, fg)

    assert cluster.tkctl("create", "namespace", "apps-e2e").stdout == "namespace/apps-e2e created\n"
    [inside] = running_deployment(cluster, "inside", 1, "-n", "apps-e2e")
    out = cluster.tkctl("delete", "namespace", "apps-e2e", timeout=180)
    assert out.stdout == 'namespace "apps-e2e" deleted\n'
    assert cluster.tkctl("get", "ns", "apps-e2e", check=False).returncode == 1
    wait_for(
        "the namespace's containers gone", lambda: not container_ids(docker_client, cluster, inside)
    )
