"""Docker Swarm on one machine for the node-loss benchmark: each Swarm node is a container running
its own Docker engine (docker-in-docker), built from this host's own engine binaries and their
libraries (no registry needed), started with the flags a nested engine needs on hosts that refuse
``--privileged``. One manager and N-1 workers; the benchmark image is loaded into every node."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NODE_IMAGE = "tinykube-bench/swarm-node:1"
LABEL = "tinykube.io/bench=swarm"
# The host's engine, its runtime and iptables (legacy: no nf_tables needed in the node).
BINARIES = ("/usr/sbin/dockerd", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2",
            "/usr/sbin/runc", "/usr/bin/docker-init", "/usr/sbin/docker-proxy", "/usr/bin/docker",
            "/usr/sbin/xtables-legacy-multi")  # fmt: skip
XTABLES = "/usr/lib/x86_64-linux-gnu/xtables"
# What a nested dockerd needs where --privileged fails (missing CAP_SYS_RESOURCE).
NODE_FLAGS = ("--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt",
              "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
              "--device-cgroup-rule", "a *:* rwm", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
              "--tmpfs", "/run", "--tmpfs", "/tmp", "-v", "/var/lib/docker")  # fmt: skip


class SwarmUnavailable(Exception):
    """Swarm nodes cannot be built or started here; the message says why."""


def sh(*args: str, stdin: bytes | None = None, check: bool = True) -> str:
    out = subprocess.run(list(args), input=stdin, capture_output=True, check=False)
    if check and out.returncode != 0:
        raise SwarmUnavailable(f"{' '.join(args[:4])}: {out.stderr.decode().strip()}")
    return out.stdout.decode()


def succeeds(*args: str) -> bool:
    return subprocess.run(list(args), capture_output=True, check=False).returncode == 0


def _libraries(paths: list[str]) -> set[str]:
    libs: set[str] = set()
    for path in paths:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > parts.index("=>") + 1:
                libs.add(parts[parts.index("=>") + 1])
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])
    return {lib for lib in libs if os.path.isfile(lib)}


def build_node_image() -> None:
    """A ``FROM scratch`` image holding the host's engine binaries, their libraries and busybox."""
    if sh("docker", "image", "ls", "-q", NODE_IMAGE).strip():
        return
    missing = [b for b in (*BINARIES, "/usr/bin/busybox") if not os.path.exists(b)]
    if missing:
        raise SwarmUnavailable(f"the host lacks {', '.join(missing)} (docker.io, busybox-static)")
    with tempfile.TemporaryDirectory(prefix="swarm-node-") as tmp:
        root = Path(tmp)
        extensions = [str(p) for p in Path(XTABLES).glob("*.so")] if Path(XTABLES).is_dir() else []
        for src in {*BINARIES, *_libraries([*BINARIES, *extensions])}:
            dst = root / src.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(src), dst)
        if extensions:
            shutil.copytree(XTABLES, root / XTABLES.lstrip("/"))
        (root / "bin").mkdir(exist_ok=True)
        shutil.copy2("/usr/bin/busybox", root / "bin" / "busybox")
        for applet in ("sh", "mount", "umount", "mkdir", "cat", "ls", "ps", "kill", "ip"):
            (root / "bin" / applet).symlink_to("busybox")
        for tool in ("iptables", "iptables-save", "iptables-restore", "ip6tables",
                     "ip6tables-save", "ip6tables-restore"):  # fmt: skip
            (root / "usr" / "sbin" / tool).symlink_to("xtables-legacy-multi")
        (root / "etc").mkdir(exist_ok=True)
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (root / "etc" / "group").write_text("root:x:0:\n")
        for d in ("tmp", "run", "var/lib/docker"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "Dockerfile").write_text(
            "FROM scratch\nCOPY . /\nENV PATH=/usr/sbin:/usr/bin:/bin\n"
            'CMD ["/usr/sbin/dockerd", "--host=unix:///var/run/docker.sock"]\n'
        )
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        out = subprocess.run(["docker", "build", "-q", "--force-rm", "-t", NODE_IMAGE, str(root)],
                             capture_output=True, env=env, check=False)  # fmt: skip
        if out.returncode != 0:
            raise SwarmUnavailable(f"docker build of the node image: {out.stderr.decode()[-300:]}")


@dataclass
class Swarm:
    nodes: list[str]  # container names; nodes[0] is the manager
    hostnames: dict[str, str]  # container name -> Swarm node hostname

    def docker(self, *args: str, node: str | None = None) -> str:
        return sh("docker", "exec", node or self.nodes[0], "docker", *args)

    def engine_pid(self, node: str) -> int:
        """The node's dockerd (PID 1 of its container), as the host sees it."""
        return int(sh("docker", "inspect", "-f", "{{.State.Pid}}", node).strip())

    def tasks(self, service: str) -> list[tuple[str, str, str]]:
        """(node hostname, desired state, current state) of the service's tasks."""
        out = self.docker("service", "ps", service, "--format",
                          "{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}")  # fmt: skip
        return [tuple(line.split("\t")[:3]) for line in out.splitlines() if line]  # type: ignore[misc]

    def node_states(self) -> dict[str, str]:
        out = self.docker("node", "ls", "--format", "{{.Hostname}}\t{{.Status}}")
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


def _wait(what: str, check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.2)
    raise SwarmUnavailable(f"timed out waiting for {what}")


@contextmanager
def swarm(nodes: int, images: list[str]) -> Iterator[Swarm]:
    """``nodes`` Swarm nodes (one manager), each holding ``images``; removed at the end."""
    build_node_image()
    prefix = f"tkbench-swarm-{os.getpid()}"
    names = [f"{prefix}-{i}" for i in range(1, nodes + 1)]
    try:
        for i, name in enumerate(names, 1):
            sh("docker", "run", "-d", "--name", name, "--hostname", name, "--label", LABEL,
               *NODE_FLAGS, NODE_IMAGE, "dockerd", "--host=unix:///var/run/docker.sock",
               f"--bip=10.{200 + i}.0.1/24")  # fmt: skip
        saved = subprocess.run(["docker", "save", *images], capture_output=True, check=True)
        for name in names:
            _wait(f"the engine in {name}", lambda n=name: succeeds("docker", "exec", n, "docker",
                                                                   "info"))  # fmt: skip
            sh("docker", "exec", "-i", name, "docker", "load", stdin=saved.stdout)
        ip = sh("docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", names[0]).strip()
        sh("docker", "exec", names[0], "docker", "swarm", "init", "--advertise-addr", ip)
        token = sh("docker", "exec", names[0], "docker", "swarm", "join-token", "-q",
                   "worker").strip()  # fmt: skip
        for name in names[1:]:
            sh("docker", "exec", name, "docker", "swarm", "join", "--token", token, f"{ip}:2377")
        s = Swarm(names, {n: n for n in names})
        _wait("every Swarm node Ready", lambda: list(s.node_states().values()).count("Ready")
              == nodes)  # fmt: skip
        yield s
    finally:
        for name in names:
            subprocess.run(["docker", "rm", "-fv", name], capture_output=True, check=False)
