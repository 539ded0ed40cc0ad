"""The agent loop's reaction to watch events (no threads started)."""

from __future__ import annotations

from agent.fake_runtime import FakeRuntime
from agent.loop import Agent, AgentConfig
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
