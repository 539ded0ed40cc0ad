"""The embedded cluster's supervisor: starts a private Redis, the control plane and N local
agents as child processes, restarts any that dies, and stops them all on SIGTERM. It imports
neither ``control`` nor ``agent``: it runs them as ``python -m control`` / ``python -m agent``.
Its state (pids, ports, cluster id) is kept in ``DIR/state.json`` for ``tinykube down`` and tests.
No secret is ever on a child's command line: the Redis password and the node tokens reach them in
0600 files (``DIR/redis-password``, ``DIR/redis/redis.conf``, ``DIR/node-tokens/NODE``), as does
the key that encrypts Secrets at rest (``DIR/encryption-config.yaml``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import errors
from common.client import ApiClient
from common.encryptionconfig import FILE_NAME as ENCRYPTION_FILE
from common.encryptionconfig import ensure_config
from common.kubeconfig import write_kubeconfig
from common.podnetwork import bridge_address
from common.redis_server import free_port, redis_args, wait_for_redis, write_config
from common.resources import lookup
from common.secretfile import ensure_secret, write_private

log = logging.getLogger(__name__)

# A child that dies is restarted after this delay, doubling to the cap while it keeps dying.
RESTART_DELAY, RESTART_CAP = 0.2, 5.0
# A child that ran this long before dying is considered healthy again (backoff reset).
HEALTHY_AFTER = 30.0
STOP_TIMEOUT = 10.0
# How often children are checked: a dead API server is noticed within this, and a poll() per
# child costs nothing.
CHECK_EVERY = 0.05
# The key that signs service-account tokens (made by the control plane on its first start).
SIGNING_KEY_FILE = "service-account.key"
# The control plane's CA under its data dir (control/tls.py's TlsFiles, which common cannot import).
CA_FILE = "tls/server-ca.crt"
# The private Redis's password (made once) and the directory of the agents' token files.
REDIS_PASSWORD_FILE = "redis-password"
NODE_TOKENS_DIR = "node-tokens"


@dataclass
class Options:
    data_dir: Path
    port: int = 6443
    agents: int = 1
    allow_privileged: bool = False
    kubeconfig_mode: int = 0o600
    appendfsync: str = "everysec"
    agent_args: list[str] = field(default_factory=list)
    control_args: list[str] = field(default_factory=list)
    # Serve HTTPS with a CA of the control plane's own: kubectl sends a bearer token only over
    # TLS (client-go drops credentials on http://), so the real kubectl needs it.
    tls: bool = False


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    delay: float = RESTART_DELAY

    def start(self) -> None:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.started = time.monotonic()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill_group(self) -> None:
        """SIGKILL what is left of the child's process group (it leads its own session): a
        gunicorn worker whose master died would otherwise keep serving, and hold the port."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def tokens(data_dir: Path, agents: int) -> dict[str, str]:
    """The admin token and one token per node, kept across restarts (``DIR/tokens.csv``)."""
    path = data_dir / "tokens.csv"
    rows: dict[str, tuple[str, str, str]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split(",", 3)
            if len(parts) >= 3:
                rows[parts[1]] = (parts[0], parts[2], parts[3] if len(parts) > 3 else "")
    wanted = {"admin": '"system:masters"'}
    for i in range(1, agents + 1):
        wanted[f"system:node:node-{i}"] = '"system:nodes"'
    changed = False
    for user, groups in wanted.items():
        if user not in rows:
            rows[user] = (secrets.token_hex(24), user, groups)
            changed = True
    if changed or not path.exists():
        text = "".join(
            f"{tok},{user},{uid},{groups}\n" for user, (tok, uid, groups) in rows.items()
        )
        write_private(path, text)
    os.chmod(path, 0o600)
    return {user: tok for user, (tok, _, _) in rows.items()}


def agent_data_dir(data_dir: Path, node: str) -> Path:
    """A local agent's own data dir (its pods' volumes), under the cluster's."""
    return data_dir / "agents" / node


def node_token_file(data_dir: Path, node: str, token: str) -> Path:
    """The file (0600) the agent of ``node`` reads its token from (``--token-file``)."""
    directory = data_dir / NODE_TOKENS_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / node
    write_private(path, token + "\n")
    return path


class Supervisor:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.dir = opts.data_dir
        self.logs = self.dir / "logs"
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self.state: dict[str, Any] = {}

    @property
    def server(self) -> str:
        scheme = "https" if self.opts.tls else "http"
        return f"{scheme}://127.0.0.1:{self.opts.port}"

    @property
    def ca_file(self) -> Path | None:
        """The CA the control plane makes in ``DIR/server`` when it serves HTTPS."""
        return self.dir / "server" / CA_FILE if self.opts.tls else None

    def run(self) -> int:
        """Start everything, supervise until SIGTERM/SIGINT, then stop everything."""
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        try:
            self.start()
            while not self.stopping.wait(CHECK_EVERY):
                self._restart_dead()
        finally:
            self.stop()
        return 0

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        toks = tokens(self.dir, self.opts.agents)
        redis_port = free_port()
        py = sys.executable
        password_file = self.dir / REDIS_PASSWORD_FILE
        password = ensure_secret(password_file)
        redis_conf = write_config(self.dir / "redis", password)
        self.children.append(Child(
            "redis", redis_args(self.dir / "redis", redis_port, appendfsync=self.opts.appendfsync,
                                config=redis_conf),
            self.logs / "redis.out",
        ))  # fmt: skip
        control = [
            py,
            "-m",
            "control",
            "--redis-url",
            f"redis://127.0.0.1:{redis_port}/0",
            "--redis-password-file",
            str(password_file),
            "--port",
            str(self.opts.port),
            "--token-auth-file",
            str(self.dir / "tokens.csv"),
        ]
        # Secrets encrypted at rest with a key made for this cluster and kept with its data.
        encryption = ensure_config(self.dir / ENCRYPTION_FILE)
        control += ["--encryption-provider-config", str(encryption)]
        if self.opts.allow_privileged:
            control.append("--allow-privileged")
        # Service-account tokens signed with a key made for this cluster and kept with its data.
        control += ["--service-account-signing-key-file", str(self.dir / SIGNING_KEY_FILE)]
        if self.opts.tls:
            control += ["--tls", "--data-dir", str(self.dir / "server")]
            # Pods reach the API on the Docker bridge's address (TLS only: tokens never go
            # over plain HTTP), whatever else it listens on.
            bridge = bridge_address()
            if bridge is not None:
                control += ["--pod-network-address", bridge]
        control += self.opts.control_args
        self.children.append(Child("control", control, self.logs / "control.log"))
        self.state = {
            "supervisor": os.getpid(),
            "port": self.opts.port,
            "redis_port": redis_port,
            "server": self.server,
            "processes": {},
        }
        self.children[0].start()
        wait_for_redis(redis_port, self.children[0].proc, password=password)
        self.children[1].start()
        self._save()
        ca = self._wait_for_ca()
        client = ApiClient(self.server, toks["admin"], ca_file=ca)
        cluster = self._wait_for_api(client)
        self.state["cluster"] = cluster
        write_kubeconfig(str(self.dir / "kubeconfig.yaml"), self.server, toks["admin"], ca,
                         mode=self.opts.kubeconfig_mode)  # fmt: skip
        for i in range(1, self.opts.agents + 1):
            name = f"node-{i}"
            argv = [
                py,
                "-m",
                "agent",
                "--server",
                self.server,
                "--token-file",
                str(node_token_file(self.dir, name, toks[f"system:node:{name}"])),
                "--node-name",
                name,
                "--node-ip",
                "127.0.0.1",
                "--node-api-port",
                "0",
                "--data-dir",
                str(agent_data_dir(self.dir, name)),
                *(["--ca-file", ca] if ca else []),
                *self.opts.agent_args,
            ]
            child = Child(name, argv, self.logs / f"{name}.log")
            child.start()
            self.children.append(child)
        self._save()

    def _control_exited(self) -> None:
        control = self.children[1].proc
        if control is not None and control.poll() is not None:
            raise errors.ServiceUnavailableError(
                f"the control plane exited (code {control.returncode}); "
                f"see {self.logs / 'control.log'}"
            )

    def _wait_for_ca(self, timeout: float = 60.0) -> str | None:
        """The CA file, once the control plane has written it (None without TLS)."""
        if self.ca_file is None:
            return None
        deadline = time.monotonic() + timeout
        while not self.ca_file.exists():
            self._control_exited()
            if time.monotonic() > deadline:
                raise errors.ServiceUnavailableError(f"no CA in {self.ca_file} after {timeout}s")
            time.sleep(0.1)
        return str(self.ca_file)

    def _wait_for_api(self, client: ApiClient, timeout: float = 60.0) -> str:
        namespaces = lookup("namespaces")
        assert namespaces is not None
        deadline = time.monotonic() + timeout
        while True:
            self._control_exited()
            try:
                return str(client.get(namespaces, "kube-system")["metadata"]["uid"])
            except errors.ApiError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _restart_dead(self) -> None:
        for child in self.children:
            if child.proc is None or child.proc.poll() is None:
                continue
            if time.monotonic() - child.started > HEALTHY_AFTER:
                child.delay = RESTART_DELAY
            if time.monotonic() - child.started < child.delay:
                continue
            log.warning("%s exited with code %s; restarting", child.name, child.proc.returncode)
            child.kill_group()
            child.start()
            child.delay = min(child.delay * 2, RESTART_CAP)
            self._save()

    def stop(self) -> None:
        # Agents first (they leave containers running), then the API, then the store. gunicorn
        # takes SIGINT as its quick shutdown: SIGTERM would wait on watches nobody reads.
        for group in (self.children[2:], self.children[1:2], self.children[:1]):
            for child in group:
                child.stop(signal.SIGINT if child.name == "control" else signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            for child in group:
                if child.proc is None:
                    continue
                try:
                    child.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.stop(signal.SIGKILL)
                    child.proc.wait()
                child.kill_group()
        self.state["supervisor"] = None
        self._save()

    def _save(self) -> None:
        self.state["processes"] = {c.name: c.proc.pid for c in self.children if c.proc}
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.replace(self.dir / "state.json")
