"""The agent loop's reaction to watch events (no threads started)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from agent.config import AgentConfig
from agent.fake_runtime import FakeRuntime
from agent.loop import Agent
from common import metrics
from common.client import ApiClient


def test_the_echo_of_the_agents_own_status_write_queues_nothing() -> None:
    """A watch event carrying the version the agent already holds (it just wrote it) is not a
    reason to sync again; any newer version is."""
    agent = Agent(AgentConfig("http://127.0.0.1:1", "t", "node-1"), ApiClient("http://x"),
                  FakeRuntime())  # fmt: skip
    pod = {"metadata": {"uid": "u1", "resourceVersion": "7"}, "spec": {"nodeName": "node-1"}}
    agent.pods["u1"] = pod
    agent._on_pod_event({"type": "MODIFIED", "object": pod})
    assert len(agent.queue) == 0
    newer = {**pod, "metadata": {"uid": "u1", "resourceVersion": "8"}}
    agent._on_pod_event({"type": "MODIFIED", "object": newer})
    assert len(agent.queue) == 1 and agent.pods["u1"] is newer


def test_pod_start_duration_is_observed_once_when_the_pod_runs() -> None:
    agent = Agent(AgentConfig("http://127.0.0.1:1", "t", "node-1"), ApiClient("http://x"),
                  FakeRuntime())  # fmt: skip
    before = metrics.POD_START_DURATION._sum.get()  # type: ignore[attr-defined]
    count = _count()
    agent.first_seen["u1"] = time.perf_counter() - 2.0
    agent._observe_start("u1", {"status": {"phase": "Pending"}})
    assert _count() == count and "u1" in agent.first_seen
    agent._observe_start("u1", {"status": {"phase": "Running"}})
    agent._observe_start("u1", {"status": {"phase": "Running"}})
    assert _count() == count + 1 and "u1" not in agent.first_seen
    assert metrics.POD_START_DURATION._sum.get() - before >= 2.0  # type: ignore[attr-defined]
    agent.first_seen["u2"] = time.perf_counter()
    agent._observe_start("u2", {"status": {"phase": "Failed"}})  # never ran: not a start
    assert _count() == count + 1 and "u2" not in agent.first_seen


def _count() -> float:
    for family in metrics.REGISTRY.collect():
        for s in family.samples:
            if s.name == "kubelet_pod_start_duration_seconds_count":
                return s.value
    return 0.0


def test_runtime_events_reach_a_listener_and_queue_only_this_nodes_pods() -> None:
    """A simulated node hears its fake runtime through a listener instead of a thread."""
    from agent import runtime as rt
    from agent.runtime import CreateSpec

    runtime = FakeRuntime(("tinykube/pause:1",))
    agent = Agent(AgentConfig("http://127.0.0.1:1", "t", "node-1"), ApiClient("http://x"),
                  runtime)  # fmt: skip
    agent.cluster = "c1"
    runtime.listeners.append(agent.on_runtime_event)

    def start(name: str, node: str, cluster: str, uid: str) -> None:
        labels = {rt.CLUSTER_LABEL: cluster, rt.NODE_LABEL: node, rt.POD_UID: uid}
        runtime.start(runtime.create_container(
            CreateSpec(name, "tinykube/pause:1", labels, "sandbox")))  # fmt: skip

    start("a", "node-1", "c1", "u-mine")
    start("b", "node-2", "c1", "u-other-node")
    start("c", "node-1", "c2", "u-other-cluster")
    assert agent.queue.get(timeout=0) == "u-mine"
    assert agent.queue.get(timeout=0) is None


class _ScriptedPods(ApiClient):
    """Lists at revision 5 (a third list stops the agent); each watch sends one pod event, then
    ends as the server ends one at its timeout; the third one is cut by the agent's reconnect,
    and the fourth stops the agent."""

    def __init__(self, agent_of: list[Agent]) -> None:
        super().__init__("http://x")
        self.agent_of = agent_of
        self.lists = 0
        self.watched_from: list[str | None] = []

    def list(self, rt: Any, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        self.lists += 1
        if self.lists > 2:
            self.agent_of[0].stopping.set()
        return {"metadata": {"resourceVersion": "5"}, "items": []}

    def watch(self, rt: Any, namespace: str | None = None, **kw: Any) -> Iterator[dict[str, Any]]:
        kw["cancel"].fired = False  # as ApiClient.watch attaches its stream
        self.watched_from.append(kw.get("resource_version"))
        n = len(self.watched_from)
        if n == 4:
            self.agent_of[0].stopping.set()
            return
        pod = {"metadata": {"uid": f"u{n}", "resourceVersion": str(5 + n)},
               "spec": {"nodeName": "node-1"}}  # fmt: skip
        yield {"type": "ADDED", "object": pod}
        if n == 3:  # a reconnect ends this one: the agent lists again
            kw["cancel"].fired = True


def test_a_watch_ended_by_the_server_is_resumed_from_its_last_revision_without_a_list() -> None:
    """As client-go's reflector: only a reconnect (or a 410) lists again, and then watches
    again from the new list (not list after list: ``fired`` stays set until a watch starts)."""
    agent_of: list[Agent] = []
    client = _ScriptedPods(agent_of)
    agent = Agent(AgentConfig("http://127.0.0.1:1", "t", "node-1"), client, FakeRuntime())
    agent_of.append(agent)
    agent.watch_pods()
    assert client.watched_from == ["5", "6", "7", "5"]
    assert client.lists == 2
