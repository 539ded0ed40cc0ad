"""A control plane bound beyond loopback serves HTTPS with its own CA and writes a K10 join token;
an agent joins with that token alone, gets its own node credential, runs a pod, and reuses the
credential when restarted. tkctl uses the admin kubeconfig the control plane wrote."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from common.jointoken import matches, parse_token
from common.redis_server import free_port, start_redis
from tests.e2e.conftest import BIN, assert_nothing_mounted, wait_for

pytestmark = pytest.mark.e2e


@dataclass
class Server:
    url: str
    data: Path
    kubeconfig: Path
    log: Path

    def tkctl(self, *args: str) -> Any:
        out = subprocess.run(
            [str(BIN / "tkctl"), "--kubeconfig", str(self.kubeconfig), *args, "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Server]:
    redis_port, port = free_port(), free_port()
    redis = start_redis(tmp_path / "redis", redis_port)
    data = tmp_path / "server"
    s = Server(f"https://127.0.0.1:{port}", data, tmp_path / "admin.yaml", tmp_path / "control.log")
    control = spawn(
        [sys.executable, "-m", "control", "--redis-url", f"redis://127.0.0.1:{redis_port}/0",
         "--bind-address", "0.0.0.0", "--port", str(port), "--data-dir", str(data),
         "--write-kubeconfig", str(s.kubeconfig)],
        s.log,
    )  # fmt: skip
    try:
        wait_for("the join token", lambda: (data / "node-token").exists(), timeout=30)
        wait_for("the API", lambda: _get_ok(s), timeout=60)
        yield s
    finally:
        stop(control)
        redis.terminate()
        redis.wait(10)


def _get_ok(s: Server) -> bool:
    if not s.kubeconfig.exists():
        return False
    out = subprocess.run(
        [str(BIN / "tkctl"), "--kubeconfig", str(s.kubeconfig), "get", "nodes"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return out.returncode == 0


def agent_argv(s: Server, data: Path) -> list[str]:
    return [
        sys.executable, "-m", "agent", "--server", s.url,
        "--token-file", str(s.data / "node-token"),
        "--node-name", "joined-1", "--data-dir", str(data), "--node-ip", "127.0.0.1",
        "--node-api-port", "0", "-v",
    ]  # fmt: skip


def ready(s: Server, name: str) -> bool:
    for node in s.tkctl("get", "nodes")["items"]:
        status = node.get("status") or {}  # none yet between registration and its first post
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        if node["metadata"]["name"] == name and conditions.get("Ready") == "True":
            return True
    return False


def test_agent_joins_over_tls_with_the_token(server: Server, tmp_path: Path) -> None:
    token_file = server.data / "node-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    ca = (server.data / "tls" / "server-ca.crt").read_bytes()
    assert matches(parse_token(token), ca)
    assert "certificate-authority-data" in server.kubeconfig.read_text()
    assert server.kubeconfig.stat().st_mode & 0o777 == 0o600
    agent_dir = tmp_path / "agent"
    agent = spawn(agent_argv(server, agent_dir), tmp_path / "agent.log")
    cluster_id = ""
    try:
        wait_for("joined-1 Ready", lambda: ready(server, "joined-1"), timeout=60)
        creds = json.loads((agent_dir / "credentials.json").read_text())
        assert creds["token"] != token and creds["ca_hash"] == parse_token(token).ca_hash
        pod = {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "joined-web"},
            "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]},
        }  # fmt: skip
        subprocess.run(
            [str(BIN / "tkctl"), "--kubeconfig", str(server.kubeconfig), "apply", "-f", "-"],
            input=json.dumps(pod), text=True, check=True, capture_output=True, timeout=60,
        )  # fmt: skip

        def running() -> bool:
            p = server.tkctl("get", "pod", "joined-web")
            return p["status"].get("phase") == "Running" and p["spec"]["nodeName"] == "joined-1"

        wait_for("the pod Running on the joined node", running, timeout=60)
        ns = server.tkctl("get", "namespace", "kube-system")
        cluster_id = ns["metadata"]["uid"]
        # Restart: the agent reuses its stored credential instead of joining again.
        stop(agent)
        log_before = server.log.read_text().count("join: node joined-1 joined")
        assert log_before == 1
        agent = spawn(agent_argv(server, agent_dir), tmp_path / "agent.log")
        wait_for(
            "reuse", lambda: "using the stored credential" in (tmp_path / "agent.log").read_text()
        )
        assert json.loads((agent_dir / "credentials.json").read_text()) == creds
        wait_for("joined-1 Ready again", lambda: ready(server, "joined-1"), timeout=60)
        assert server.log.read_text().count("join: node joined-1 joined") == log_before
    finally:
        stop(agent)
        if cluster_id:
            subprocess.run(
                [sys.executable, "-m", "agent", "cleanup", "--cluster-id", cluster_id,
                 "--root-dir", str(agent_dir)],
                capture_output=True, timeout=60, check=False, env=os.environ,
            )  # fmt: skip
        assert_nothing_mounted(tmp_path)
