"""Node Leases at the API server: every write of one gets the duration the server hands out (its
renew interval is a quarter of it), and a renewal that changes only ``renewTime`` at the version
this server last wrote is written without a read; anything else, or a stale version, gets the
general path's answers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.heartbeat import HeartbeatPolicy
from common.resources import must
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore
from control.registry import nodeleases
from tests.integration.conftest import Api

LEASES = must("leases")
PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def lease(name: str = "node-1", renew: str = "2030-01-01T00:00:00.000000Z", **spec: Any) -> Any:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "renewTime": renew, **spec},
    }


def renewed(current: Any, renew: str) -> Any:
    body = copy.deepcopy(current)
    body["spec"]["renewTime"] = renew
    return body


class Spy:
    """Counts the store reads of Leases (the quick path makes none)."""

    def __init__(self, app: Any) -> None:
        self.store = app.extensions["tinykube"]["store"]
        self.gets = 0
        original = self.store.get

        def get(resource: str, namespace: str, name: str) -> Any:
            if resource == "leases":
                self.gets += 1
            return original(resource, namespace, name)

        self.store.get = get


def test_a_node_lease_gets_the_duration_the_server_hands_out(app: Any, node_api: Api) -> None:
    status, created = node_api.call("POST", PATH, lease(leaseDurationSeconds=40))
    assert status == 201
    assert created["spec"]["leaseDurationSeconds"] == 8  # renewed every 2 s, in a small cluster
    status, got = node_api.call("GET", f"{PATH}/node-1")
    assert got["spec"]["leaseDurationSeconds"] == 8


def unstamped(metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata without what every write changes: the revision, the generation and the
    managedFields entries' times."""
    out = {k: v for k, v in metadata.items() if k not in ("resourceVersion", "generation")}
    out["managedFields"] = [
        {k: v for k, v in e.items() if k != "time"} for e in metadata["managedFields"]
    ]
    return out


def test_a_renewal_is_one_write_with_no_read(app: Any, node_api: Api) -> None:
    spy = Spy(app)
    _, current = node_api.call("POST", PATH, lease())
    for second in range(1, 4):
        renew = f"2030-01-01T00:00:0{second}.000000Z"
        status, answer = node_api.call("PUT", f"{PATH}/node-1", renewed(current, renew))
        assert status == 200, answer
        assert answer["spec"]["renewTime"] == renew
        assert int(answer["metadata"]["resourceVersion"]) > int(
            current["metadata"]["resourceVersion"]
        )
        # What the general path would write: the generation counts the spec change.
        assert answer["metadata"]["generation"] == current["metadata"]["generation"] + 1
        # The rest of the metadata is kept; the renewer's managedFields entry is stamped with the
        # time of the write, which may have crossed a second.
        assert unstamped(answer["metadata"]) == unstamped(current["metadata"])
        assert [e["time"] for e in answer["metadata"]["managedFields"]] >= [
            e["time"] for e in current["metadata"]["managedFields"]
        ]
        current = answer
    assert spy.gets == 0
    assert node_api.call("GET", f"{PATH}/node-1")[1] == current


def test_a_stale_renewal_conflicts_and_the_next_one_reads_again(app: Any, node_api: Api) -> None:
    _, first = node_api.call("POST", PATH, lease())
    _, second = node_api.call(
        "PUT", f"{PATH}/node-1", renewed(first, "2030-01-01T00:00:01.000000Z")
    )
    status, answer = node_api.call(
        "PUT", f"{PATH}/node-1", renewed(first, "2030-01-01T00:00:02.000000Z")
    )
    assert status == 409
    assert answer["reason"] == "Conflict"
    assert answer["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "node-1": the object has '
        "been modified; please apply your changes to the latest version and try again"
    )
    # Written behind this server's back: its memory is stale, the general path answers.
    store = app.extensions["tinykube"]["store"]
    behind = store.get("leases", "kube-node-lease", "node-1")
    behind["metadata"]["labels"] = {"moved": "yes"}
    store.update("leases", behind)
    status, answer = node_api.call(
        "PUT", f"{PATH}/node-1", renewed(second, "2030-01-01T00:00:03.000000Z")
    )
    assert status == 409
    _, fresh = node_api.call("GET", f"{PATH}/node-1")
    status, answer = node_api.call(
        "PUT", f"{PATH}/node-1", renewed(fresh, "2030-01-01T00:00:04.000000Z")
    )
    assert status == 200 and answer["metadata"]["labels"] == {"moved": "yes"}


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (lambda b: b["spec"].update(renewTime="yesterday"), 400,
         'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00"'),
        (lambda b: b["spec"].update(leaseTransitions=-1), 422,
         "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"),
        (lambda b: b["spec"].update(surprise=1), 400, 'unknown field "spec.surprise"'),
        (lambda b: b["metadata"].update(name="node-2"), 400, "does not match the name on the URL"),
    ],
)  # fmt: skip
def test_anything_but_a_renewal_gets_the_general_path(
    app: Any, node_api: Api, change: Any, status: int, message: str
) -> None:
    _, current = node_api.call("POST", PATH, lease())
    body = renewed(current, "2030-01-01T00:00:05.000000Z")
    change(body)
    got, answer = node_api.call("PUT", f"{PATH}/node-1", body)
    assert got == status, answer
    assert message in answer["message"]
    assert node_api.call("GET", f"{PATH}/node-1")[1] == current  # nothing stored


