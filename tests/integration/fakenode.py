"""One simulated node for stream and probe tests: the real API server over HTTP (werkzeug, in a
thread) and an agent on the FakeRuntime whose sandboxes get 127.0.0.1 as pod IP, so that
port-forward and httpGet/tcpSocket probes reach local servers the tests run."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator

from agent.config import AgentConfig
from agent.fake_runtime import FakeRuntime
from agent.loop import Agent
from common.client import ApiClient
from tests.integration.conftest import NODE_TOKEN

NODE = "node-1"


def local_runtime() -> FakeRuntime:
    runtime = FakeRuntime(("tinykube/web:1",))
    runtime.pod_ip = "127.0.0.1"
    return runtime


@contextlib.contextmanager
def node(server: str, runtime: FakeRuntime) -> Iterator[Agent]:
    with tempfile.TemporaryDirectory(prefix="tinykube-fakenode-") as data_dir:
        config = AgentConfig(
            server=server,
            token=NODE_TOKEN,
            node_name=NODE,
            node_ip="127.0.0.1",
            node_api_port=0,
            lease_renew_interval=0.5,
            node_status_interval=1.0,
            workers=2,
            data_dir=data_dir,  # not the machine's agent dir: no pod directory outlives the test
        )
        agent = Agent(config, ApiClient(server, NODE_TOKEN), runtime)
        agent.start()
        try:
            yield agent
        finally:
            agent.stop()
