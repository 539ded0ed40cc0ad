"""``tinykube``: the server-side command. ``up``/``down`` run the embedded cluster (a private
Redis, the control plane and local agents, see ``common.supervisor``); ``control`` and ``agent``
run one component in this process's place (``python -m control`` / ``python -m agent``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import errors
from common.client import ApiClient
from common.kubeconfig import load_file, resolve
from common.resources import lookup
from common.supervisor import Options, Supervisor
from common.wellknown import NOT_READY_TAINT

# How long ``up`` waits for the API and every node to be Ready.
READY_TIMEOUT = 120.0


def default_data_dir() -> Path:
    return Path(os.environ.get("TINYKUBE_DATA_DIR", "~/.tinykube")).expanduser()


def read_state(data_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((data_dir / "state.json").read_text()))
    except (OSError, ValueError):
        return {}


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_up(args: argparse.Namespace, raw_argv: list[str]) -> int:
    data_dir = args.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    state = read_state(data_dir)
    if alive(state.get("supervisor")):
        print(f"error: tinykube is already running from {data_dir} (run `tinykube down` first)",
              file=sys.stderr)  # fmt: skip
        return 1
    (data_dir / "state.json").unlink(missing_ok=True)
    opts = Options(
        data_dir=data_dir, port=args.port, agents=args.agents,
        allow_privileged=args.allow_privileged, kubeconfig_mode=int(args.write_kubeconfig_mode, 8),
        appendfsync=args.appendfsync, agent_args=args.agent_arg or [],
        control_args=args.control_arg or [], tls=args.tls,
    )  # fmt: skip
    if args.supervise:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        return Supervisor(opts).run()
    argv = [sys.executable, "-m", "common.launcher", *raw_argv, "--supervise"]
    (data_dir / "logs").mkdir(exist_ok=True)
    with open(data_dir / "logs" / "supervisor.log", "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=args.detach,
        )  # fmt: skip
    try:
        wait_ready(data_dir, proc, args.agents)
    except (errors.ApiError, KeyboardInterrupt) as e:
        proc.terminate()
        proc.wait(30)
        print(f"error: the cluster did not come up: {e}", file=sys.stderr)
        print(f"see the logs in {data_dir / 'logs'}", file=sys.stderr)
        return 1
    kubeconfig = data_dir / "kubeconfig.yaml"
    print(f"tinykube is up: API at {read_state(data_dir)['server']}, {args.agents} node(s) Ready")
    hint = (
        f"for kubectl: export KUBECONFIG={kubeconfig}"
        if args.tls
        else "kubectl needs TLS (started with --no-tls): it sends tokens only over HTTPS"
    )
    print(f"kubeconfig: {kubeconfig}  (tkctl finds it; {hint})")
    if args.detach:
        print("stop it with: tinykube down" + _dir_flag(data_dir))
        return 0
    print("press Ctrl-C to stop")
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        return proc.wait()


def _dir_flag(data_dir: Path) -> str:
    return "" if data_dir == default_data_dir().resolve() else f" --data-dir {data_dir}"


def wait_ready(data_dir: Path, proc: subprocess.Popen[bytes], agents: int) -> None:
    nodes = lookup("nodes")
    assert nodes is not None
    deadline = time.monotonic() + READY_TIMEOUT
    client: ApiClient | None = None
    last = "the control plane is starting"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise errors.ServiceUnavailableError(
                f"the supervisor exited with code {proc.returncode}"
            )
        if client is None and "cluster" in read_state(data_dir):
            cfg = resolve(load_file(str(data_dir / "kubeconfig.yaml")))
            client = ApiClient(cfg.server, cfg.token, ca_file=cfg.ca_file)
        if client is not None:
            try:
                items = client.list(nodes)["items"]
                ready = [n for n in items if _ready(n)]
                if len(ready) >= agents:
                    return
                last = f"{len(ready)}/{agents} nodes Ready"
            except errors.ApiError as e:
                last = str(e)
        time.sleep(0.1)
    raise errors.ServerTimeoutError(f"timed out after {READY_TIMEOUT:.0f}s: {last}")


def _ready(node: dict[str, Any]) -> bool:
    """Ready, and no longer tainted not-ready (the taint a Node is created with goes once the
    node lifecycle controller has read the condition): pods can be scheduled to it."""
    conditions = (node.get("status") or {}).get("conditions") or []
    taints = (node.get("spec") or {}).get("taints") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions) and (
        not any(t.get("key") == NOT_READY_TAINT for t in taints)
    )


def cmd_down(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.expanduser().resolve()
    state = read_state(data_dir)
    if not state:
        print(f"tinykube is not running from {data_dir}")
        return 0
    pid = state.get("supervisor")
    if pid and alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    for child_pid in (state.get("processes") or {}).values():
        if alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)
    removed = remove_containers(state.get("cluster"), data_dir)
    (data_dir / "state.json").unlink(missing_ok=True)
    print(f"tinykube is down ({removed} container(s) removed)")
    return 0


def remove_containers(cluster: str | None, data_dir: Path | None = None) -> int:
    """Remove this cluster's containers (by its cluster label) through the agent's runtime, and
    the local agents' pod volumes: nothing stays mounted under their dirs."""
    if not cluster:
        return 0
    agents = sorted((data_dir / "agents").glob("*")) if data_dir is not None else []
    volumes = [arg for d in agents for arg in ("--root-dir", str(d))]
    out = subprocess.run(
        [sys.executable, "-m", "agent", "cleanup", "--cluster-id", cluster, *volumes],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        print(f"warning: could not remove the containers: {out.stderr.strip()}", file=sys.stderr)
        return 0
    for line in out.stderr.splitlines():  # what stayed mounted under an agent's dir
        if line.startswith("warning: "):
            print(line, file=sys.stderr)
    try:
        return int(out.stdout.strip().split()[-1])
    except (ValueError, IndexError):
        return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinykube", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a local cluster (Redis, control plane, agents)")
    up.add_argument("--data-dir", type=Path, default=default_data_dir())
    up.add_argument("--port", type=int, default=6443)
    up.add_argument("--agents", type=int, default=1)
    up.add_argument("--detach", action="store_true", help="return once all nodes are Ready")
    up.add_argument("--allow-privileged", action="store_true")
    up.add_argument("--write-kubeconfig-mode", default="0600")
    up.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve HTTPS with a CA of the cluster's own, as kube-apiserver does (default); "
        "--no-tls serves plain HTTP on loopback, which kubectl will not send its token over",
    )
    up.add_argument("--appendfsync", choices=["always", "everysec", "no"], default="everysec")
    up.add_argument("--agent-arg", action="append", help="extra flag for every agent")
    up.add_argument("--control-arg", action="append", help="extra flag for the control plane")
    up.add_argument("--supervise", action="store_true", help=argparse.SUPPRESS)
    down = sub.add_parser("down", help="stop the local cluster and remove its containers")
    down.add_argument("--data-dir", type=Path, default=default_data_dir())
    sub.add_parser("control", help="run the control plane (see `tinykube control --help`)",
                   add_help=False)  # fmt: skip
    sub.add_parser("agent", help="run a node agent (see `tinykube agent --help`)", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("control", "agent"):
        os.execv(sys.executable, [sys.executable, "-m", argv[0], *argv[1:]])
    args = build_parser().parse_args(argv)
    if args.command == "up":
        return cmd_up(args, argv)
    return cmd_down(args)


if __name__ == "__main__":
    sys.exit(main())