def test_other_namespaces_keep_their_duration(api: Api) -> None:
    body = lease("elector", leaseDurationSeconds=15)
    body["metadata"]["namespace"] = "kube-system"
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
    status, created = api.call("POST", path, body)
    assert status == 201 and created["spec"]["leaseDurationSeconds"] == 15


def test_a_large_cluster_gets_staggered_longer_durations(store: RedisStore) -> None:
    # 3 nodes at most 0.5 renewal a second: a base interval of 6 s, staggered in [6, 12) s.
    policy = HeartbeatPolicy(min_interval=2.0, max_per_second=0.5)
    auth = TokenAuthenticator({t: User(f"system:node:node-{i}", ("system:nodes",))
                               for i, t in enumerate(("t1", "t2", "t3"), 1)})  # fmt: skip
    app = create_app(store, auth, ServerConfig(heartbeats=policy))
    app.extensions["tinykube"]["registry"].ensure_namespaces()
    durations = []
    for i, token in enumerate(("t1", "t2", "t3"), 1):
        node = Api(app.test_client(), token)
        assert node.call("POST", PATH, lease(f"node-{i}"))[0] == 201
    registry = app.extensions["tinykube"]["registry"]
    registry.node_leases._counted_at = None  # count the three now
    node = Api(app.test_client(), "t1")
    _, current = node.call("GET", f"{PATH}/node-1")
    for second in range(10):
        body = renewed(current, f"2030-01-01T00:00:0{second}.000000Z")
        status, current = node.call("PUT", f"{PATH}/node-1", body)
        assert status == 200
        durations.append(current["spec"]["leaseDurationSeconds"])
    assert all(24 <= d <= 48 for d in durations), durations  # 4 x [6, 12) s, rounded up
    assert len(set(durations)) > 1  # staggered


def test_the_quick_path_needs_a_byte_for_byte_renewal() -> None:
    rt = LEASES
    memo = {"metadata": {"name": "n", "resourceVersion": "5"}, "spec": {"renewTime": "x"}}
    spec = {"renewTime": "2030-01-01T00:00:00.000001Z", "leaseDurationSeconds": 8}
    good = {"metadata": {"name": "n", "resourceVersion": "5"}, "spec": spec}
    assert nodeleases.renewed_time(good, memo, rt) == "2030-01-01T00:00:00.000001Z"
    assert nodeleases.renewed_time({**good, "apiVersion": "v1"}, memo, rt) is None
    assert nodeleases.renewed_time({**good, "status": {}}, memo, rt) is None
    stale = {**good, "metadata": {"name": "n", "resourceVersion": "4"}}
    assert nodeleases.renewed_time(stale, memo, rt) is None
    for duration in (0, "8", True, 1.5):
        bad = {**good, "spec": {**good["spec"], "leaseDurationSeconds": duration}}
        assert nodeleases.renewed_time(bad, memo, rt) is None
    for when in ("2030-01-01T00:00:00Z", "2030-13-01T00:00:00.000000Z", 5):
        bad = {**good, "spec": {**good["spec"], "renewTime": when}}
        assert nodeleases.renewed_time(bad, memo, rt) is None


def test_a_renewal_of_a_lease_deleted_meanwhile_is_not_found(app: Any, node_api: Api) -> None:
    _, current = node_api.call("POST", PATH, lease())
    app.extensions["tinykube"]["store"].delete("leases", "kube-node-lease", "node-1")
    status, answer = node_api.call(
        "PUT", f"{PATH}/node-1", renewed(current, "2030-01-01T00:00:09.000000Z")
    )
    assert (status, answer["reason"]) == (404, "NotFound")
    assert answer["message"] == 'leases.coordination.k8s.io "node-1" not found'
    # The agent creates it again; that one renews as before.
    _, again = node_api.call("POST", PATH, lease())
    status, _ = node_api.call(
        "PUT", f"{PATH}/node-1", renewed(again, "2030-01-01T00:00:10.000000Z")
    )
    assert status == 200
