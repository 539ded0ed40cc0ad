"""A throwaway embedded cluster for benchmarks: ``tinykube up --detach`` in a temporary directory
on a free port, an API client for it, and ``tinykube down`` at the end. ``bin_dir`` picks whose
``tinykube`` (another install, e.g. an earlier commit's), run from the data directory so that no
tree in the working directory shadows it; ``seed`` may write files there first."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from common.client import ApiClient
from common.kubeconfig import load_file, resolve
from common.redis_server import free_port

BIN = Path(sys.executable).parent


@contextmanager
def cluster(
    agents: int = 1,
    *extra: str,
    bin_dir: Path = BIN,
    seed: Callable[[Path], None] | None = None,
) -> Iterator[tuple[ApiClient, Path]]:
    with tempfile.TemporaryDirectory(prefix="tinykube-bench-") as tmp:
        data = Path(tmp)
        if seed is not None:
            seed(data)
        port = free_port()
        subprocess.run(
            [
                str(bin_dir / "tinykube"),
                "up",
                "--data-dir",
                str(data),
                "--port",
                str(port),
                "--agents",
                str(agents),
                "--detach",
                *extra,
            ],
            check=True,
            capture_output=True,
            cwd=data,
        )
        try:
            cfg = resolve(load_file(str(data / "kubeconfig.yaml")))
            yield ApiClient(cfg.server, cfg.token, ca_file=cfg.ca_file), data
        finally:
            subprocess.run(
                [str(bin_dir / "tinykube"), "down", "--data-dir", str(data)],
                check=False,
                capture_output=True,
                cwd=data,
            )
