"""Port-forward throughput: one payload (100 MiB by default) fetched from a pod through the real
``kubectl port-forward`` (SPDY tunnelled in a WebSocket), through ``tkctl port-forward``
(WebSocket channels) and straight from the pod IP, in the same run on the same cluster.

The pod builds its payload with busybox ``dd`` and serves it with busybox ``httpd``; each path
fetches it ``--rounds`` times and the best round counts (the machine's load only slows rounds
down). The direct fetch is the ceiling: both forwards add the API server and the agent on the way.
Usage: python bench/port_forward.py [--mib 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cluster import BIN, cluster
from common import errors
from common.client import ApiClient
from common.redis_server import free_port
from common.resources import must

ROOT = Path(__file__).resolve().parents[1]
KUBECTL_DIR = ROOT / ".tmp" / "kubectl"
PODS = must("pods")
POD = "payload"
PORT = 8080
CHUNK = 1 << 20


def payload_pod(mib: int) -> dict[str, object]:
    script = (
        f"mkdir -p /www && dd if=/dev/urandom of=/www/blob bs=1M count={mib} 2>/dev/null "
        f"&& exec httpd -f -p {PORT} -h /www"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD},
        "spec": {
            "containers": [
                {"name": "serve", "image": "tinykube/sleeper:1", "command": ["sh", "-c", script]}
            ]
        },
    }


def fetch(url: str) -> int:
    """Bytes read from ``url`` (the whole body, in 1 MiB reads)."""
    total = 0
    with urllib.request.urlopen(url, timeout=120) as resp:
        while chunk := resp.read(CHUNK):
            total += len(chunk)
    return total


def wait_until(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, errors.ApiError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


@contextmanager
def forwarding(command: list[str]) -> Iterator[int]:
    """Run ``kubectl``/``tkctl port-forward`` to a free local port until the block ends."""
    local = free_port()
    proc = subprocess.Popen(
        [*command, f"pod/{POD}", f"{local}:{PORT}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("Forwarding from"):
            raise SystemExit(
                f"{command[0]} port-forward: {line}{proc.stderr.read() if proc.stderr else ''}"
            )
        yield local
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def best(url: str, size: int, rounds: int) -> float:
    """The best throughput of ``rounds`` fetches, in MiB/s."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        got = fetch(url)
        times.append(time.perf_counter() - start)
        if got != size:
            raise SystemExit(f"{url}: {got} bytes, expected {size}")
    return size / (1 << 20) / min(times)


def kubectl_binary() -> Path:
    fetched = subprocess.run([str(ROOT / "scripts" / "get-kubectl.sh"), str(KUBECTL_DIR)],
                             env={**os.environ, "PYTHON": sys.executable},
                             capture_output=True, text=True, check=False)  # fmt: skip
    if fetched.returncode != 0:
        raise SystemExit(f"kubectl could not be fetched: {fetched.stderr[-500:]}")
    return KUBECTL_DIR / "kubectl"


def measure(api: ApiClient, kubeconfig: Path, kubectl: Path, mib: int, rounds: int) -> None:
    size = mib << 20
    api.create(PODS, payload_pod(mib), "default")
    ip = ""

    def serving() -> bool:
        nonlocal ip
        ip = str((api.get(PODS, POD, "default").get("status") or {}).get("podIP") or "")
        return bool(ip) and fetch(f"http://{ip}:{PORT}/blob") == size

    wait_until("the payload pod to serve its blob", serving)
    results = {"direct to the pod IP": best(f"http://{ip}:{PORT}/blob", size, rounds)}
    paths = {
        "kubectl port-forward": [str(kubectl), "--kubeconfig", str(kubeconfig), "port-forward"],
        "tkctl port-forward": [str(BIN / "tkctl"), "--kubeconfig", str(kubeconfig), "port-forward"],
    }
    for name, command in paths.items():
        with forwarding(command) as local:
            results[name] = best(f"http://127.0.0.1:{local}/blob", size, rounds)
    direct = results["direct to the pod IP"]
    print(f"{mib} MiB, best of {rounds}:")
    for name, rate in results.items():
        print(f"  {name:24} {rate:8.1f} MiB/s  ({rate / direct:5.1%} of direct)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kubectl = kubectl_binary()
    # kubectl sends its bearer token only over TLS.
    with cluster(1, "--tls") as (api, data):
        measure(api, data / "kubeconfig.yaml", kubectl, args.mib, args.rounds)


if __name__ == "__main__":
    main()
